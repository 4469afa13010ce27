//! Frame → action: each client message is answered here or handed on (a
//! request to `call`, a reply to `ask`, `hello` to the feature switches).
//! Extensions exist only for clients that said hello.

use std::sync::Arc;

use super::ask::{AskReply, answer_ask};
use super::call::start_call;
use super::forward::forward_events;
use super::session::{Features, Session};
use crate::context::QuestionAnswer;
use crate::executor::stop::StopReason;
use crate::protocol::{
    Ack, ClientMessage, InvalidMessage, PROTOCOL_VERSION, ServerMessage, feature,
    parse_client_message,
};

/// Parses one text frame and acts on it.
pub(super) async fn dispatch(session: &Arc<Session>, text: &str) {
    let message = match parse_client_message(text) {
        Ok(message) => message,
        Err(invalid) => return session.refuse(invalid).await,
    };
    let features = session.features();
    let server = &session.server;
    match message {
        ClientMessage::Tools { id } => {
            let tools = server.executor.tool_infos();
            session.send(&ServerMessage::Tools { id, tools }).await;
        }
        ClientMessage::Request {
            id,
            request,
            timeout_ms,
        } => start_call(session, id, request, timeout_ms).await,
        ClientMessage::SetRules { id, rules } => {
            server.executor.shared().permissions.set_rules(rules);
            session.send(&ServerMessage::SetRules(ack(id))).await;
        }
        ClientMessage::SetActiveTools { id, active_tools } => {
            server.executor.set_active_tools(active_tools);
            session.send(&ServerMessage::SetActiveTools(ack(id))).await;
        }
        ClientMessage::PushAnswers { id, answers } => {
            server.executor.shared().questions.push_answers(answers);
            session.send(&ServerMessage::PushAnswers(ack(id))).await;
        }
        ClientMessage::Hello { id, features, .. } => hello(session, id, &features).await,
        ClientMessage::Cancel { id, .. } if !features.cancel => {
            refuse_extension(session, id, "cancel").await;
        }
        ClientMessage::PermissionReply { id, .. } if !features.hello => {
            refuse_extension(session, id, "permission_reply").await;
        }
        ClientMessage::QuestionReply { id, .. } if !features.hello => {
            refuse_extension(session, id, "question_reply").await;
        }
        ClientMessage::Cancel { id, target } => {
            session.calls.stop(&target, StopReason::Cancelled);
            session.send(&ServerMessage::Cancel(ack(id))).await;
        }
        ClientMessage::PermissionReply { id, reply } => {
            answer_ask(session, id, AskReply::Permission(reply)).await;
        }
        ClientMessage::QuestionReply {
            id,
            answers,
            reject,
        } => {
            let answer = if reject {
                QuestionAnswer::Rejected
            } else {
                QuestionAnswer::Answers(answers)
            };
            answer_ask(session, id, AskReply::Question(answer)).await;
        }
    }
}

/// To a client that never said hello the server answers an extension
/// exactly as sol's does to a type it does not know.
async fn refuse_extension(session: &Session, id: String, kind: &str) {
    session
        .refuse(InvalidMessage {
            id,
            kind: None,
            reason: format!("unknown message type: {kind}"),
        })
        .await;
}

fn ack(id: String) -> Ack {
    Ack {
        id,
        error: String::new(),
    }
}

async fn hello(session: &Arc<Session>, id: String, wanted: &[String]) {
    let wants = |name: &str| wanted.iter().any(|w| w == name);
    let granted = Features {
        hello: true,
        cancel: wants(feature::CANCEL),
        progress: wants(feature::PROGRESS),
        interactive: wants(feature::INTERACTIVE),
        events: wants(feature::EVENTS),
    };
    let previous = std::mem::replace(
        &mut *session
            .features
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        granted,
    );
    let features: Vec<String> = feature::ALL
        .iter()
        .filter(|f| wants(f))
        .map(|f| (*f).to_owned())
        .collect();
    session
        .send(&ServerMessage::Hello {
            id,
            version: PROTOCOL_VERSION,
            features,
        })
        .await;
    if granted.events && !previous.events {
        forward_events(session);
    }
}
