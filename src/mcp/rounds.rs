//! Driving one MCP tool call to its end while it may ask a person.
//!
//! A call runs as a future owned by the request that drives it. When the
//! call asks (a permission or a `question`, see `elicit`), the form reaches
//! the person in one of two ways, by the client's protocol version:
//!
//! - **In the session** (protocol versions before 2026-07-28, the client
//!   declared `elicitation` at initialization): the server sends
//!   `elicitation/create` and waits for the reply, the call still in the
//!   same `tools/call`.
//! - **In rounds** (2026-07-28 and later, where servers send no requests of
//!   their own: SEP-2322 multi round-trip requests): the `tools/call`
//!   returns `input_required` with the form and an opaque `requestState`;
//!   the suspended call waits in [`Suspended`] until the client retries the
//!   call with the person's answer and that state, and the retry drives it
//!   on. A suspension nobody resumes is dropped (and its call stopped)
//!   after [`SUSPENDED_FOR`]; at most [`MAX_SUSPENDED`] wait at once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolResponse, InputRequiredResult, InputResponses};
use rmcp::service::{Peer, RequestContext, RoleServer};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::elicit::{Form, accepted};
use crate::error::CallError;
use crate::protocol::ToolResponse;

/// How long a call suspended for a person's answer waits for the retry.
pub const SUSPENDED_FOR: Duration = Duration::from_secs(600);

/// Calls suspended at once, at most; a further ask is refused.
pub const MAX_SUSPENDED: usize = 256;

/// The key of the one form in an `input_required` result.
const FORM_KEY: &str = "ask";

/// A call's end, as the executor gives it.
type CallResult = Result<ToolResponse, CallError>;

/// Where the answer to one form goes (`None`: declined, cancelled, failed).
type FormReply = oneshot::Sender<Option<Map<String, Value>>>;

/// A tool call in progress, with the forms it asks.
pub(super) struct RunningCall {
    pub(super) call: Pin<Box<dyn Future<Output = CallResult> + Send>>,
    pub(super) forms: mpsc::Receiver<Form>,
    /// Stops the call (the driving request was cancelled).
    pub(super) cancel: CancellationToken,
}

/// A call waiting for the answer to `form`.
struct Waiting {
    running: RunningCall,
    reply: FormReply,
    since: Instant,
}

/// The calls suspended for a person's answer, shared by every MCP session
/// of one server (a retry may arrive in another).
#[derive(Default)]
pub(super) struct Suspended {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl Suspended {
    /// Keeps `running` under the opaque `state` until the retry that
    /// answers its form; gives it back when too many wait already.
    fn suspend(
        &self,
        state: String,
        running: RunningCall,
        reply: FormReply,
    ) -> Result<(), (RunningCall, FormReply)> {
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        waiting.retain(|_, w| w.since.elapsed() < SUSPENDED_FOR);
        if waiting.len() >= MAX_SUSPENDED {
            return Err((running, reply));
        }
        waiting.insert(
            state,
            Waiting {
                running,
                reply,
                since: Instant::now(),
            },
        );
        Ok(())
    }

