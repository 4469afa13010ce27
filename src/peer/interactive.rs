//! Interactive asks: a server asks this client for a permission decision or
//! answers on behalf of a running call. Each ask is answered in a task the
//! peer tracks; at most [`PeerConfig::max_concurrent_asks`](super::PeerConfig)
//! run at once, the rest are rejected at once.

use std::sync::Arc;

use async_trait::async_trait;

use super::shared::Shared;
use crate::context::QuestionAnswer;
use crate::protocol::{ClientMessage, PermissionAsk, PermissionReply, QuestionAsk};
use crate::wire::Contention;

/// Answers a server's interactive permission and question asks.
#[async_trait]
pub trait InteractiveHandler: Send + Sync {
    /// Decides a permission ask.
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply;
    /// Answers questions.
    async fn questions(&self, ask: QuestionAsk) -> QuestionAnswer;
}

/// An ask from the server.
pub(super) enum Ask {
    Permission(PermissionAsk),
    Question(QuestionAsk),
}

impl Ask {
    fn id(&self) -> &str {
        match self {
            Self::Permission(ask) => &ask.id,
            Self::Question(ask) => &ask.id,
        }
    }

    /// The refusal of an ask nobody will answer.
    fn refusal(&self) -> ClientMessage {
        let id = self.id().to_owned();
        match self {
            Self::Permission(_) => ClientMessage::PermissionReply {
                id,
                reply: PermissionReply::Reject,
            },
            Self::Question(_) => ClientMessage::QuestionReply {
                id,
                answers: Vec::new(),
                reject: true,
            },
        }
    }
}

/// Answers `ask` in a tracked task (the handler may take long); the task
/// ends with the connection. Over the limit, the ask is rejected at once.
pub(super) fn answer(shared: &Arc<Shared>, ask: Ask) {
    let Some(handler) = shared.config.interactive.clone() else {
        return;
    };
    let Ok(permit) = shared.ask_slots.clone().try_acquire_owned() else {
        tracing::warn!(id = ask.id(), "too many asks at once: rejected");
        shared.send_best_effort(&ask.refusal());
        return;
    };
    let task_shared = shared.clone();
    shared.tasks.spawn(async move {
        let _permit = permit;
        let reply = async {
            match ask {
                Ask::Permission(ask) => {
                    let id = ask.id.clone();
                    let permission = ask.permission.clone();
                    let reply = handler.permission(ask).await;
                    if let Some(metrics) = &task_shared.config.metrics {
                        metrics.permission_replied(&permission, reply.as_str());
                    }
                    ClientMessage::PermissionReply { id, reply }
                }
                Ask::Question(ask) => {
                    let id = ask.id.clone();
                    match handler.questions(ask).await {
                        QuestionAnswer::Answers(answers) => ClientMessage::QuestionReply {
                            id,
                            answers,
                            reject: false,
                        },
                        QuestionAnswer::Rejected => ClientMessage::QuestionReply {
                            id,
                            answers: Vec::new(),
                            reject: true,
                        },
                    }
                }
            }
        };
        tokio::select! {
            reply = reply => { let _ = task_shared.send(&reply, Contention::Shared).await; }
            () = task_shared.closed.cancelled() => {}
        }
    });
}
