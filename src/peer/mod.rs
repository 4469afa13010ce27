//! The client's RPC layer over any frame transport: [`Peer`] owns request
//! ids, the pending table, timeouts and cancel-on-timeout, `hello` (with the
//! fallback to sol's core protocol), control round trips and interactive
//! asks. It knows nothing about sockets.
//!
//! One reader task routes every frame by `id` and runs the heartbeat; the
//! one frame writer of the current connection owns its send half. When the
//! connection is lost and the server granted `resume`, the reader reconnects
//! and the calls go on; otherwise (or when that fails) the reason is
//! recorded first, then every waiting caller fails with that same error at once.
//!
//! - `open`: connecting and `hello`.
//! - `config`: [`PeerConfig`].
//! - `link`: which connection frames go out on ([`Connector`]).
//! - `reader`, `reconnect`: reading, and resuming after a loss.
//! - `interactive`: [`InteractiveHandler`] and the ask tasks.
//! - `transfer`: uploads and downloads ([`Peer::upload`], [`Peer::download`]);
//!   `transferred`: their options, result and error.

mod config;
mod hooks;
mod interactive;
mod link;
mod open;
mod reader;
mod reconnect;
mod shared;
mod transfer;
mod transferred;

pub use crate::wire::heartbeat::{DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT};
pub use config::{EventCallback, PeerConfig, ProgressCallback};
pub use interactive::{InteractiveHandler, MAX_ASKS_PER_CALL};
pub use link::Connector;
pub use transferred::{TransferError, TransferOptions, TransferProgress, Transferred};

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;

use crate::error::CallError;
use crate::executor::{CallOptions, Outcome};
use crate::metrics::CallOutcome;
use crate::protocol::{
    Ack, ClientMessage, PermissionRule, ServerKind, ServerMessage, ToolInfo, ToolRequest,
    ToolResponse,
};
use crate::transport::Frame;
use shared::Shared;

/// A connection to a tool server: many calls in flight, correlated by id.
pub struct Peer {
    shared: Arc<Shared>,
    features: Vec<String>,
    _reader: AbortOnDropHandle<()>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("features", &self.features)
            .field("closed", &self.shared.closed.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// Features the server granted (empty for a core-only server).
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }

    /// Fails every pending and future call with `reason` and stops (used
    /// when the sandbox is known to be gone).
    pub fn abort(&self, reason: CallError) {
        self.shared.fail_all(reason);
    }

    /// When the connection is lost, wait up to
    /// [`PeerConfig::loss_explanation_wait`] for `explanation` to say why
    /// (a launcher's watcher reporting how the sandbox ended) and fail the
    /// pending calls with that instead of the bare loss. Set once.
    pub fn explain_loss_with(&self, explanation: watch::Receiver<Option<CallError>>) {
        let _ = self.shared.explanation.set(explanation);
    }

    /// Runs one call with the configured call timeout.
    ///
    /// # Errors
    /// As [`Peer::send_with`].
    pub async fn send(&self, request: ToolRequest) -> Result<ToolResponse, CallError> {
        self.send_with(request, CallOptions::default()).await
    }

