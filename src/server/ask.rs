//! Server-to-client asks (the `interactive` feature): a tool's permission
//! ask or questions go to the session's client with an id of the server's
//! own namespace (`s<N>`), and the call waits for the reply in the
//! session's pending table, bounded by the ask timeout.

use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::session::Session;
use crate::bus::PermissionRequest;
use crate::context::{Asker, QuestionAnswer};
use crate::protocol::{
    InvalidMessage, PermissionAsk, PermissionReply, QuestionAsk, QuestionInfo, ServerMessage,
};

/// A reply to a server-originated ask.
pub(super) enum AskReply {
    Permission(PermissionReply),
    Question(QuestionAnswer),
}

/// Hands a client's reply to the call waiting for it, or refuses it.
pub(super) async fn answer_ask(session: &Session, id: String, reply: AskReply) {
    if !session.asks.complete(&id, reply) {
        session
            .refuse(InvalidMessage {
                id: id.clone(),
                kind: None,
                reason: format!("no pending ask with id {id:?} (already answered or timed out)"),
            })
            .await;
    }
}

/// Asks the session's client on behalf of one call.
pub(super) struct SessionAsker {
    pub(super) session: std::sync::Weak<Session>,
    pub(super) call_id: String,
}

impl SessionAsker {
    async fn ask(&self, make: impl FnOnce(String) -> ServerMessage) -> Option<AskReply> {
        let session = self.session.upgrade()?;
        let id = format!("s{}", session.next_ask.fetch_add(1, Ordering::Relaxed));
        // Removes the entry however the wait ends.
        let mut pending = session.asks.register(id.clone())?;
        session.send(&make(id)).await;
        let closing = session.closing.clone();
        let timeout = session.server.config.ask_timeout;
        tokio::select! {
            reply = tokio::time::timeout(timeout, pending.wait()) => reply.ok()?,
            () = closing.cancelled() => None,
        }
    }
}

#[async_trait]
impl Asker for SessionAsker {
    async fn ask_permission(
        &self,
        tool_call_id: &str,
        request: &PermissionRequest,
    ) -> Option<PermissionReply> {
        let reply = self
            .ask(|id| {
                ServerMessage::PermissionAsk(PermissionAsk {
                    id,
                    call_id: self.call_id.clone(),
                    permission: request.permission.clone(),
                    patterns: request.patterns.clone(),
                    always: request.always.clone(),
                    tool_call_id: tool_call_id.to_owned(),
                    metadata: request.metadata.clone(),
                })
            })
            .await?;
        match reply {
            AskReply::Permission(reply) => Some(reply),
            AskReply::Question(_) => Some(PermissionReply::Reject),
        }
    }

    async fn ask_questions(
        &self,
        tool_call_id: &str,
        questions: &[QuestionInfo],
    ) -> Option<QuestionAnswer> {
        let reply = self
            .ask(|id| {
                ServerMessage::QuestionAsk(QuestionAsk {
                    id,
                    call_id: self.call_id.clone(),
                    questions: questions.to_vec(),
                    tool_call_id: tool_call_id.to_owned(),
                })
            })
            .await?;
        match reply {
            AskReply::Question(answer) => Some(answer),
            AskReply::Permission(_) => Some(QuestionAnswer::Rejected),
        }
    }
}
