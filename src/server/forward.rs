//! What the server forwards to a client besides answers: bus events (the
//! `events` feature) and a running call's output chunks (`progress`).

use std::sync::Arc;

use super::session::Session;
use crate::context::ProgressSink;
use crate::protocol::{BusEvent, ServerMessage};
use crate::transport::Frame;

/// Starts forwarding bus events to the session's client, through a tap:
/// each event is queued for the client as it is published, so a call's
/// events always go out before its answer. The tap belongs to the session
/// (removed when it ends or the client turns events off). When the
/// client's queue is full the event is dropped, as progress is: events
/// describe calls, the answers carry their results.
pub(super) fn forward_events(session: &Arc<Session>) {
    let weak = Arc::downgrade(session);
    let tap = session
        .server
        .executor
        .shared()
        .bus
        .tap(Arc::new(move |event: &BusEvent| {
            let Some(session) = weak.upgrade() else {
                return;
            };
            if !session.features().events {
                return;
            }
            match crate::protocol::encode(&ServerMessage::Event {
                event: event.clone(),
            }) {
                Ok(text) => {
                    if !session.try_send(Frame::Text(text.into())) {
                        tracing::debug!("client queue full: an event was dropped");
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not encode an event"),
            }
        }));
    *session
        .events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tap);
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
            let _ = session.try_send(Frame::Text(frame.into()));
        }
    }
}
