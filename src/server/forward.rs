//! What the server forwards to a client besides answers: bus events (the
//! `events` feature) and a running call's output chunks (`progress`).

use std::sync::Arc;

use tokio_util::task::AbortOnDropHandle;

use super::session::Session;
use crate::context::ProgressSink;
use crate::protocol::ServerMessage;
use crate::transport::Frame;

/// Starts forwarding bus events to the session's client; the task is owned
/// by the session (stopped when it ends or the client turns events off).
pub(super) fn forward_events(session: &Arc<Session>) {
    let mut events = session.server.executor.shared().bus.subscribe();
    let weak = Arc::downgrade(session);
    let closing = session.closing.clone();
    let task = tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = closing.cancelled() => return,
            };
            let event = match event {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "event subscriber lagged");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Some(session) = weak.upgrade() else {
                return;
            };
            if !session.features().events {
                return;
            }
            session.send(&ServerMessage::Event { event }).await;
        }
    });
    *session
        .events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(AbortOnDropHandle::new(task));
}

/// Streams a call's output chunks as `progress` frames.
pub(super) struct SessionProgress {
    pub(super) session: std::sync::Weak<Session>,
    pub(super) id: String,
}

impl ProgressSink for SessionProgress {
    fn chunk(&self, text: &str) {
        let Some(session) = self.session.upgrade() else {
            return;
        };
        let message = ServerMessage::Progress {
            id: self.id.clone(),
            chunk: text.to_owned(),
        };
        if let Ok(frame) = crate::protocol::encode(&message) {
            // Progress is best effort: when the queue is full the chunk is
            // skipped (the final response still carries the whole output).
            let _ = session.writer.try_send(Frame::Text(frame.into()));
        }
    }
}