    /// The call suspended under `state`, its form answered by `responses`.
    pub(super) fn resume(
        &self,
        state: &str,
        responses: Option<&InputResponses>,
    ) -> Option<RunningCall> {
        let found = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(state)?;
        let answer = responses.and_then(|r| r.get(FORM_KEY)).and_then(accepted);
        let _ = found.reply.send(answer);
        Some(found.running)
    }
}

/// Where the forms of calls driven by one request go.
pub(super) enum FormRoute {
    /// `elicitation/create` to this peer, in the same request.
    Session(Peer<RoleServer>),
    /// `input_required` results and retries.
    Rounds(Arc<Suspended>),
}

impl FormRoute {
    /// The route for the client behind `context`, if it can show a form.
    pub(super) fn for_request(
        context: &RequestContext<RoleServer>,
        suspended: &Arc<Suspended>,
    ) -> Option<Self> {
        let can_elicit = context
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        if !can_elicit {
            return None;
        }
        // Only clients of 2026-07-28 or later carry the protocol version in
        // every request's `_meta`; they take no requests from the server.
        Some(if context.meta.protocol_version().is_some() {
            Self::Rounds(suspended.clone())
        } else {
            Self::Session(context.peer.clone())
        })
    }
}

/// The end of one driving request: the call's result, or a suspension.
pub(super) enum Driven {
    Done(CallResult),
    InputRequired(CallToolResponse),
}

/// Drives `running` until it ends or (in rounds) asks; `stop` is the driving
/// request's cancellation.
pub(super) async fn drive(
    mut running: RunningCall,
    route: Option<&FormRoute>,
    stop: &CancellationToken,
) -> Driven {
    loop {
        tokio::select! {
            result = &mut running.call => return Driven::Done(result),
            () = stop.cancelled(), if !running.cancel.is_cancelled() => running.cancel.cancel(),
            Some(form) = running.forms.recv() => match route {
                None => {
                    let _ = form.reply.send(None);
                }
                Some(FormRoute::Session(peer)) => {
                    let answer = elicit_in_session(peer, form.params).await;
                    let _ = form.reply.send(answer);
                }
                Some(FormRoute::Rounds(suspended)) => {
                    let state = uuid::Uuid::new_v4().simple().to_string();
                    let Some(result) = input_required(form.params, &state) else {
                        let _ = form.reply.send(None);
                        continue;
                    };
                    match suspended.suspend(state, running, form.reply) {
                        Ok(()) => return Driven::InputRequired(result),
                        Err((back, reply)) => {
                            tracing::warn!(
                                "{MAX_SUSPENDED} MCP calls wait for a person already; an ask is refused"
                            );
                            let _ = reply.send(None);
                            running = back;
                        }
                    }
                }
            },
        }
    }
}

/// Sends one `elicitation/create` and waits for the person.
async fn elicit_in_session(peer: &Peer<RoleServer>, params: Value) -> Option<Map<String, Value>> {
    let params = serde_json::from_value(params)
        .map_err(|e| tracing::warn!("an elicitation form could not be built: {e}"))
        .ok()?;
    let result = peer
        .create_elicitation(params)
        .await
        .map_err(|e| tracing::debug!("elicitation failed: {e}"))
        .ok()?;
    accepted(&serde_json::to_value(result).ok()?)
}

/// The `input_required` result carrying `form` under `state`.
fn input_required(form: Value, state: &str) -> Option<CallToolResponse> {
    let result: InputRequiredResult = serde_json::from_value(json!({
        "resultType": "input_required",
        "inputRequests": { FORM_KEY: { "method": "elicitation/create", "params": form } },
        "requestState": state,
    }))
    .map_err(|e| tracing::warn!("an input_required result could not be built: {e}"))
    .ok()?;
    Some(CallToolResponse::InputRequired(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> RunningCall {
        let (_forms, receiver) = mpsc::channel(1);
        RunningCall {
            call: Box::pin(std::future::pending()),
            forms: receiver,
            cancel: CancellationToken::new(),
        }
    }

    #[tokio::test]
    async fn a_retry_delivers_the_answer_once_and_the_table_is_bounded() {
        let suspended = Suspended::default();
        let (reply, answer) = oneshot::channel();
        assert!(suspended.suspend("s1".into(), running(), reply).is_ok());
        let responses: InputResponses = [(
            FORM_KEY.to_owned(),
            json!({"action": "accept", "content": {"reply": "once"}}),
        )]
        .into();
        assert!(suspended.resume("s1", Some(&responses)).is_some());
        assert_eq!(
            answer.await.expect("an answer"),
            json!({"reply": "once"}).as_object().cloned()
        );
        assert!(suspended.resume("s1", Some(&responses)).is_none(), "twice");
        assert!(suspended.resume("unknown", None).is_none());

        for n in 0..MAX_SUSPENDED {
            let (reply, _) = oneshot::channel();
            assert!(suspended.suspend(format!("f{n}"), running(), reply).is_ok());
        }
        let (reply, _) = oneshot::channel();
        assert!(suspended.suspend("over".into(), running(), reply).is_err());
    }

    #[tokio::test]
    async fn a_declined_form_is_no_answer() {
        let suspended = Suspended::default();
        let (reply, answer) = oneshot::channel();
        assert!(suspended.suspend("s".into(), running(), reply).is_ok());
        let responses: InputResponses =
            [(FORM_KEY.to_owned(), json!({"action": "decline"}))].into();
        assert!(suspended.resume("s", Some(&responses)).is_some());
        assert_eq!(answer.await.expect("a reply"), None);
    }
}
