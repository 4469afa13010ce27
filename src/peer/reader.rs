//! The peer's reader task: routes every frame from the server by `id` (or
//! to the progress, event and ask handlers) until the connection ends.

use std::sync::Arc;

use futures::StreamExt;

use super::interactive::{self, Ask};
use super::shared::Shared;
use crate::error::CallError;
use crate::metrics::ClientMetrics;
use crate::protocol::{ServerMessage, parse_server_message};
use crate::transport::{Frame, FrameStream};

/// The reader task: routes every frame until the connection ends, then
/// fails every waiter with the reason (explained, when a launcher can).
pub(super) async fn read(shared: Arc<Shared>, mut stream: FrameStream) {
    let open = shared
        .config
        .metrics
        .as_ref()
        .map(ClientMetrics::connection_opened);
    let reason = loop {
        let frame = stream.next().await;
        shared.liveness.saw_frame();
        match frame {
            Some(Ok(Frame::Text(text))) => route(&shared, &text),
            // Signs of life only (the transport answers pings).
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
            Some(Ok(Frame::Binary(_))) => {
                tracing::debug!("binary frame from the tool server dropped");
            }
            Some(Ok(Frame::Close(frame))) => {
                break match frame {
                    Some(f) => format!(
                        "the server closed the connection ({} {})",
                        f.code,
                        crate::protocol::short(&f.reason)
                    ),
                    None => "the server closed the connection".to_owned(),
                };
            }
            Some(Err(e)) => break format!("read error: {e}"),
            None => break "the connection ended".to_owned(),
        }
    };
    tracing::debug!(%reason, "connection to the tool server ended");
    if let Some(metrics) = &shared.config.metrics
        && !shared.closed.is_cancelled()
    {
        metrics.connections_lost.inc();
    }
    let mut verdict = CallError::ConnectionLost { reason };
    if let Some(explanation) = shared.explanation.get()
        && !shared.closed.is_cancelled()
    {
        let mut explanation = explanation.clone();
        let wait = shared.config.loss_explanation_wait;
        if let Ok(Ok(explained)) =
            tokio::time::timeout(wait, explanation.wait_for(Option::is_some)).await
            && let Some(explained) = explained.clone()
        {
            verdict = explained;
        }
    }
    // Counted closed before any waiter learns of it.
    drop(open);
    shared.fail_all(verdict);
}

/// Routes one frame from the server.
fn route(shared: &Arc<Shared>, text: &str) {
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