    /// Runs one call within `options` (its timeout overrides
    /// [`PeerConfig::call_timeout`]; the server is given the same timeout).
    ///
    /// # Errors
    /// A [`CallError`] when there is no response: suspended, timed out,
    /// cancelled, or the connection was lost.
    pub async fn send_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        // A span per call, for a tracing (OpenTelemetry) subscriber; free
        // when none listens at this level.
        let span = tracing::info_span!(
            "toolwire.call",
            tool = %request.tool_name,
            tool_call_id = %request.tool_call_id,
            session = %request.session_id,
        );
        let Some(metrics) = &self.shared.config.metrics else {
            return self.call(request, options).instrument(span).await;
        };
        let tool = request.tool_name.clone();
        let started = std::time::Instant::now();
        let in_flight = metrics.call_started();
        let result = self.call(request, options).instrument(span).await;
        drop(in_flight);
        metrics.call_ended(&tool, metric_label(&result), started.elapsed());
        result
    }

    async fn call(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        let timeout = options.timeout.or(self.shared.config.call_timeout);
        let timeout_ms = timeout
            .filter(|_| !self.features.is_empty())
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        // The call's own asker and progress sink serve it while it runs; the
        // guard forgets them however the call ends (also when this future is
        // dropped).
        let mut hooks_guard = None;
        let hooks = hooks::CallHooks {
            asker: options.asker,
            progress: options.progress,
        };
        let shared = &self.shared;
        let reply = self
            .shared
            .round_trip(
                |id| {
                    if let Ok(call) = id.parse::<u64>() {
                        hooks_guard = hooks::Registered::register(shared, call, hooks);
                    }
                    ClientMessage::Request {
                        id,
                        request,
                        timeout_ms,
                    }
                },
                timeout,
                options.cancel.as_ref(),
            )
            .await;
        drop(hooks_guard);
        let reply = reply?;
        match reply {
            ServerMessage::Response(frame) => {
                let response = Outcome::from_frame(frame)?.into_result()?;
                let limit = self.shared.config.max_output_bytes;
                if response.output.len() > limit {
                    return Err(CallError::Protocol(format!(
                        "the tool's output of {} bytes is over this client's limit of {limit} bytes (PeerConfig::max_output_bytes)",
                        response.output.len()
                    )));
                }
                Ok(response)
            }
            other => Err(unexpected("a response", &other)),
        }
    }

    /// Fetches the active tools.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    pub async fn fetch_tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        let reply = self
            .shared
            .round_trip(
                |id| ClientMessage::Tools { id },
                Some(self.shared.config.control_timeout),
                None,
            )
            .await?;
        match reply {
            ServerMessage::Tools { tools, .. } => {
                let limit = self.shared.config.max_tools;
                if tools.len() > limit {
                    return Err(CallError::Protocol(format!(
                        "the tool server listed {} tools, over this client's limit of {limit} (PeerConfig::max_tools)",
                        tools.len()
                    )));
                }
                Ok(tools)
            }
            ServerMessage::Response(frame) if !frame.error.is_empty() => {
                Err(CallError::Refused(frame.error))
            }
            other => Err(unexpected("a tools list", &other)),
        }
    }

    /// Replaces the server's permission rules; returns once acknowledged.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    pub async fn set_rules(&self, rules: Vec<PermissionRule>) -> Result<(), CallError> {
        self.control(|id| ClientMessage::SetRules { id, rules })
            .await
    }

    /// Restricts which tools the server lists and accepts; returns once acknowledged.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    pub async fn set_active_tools(&self, tools: Vec<String>) -> Result<(), CallError> {
        self.control(|id| ClientMessage::SetActiveTools {
            id,
            active_tools: tools,
        })
        .await
    }

    /// Queues one batch of answers for the next question; returns once acknowledged.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    pub async fn push_answers(&self, answers: Vec<Vec<String>>) -> Result<(), CallError> {
        self.control(|id| ClientMessage::PushAnswers { id, answers })
            .await
    }

    async fn control(&self, make: impl FnOnce(String) -> ClientMessage) -> Result<(), CallError> {
        let reply = self
            .shared
            .round_trip(make, Some(self.shared.config.control_timeout), None)
            .await?;
        let ack = match reply {
            ServerMessage::SetRules(ack)
            | ServerMessage::SetActiveTools(ack)
            | ServerMessage::PushAnswers(ack) => ack,
            ServerMessage::Response(frame) => Ack {
                id: frame.id,
                error: frame.error,
            },
            other => return Err(unexpected("an ack", &other)),
        };
        if ack.error.is_empty() {
            Ok(())
        } else {
            Err(CallError::Refused(ack.error))
        }
    }

    /// Closes the connection (a close frame, then the send half) and waits
    /// for the writer and the ask tasks; pending calls fail with
    /// [`CallError::Closed`].
    pub async fn close(&self) {
        let already = self.shared.closed.is_cancelled();
        self.shared.fail_all(CallError::Closed);
        let close = (!already).then_some(Frame::Close(None));
        if let Some(writer) = self.shared.link.writer() {
            writer.finish(close).await;
        }
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

/// How a call ended, as the metrics label it.
fn metric_label(result: &Result<ToolResponse, CallError>) -> CallOutcome {
    match result {
        Ok(r) if r.denied => CallOutcome::Denied,
        Ok(r) if r.is_error => CallOutcome::Error,
        Ok(_) => CallOutcome::Ok,
        Err(error) => error.outcome(),
    }
}

impl Drop for Peer {
    /// Only signals: a close frame goes out if the socket takes it at once
    /// (so a server does not keep the session for a resume), pending calls
    /// fail with [`CallError::Closed`], the reader is aborted, the writer
    /// and ask tasks end on their own.
    fn drop(&mut self) {
        if !self.shared.closed.is_cancelled()
            && let Some(writer) = self.shared.link.writer()
        {
            writer.close_now();
        }
        self.shared.fail_all(CallError::Closed);
    }
}

/// The error for a reply of the wrong kind: names the kind, never quotes the frame.
fn unexpected(wanted: &str, got: &ServerMessage) -> CallError {
    CallError::Protocol(format!(
        "expected {wanted}, got a {} frame",
        ServerKind::from(got).as_str()
    ))
}
