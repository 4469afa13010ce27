//! Interactive asks: a server asks this client for a permission decision or
//! answers on behalf of a running call. Each ask is answered in a task the
//! peer tracks; at most [`PeerConfig::max_concurrent_asks`](super::PeerConfig)
//! run at once, at most [`MAX_ASKS_PER_CALL`] for one call, and only for a
//! call this client is waiting on; the rest are rejected at once (a hostile
//! server cannot make the handler run for calls that do not exist).

use std::sync::Arc;

use async_trait::async_trait;

use super::shared::Shared;
use crate::bus::PermissionRequest;
use crate::context::{Asker, QuestionAnswer};
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

/// Asks answered at once for one call at most.
pub const MAX_ASKS_PER_CALL: usize = 4;

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

    /// The request the ask belongs to, as this client numbered it.
    fn call(&self) -> Option<u64> {
        match self {
            Self::Permission(ask) => ask.call_id.parse().ok(),
            Self::Question(ask) => ask.call_id.parse().ok(),
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
    let call_asker = ask
        .call()
        .and_then(|call| super::hooks::of(shared, call))
        .and_then(|hooks| hooks.asker);
    let handler = match (call_asker, shared.config.interactive.clone()) {
        (Some(asker), _) => Handler::Call(asker),
        (None, Some(handler)) => Handler::Config(handler),
        (None, None) => return,
    };
    let Some(call) = ask.call().filter(|call| shared.pending.contains(call)) else {
        tracing::warn!(id = ask.id(), "an ask for no call in flight: rejected");
        shared.send_best_effort(&ask.refusal());
        return;
    };
    let Some(call_slot) = CallSlot::take(shared, call) else {
        tracing::warn!(id = ask.id(), call, "too many asks for one call: rejected");
        shared.send_best_effort(&ask.refusal());
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
        let _call_slot = call_slot;
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
            reply = reply => { let _ = task_shared.send(&reply, Contention::Shared, None).await; }
            () = task_shared.closed.cancelled() => {}
        }
    });
}

/// Who answers an ask: the call's own asker, or the peer's handler.
enum Handler {
    Call(Arc<dyn Asker>),
    Config(Arc<dyn InteractiveHandler>),
}

impl Handler {
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply {
        match self {
            Self::Config(handler) => handler.permission(ask).await,
            Self::Call(asker) => {
                let request = PermissionRequest {
                    permission: ask.permission,
                    patterns: ask.patterns,
                    always: ask.always,
                    metadata: ask.metadata,
                    ..PermissionRequest::default()
                };
                asker
                    .ask_permission(&ask.tool_call_id, &request)
                    .await
                    .unwrap_or(PermissionReply::Reject)
            }
        }
    }

    async fn questions(&self, ask: QuestionAsk) -> QuestionAnswer {
        match self {
            Self::Config(handler) => handler.questions(ask).await,
            Self::Call(asker) => asker
                .ask_questions(&ask.tool_call_id, &ask.questions)
                .await
                .unwrap_or(QuestionAnswer::Rejected),
        }
    }
}

/// One of a call's [`MAX_ASKS_PER_CALL`] places, freed when dropped.
struct CallSlot {
    shared: Arc<Shared>,
    call: u64,
}

impl CallSlot {
    fn take(shared: &Arc<Shared>, call: u64) -> Option<Self> {
        let mut asks = shared
            .asks_by_call
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = asks.entry(call).or_default();
        if *count >= MAX_ASKS_PER_CALL {
            return None;
        }
        *count += 1;
        Some(Self {
            shared: shared.clone(),
            call,
        })
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let mut asks = self
            .shared
            .asks_by_call
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = asks.get_mut(&self.call) {
            *count -= 1;
            if *count == 0 {
                asks.remove(&self.call);
            }
        }
    }
}
