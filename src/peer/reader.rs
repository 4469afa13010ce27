//! The peer's reader task: routes every frame from the server by `id` (or
//! to the progress, event and ask handlers) until the connection ends, and
//! runs the connection's heartbeat. With `resume` it reconnects
//! (`reconnect`) and reads the next connection.

use std::sync::Arc;

use futures::StreamExt;

use super::interactive::{self, Ask};
use super::shared::Shared;
use crate::error::CallError;
use crate::metrics::ClientMetrics;
use crate::protocol::{ServerMessage, parse_server_message};
use crate::transport::{Frame, FrameStream};
use crate::wire::heartbeat;

/// The reader task: routes every frame until the connection ends; then,
/// if the session can be resumed, reconnects and reads on; otherwise fails
/// every waiter with the reason (explained, when a launcher can).
pub(super) async fn read(shared: Arc<Shared>, mut stream: FrameStream) {
    let open = shared
        .config
        .metrics
        .as_ref()
        .map(ClientMetrics::connection_opened);
    let verdict = loop {
        let lost = read_connection(&shared, &mut stream).await;
        tracing::debug!(reason = %lost.reason, "connection to the tool server ended");
        if shared.closed.is_cancelled() {
            break shared.reason();
        }
        if let Some(metrics) = &shared.config.metrics {
            metrics.connections_lost.inc();
        }
        if shared.resumable() && !lost.closed_by_server {
            shared.link.cut();
            match super::reconnect::resume(&shared, &lost.reason).await {
                Ok(next) => {
                    if let Some(metrics) = &shared.config.metrics {
                        metrics.reconnects.inc();
                    }
                    stream = next;
                    continue;
                }
                Err(verdict) => break verdict,
            }
        }
        let verdict = CallError::ConnectionLost {
            reason: lost.reason,
        };
        // A silent server is not an ended one: nothing will explain it.
        break if lost.silent {
            verdict
        } else {
            explain(&shared, verdict).await
        };
    };
    // Counted closed before any waiter learns of it.
    drop(open);
    shared.fail_all(verdict);
}

/// How one connection ended.
struct Lost {
    reason: String,
    /// The server closed it on purpose (a close frame): not resumed.
    closed_by_server: bool,
    /// The heartbeat found the server silent.
    silent: bool,
}

/// Reads one connection until it ends, with its heartbeat: a silent
/// server loses the connection.
async fn read_connection(shared: &Arc<Shared>, stream: &mut FrameStream) -> Lost {
    let config = &shared.config;
    let writer = shared.link.writer();
    let beat = async {
        match writer {
            Some(writer) if !config.heartbeat_interval.is_zero() => {
                heartbeat::beat(
                    &shared.liveness,
                    &writer,
                    config.heartbeat_interval,
                    config.heartbeat_timeout,
                )
                .await
            }
            _ => std::future::pending().await,
        }
    };
    tokio::pin!(beat);
    let lost = |reason: String| Lost {
        reason,
        closed_by_server: false,
        silent: false,
    };
    loop {
        let frame = tokio::select! {
            biased;
            frame = stream.next() => frame,
            silent = &mut beat => {
                tracing::warn!(silent_ms = silent.as_millis(), "the tool server stopped answering");
                if let Some(metrics) = &config.metrics {
                    metrics.heartbeat_failures.inc();
                }
                return Lost {
                    reason: format!("peer unresponsive for {}", heartbeat::seconds(silent)),
                    closed_by_server: false,
                    silent: true,
                };
            }
        };
        shared.liveness.saw_frame();
        match frame {
            Some(Ok(Frame::Text(text))) => route(shared, &text),
            // Signs of life only (the transport answers pings).
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
            Some(Ok(Frame::Binary(frame))) => super::transfer::chunk(shared, frame),
            Some(Ok(Frame::Close(frame))) => {
                return Lost {
                    reason: match frame {
                        Some(f) => format!(
                            "the server closed the connection ({} {})",
                            f.code,
                            crate::protocol::short(&f.reason)
                        ),
                        None => "the server closed the connection".to_owned(),
                    },
                    closed_by_server: true,
                    silent: false,
                };
            }
            Some(Err(e)) => return lost(format!("read error: {e}")),
            None => return lost("the connection ended".to_owned()),
        }
    }
}

/// Waits up to [`PeerConfig::loss_explanation_wait`](super::PeerConfig)
/// for a launcher's report of how the sandbox ended, and prefers it.
async fn explain(shared: &Shared, verdict: CallError) -> CallError {
    let Some(explanation) = shared.explanation.get() else {
        return verdict;
    };
    let mut explanation = explanation.clone();
    let wait = shared.config.loss_explanation_wait;
    match tokio::time::timeout(wait, explanation.wait_for(Option::is_some)).await {
        Ok(Ok(explained)) => explained.clone().unwrap_or(verdict),
        _ => verdict,
    }
}

/// Routes one frame from the server.
pub(super) fn route(shared: &Arc<Shared>, text: &str) {
    let message = match parse_server_message(text) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(error = %crate::protocol::short(&e), "undecodable frame from the tool server");
            return;
        }
    };
    match message {
        ServerMessage::Progress { id, chunk } => {
            let own = id
                .parse::<u64>()
                .ok()
                .and_then(|call| super::hooks::of(shared, call))
                .and_then(|hooks| hooks.progress);
            match (own, &shared.config.on_progress) {
                (Some(sink), _) => sink.chunk(&chunk),
                (None, Some(callback)) => callback(&id, &chunk),
                (None, None) => {}
            }
        }
        ServerMessage::Event { event } => {
            if let Some(callback) = &shared.config.on_event {
                callback(event);
            }
        }
        ServerMessage::PermissionAsk(ask) => interactive::answer(shared, Ask::Permission(ask)),
        message @ (ServerMessage::Credit { .. } | ServerMessage::DownloadStart { .. }) => {
            super::transfer::route(shared, message);
        }
        ServerMessage::QuestionAsk(ask) => interactive::answer(shared, Ask::Question(ask)),
        other => {
            let Some(id) = other.id().and_then(|id| id.parse::<u64>().ok()) else {
                return;
            };
            if !shared.pending.complete(&id, other) {
                tracing::debug!(id, "frame for a call nobody waits for any more");
            }
        }
    }
}
