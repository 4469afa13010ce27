//! One request's path through a session: refusal (shutting down, not
//! admitted, busy, duplicate id), the call run within the shared call
//! policy (`executor::stop`), its events and its one final answer. Also the
//! session's table of running calls by request id.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tracing::Instrument;

use super::Inner;
use super::ask::SessionAsker;
use super::forward::SessionProgress;
use super::session::Session;
use crate::context::CallContext;
use crate::executor::stop::{CallStop, Ended, StopReason, run_bounded};
use crate::executor::{Admitted, LocalExecutor, Outcome};
use crate::metrics::CallOutcome;
use crate::protocol::{BusEvent, ResponseFrame, ServerMessage, ToolRequest};

/// The session's running calls by request id, with their count kept beside
/// them: `DashMap::len` locks every shard, and the count is read on every call.
#[derive(Default)]
pub(super) struct CallTable {
    calls: DashMap<String, Arc<CallStop>>,
    count: AtomicUsize,
}

impl CallTable {
    /// How many calls are running.
    pub(super) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Registers a call; `false` when a call with this id is still running.
    pub(super) fn insert_new(&self, id: &str, stop: Arc<CallStop>) -> bool {
        match self.calls.entry(id.to_owned()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(stop);
                self.count.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    /// Whether a call with this id is running.
    pub(super) fn contains(&self, id: &str) -> bool {
        self.calls.contains_key(id)
    }

    /// Forgets a finished call, freeing its id.
    pub(super) fn remove(&self, id: &str) {
        if self.calls.remove(id).is_some() {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Stops the call with this id, if it is running.
    pub(super) fn stop(&self, id: &str, reason: StopReason) {
        if let Some(call) = self.calls.get(id) {
            call.stop(reason);
        }
    }

    /// Stops every running call.
    pub(super) fn stop_all(&self, reason: StopReason) {
        for call in &self.calls {
            call.stop(reason);
        }
    }
}

/// Registers a call (or a transfer) under the request id `id`: refused
/// with an answer when the connection has its limit of calls in flight or
/// a call with this id still runs. Returns the call's stop handle.
pub(super) async fn register(session: &Session, id: &str) -> Option<Arc<CallStop>> {
    let server = &session.server;
    let refusal = if session.calls.len() >= server.config.max_in_flight {
        format!(
            "busy: {} calls are already in flight on this connection (limit {})",
            session.calls.len(),
            server.config.max_in_flight
        )
    } else {
        let stop = Arc::new(CallStop::child_of(&session.closing));
        if session.calls.insert_new(id, stop.clone()) {
            return Some(stop);
        }
        format!("duplicate request id {id:?}: a call with this id is still running")
    };
    server.metrics().call_refused();
    session
        .send(&ServerMessage::Response(ResponseFrame::error(id, refusal)))
        .await;
    None
}

/// The context of a call (or a transfer) of `session` with request id
/// `id`: the session's asker and progress sink when the client has those
/// features.
pub(super) fn call_context(
    session: &Arc<Session>,
    id: &str,
    stop: &CallStop,
    tool_call_id: &str,
    session_id: &str,
) -> CallContext {
    let server = &session.server;
    let features = session.features();
    let mut ctx = CallContext::new(
        server.executor.workdir().to_path_buf(),
        server.executor.shared().clone(),
    )
    .for_call(tool_call_id, session_id)
    .with_cancel(stop.cancel.clone());
    if features.interactive {
        ctx = ctx.with_asker(Arc::new(SessionAsker {
            session: Arc::downgrade(session),
            call_id: id.to_owned(),
        }));
    }
    if features.progress {
        ctx = ctx.with_progress(Arc::new(SessionProgress {
            session: Arc::downgrade(session),
            id: id.to_owned(),
        }));
    }
    ctx
}

/// Admits a request or answers its refusal; runs an admitted one.
pub(super) async fn start_call(
    session: &Arc<Session>,
    id: String,
    request: ToolRequest,
    timeout_ms: Option<u64>,
) {
    let server = &session.server;
    let admitted = if server.shutting_down.is_cancelled() {
        Err("the tool server is shutting down".to_owned())
    } else {
        server.executor.admit(&request.tool_name)
    };
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(error) => {
            server.metrics().call_refused();
            return session
                .send(&ServerMessage::Response(ResponseFrame::error(id, error)))
                .await;
        }
    };
    let Some(stop) = register(session, &id).await else {
        return;
    };
    let timeout = timeout_ms.map_or(server.config.call_timeout, Duration::from_millis);
    let span = tracing::debug_span!("call", id = %id, tool = %request.tool_name, tool_call_id = %request.tool_call_id);
    let mut call =
        Box::pin(run_call(session.clone(), id, admitted, request, timeout, stop).instrument(span));
    // The call's first poll happens here, in the reader. Most calls (echo,
    // read, edit, a denied command) finish on it, and a task of their own
    // would cost an aligned allocation, two copies of the whole call state
    // and a scheduling round (callgrind: about a fifth of the server's
    // instructions per echo call). A call that waits gets its own task.
    if futures::poll!(call.as_mut()).is_pending() {
        session.tasks.spawn(call);
    }
}

async fn run_call(
    session: Arc<Session>,
    id: String,
    admitted: Admitted,
    request: ToolRequest,
    timeout: Duration,
    stop: Arc<CallStop>,
) {
    let server = session.server.clone();
    let ctx = call_context(
        &session,
        &id,
        &stop,
        &request.tool_call_id,
        &request.session_id,
    );

    let outcome = match execute(&server, admitted, request, ctx, &stop, timeout).await {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Error(reason.message()),
    };
    session.answer(outcome.into_frame(id)).await;
}

/// Runs an admitted call with `ctx` under the server's call policy
/// (`timeout`, `stop`, the executor's cancel grace), counting it in the
/// metrics and publishing `tool.completed`: the one path every face's
/// calls take (a WebSocket session's, [`ToolServer::call`](super::ToolServer::call)'s).
/// `Err` is why the call was stopped.
pub(super) async fn execute(
    server: &Inner,
    admitted: Admitted,
    request: ToolRequest,
    ctx: CallContext,
    stop: &CallStop,
    timeout: Duration,
) -> Result<Outcome, StopReason> {
    let started = Instant::now();
    let _in_flight = server.metrics().call_started();
    let shared = server.executor.shared();
    // Kept for the `tool.completed` event only when somebody listens.
    let names = shared
        .bus
        .has_subscribers()
        .then(|| (request.tool_call_id.clone(), request.tool_name.clone()));
    let tool = admitted.clone();
    let call = LocalExecutor::run_admitted(admitted, request, ctx);
    let grace = server.executor.cancel_grace();
    let (result, label) = match run_bounded(call, stop, Some(timeout), grace).await {
        Ended::Done(outcome) => {
            let label = outcome.metric_label();
            (Ok(outcome), label)
        }
        Ended::Stopped(reason) => {
            let label = match reason {
                StopReason::TimedOut(_) => CallOutcome::TimedOut,
                _ => CallOutcome::Cancelled,
            };
            (Err(reason), label)
        }
    };
    server
        .metrics()
        .call_ended(tool.tool_name(), label, started.elapsed());
    let outcome_label = result.as_ref().map_or("error", Outcome::label);
    if let Some((tool_call_id, tool_name)) = names {
        shared.bus.publish_with(|| BusEvent::ToolCompleted {
            tool_call_id,
            tool: tool_name,
            outcome: outcome_label.to_owned(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    tracing::debug!(
        outcome = outcome_label,
        elapsed_ms = started.elapsed().as_millis(),
        "call finished"
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn the_count_follows_inserts_and_removes() {
        let table = CallTable::default();
        let parent = CancellationToken::new();
        assert!(table.insert_new("1", Arc::new(CallStop::child_of(&parent))));
        assert!(table.insert_new("2", Arc::new(CallStop::child_of(&parent))));
        assert!(!table.insert_new("1", Arc::new(CallStop::child_of(&parent))));
        assert_eq!(table.len(), 2);
        table.remove("1");
        table.remove("1");
        assert_eq!(table.len(), 1);
    }
}
