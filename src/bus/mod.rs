//! Observability and human-in-the-loop state owned by a tool server: the event
//! [`Bus`], the [`PermissionManager`] (rules) and the [`QuestionManager`]
//! (pre-loaded answers). One of each per server, shared by every connection,
//! so rules and queued answers survive a reconnect.

mod permission;
mod question;
pub mod wildcard;

pub use permission::{Decision, PermissionManager, PermissionRequest};
pub use question::QuestionManager;

use tokio::sync::broadcast;

use crate::protocol::BusEvent;

/// Events kept for a slow subscriber before it starts losing the oldest.
pub const BUS_CAPACITY: usize = 1024;

/// A broadcast bus of [`BusEvent`]s. Publishing never blocks and never fails:
/// a subscriber that falls behind loses the oldest events (it sees
/// `RecvError::Lagged`), the publisher is not slowed down.
#[derive(Debug, Clone)]
pub struct Bus {
    sender: broadcast::Sender<BusEvent>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// A bus with room for [`BUS_CAPACITY`] events per subscriber.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(BUS_CAPACITY);
        Self { sender }
    }

    /// Publishes `event` to every current subscriber.
    pub fn publish(&self, event: BusEvent) {
        // An error only means nobody is subscribed, which is fine.
        let _ = self.sender.send(event);
    }

    /// Publishes the event `make` builds, building it only when someone
    /// listens (the hot path pays nothing when nobody subscribed).
    pub fn publish_with(&self, make: impl FnOnce() -> BusEvent) {
        if self.has_subscribers() {
            self.publish(make());
        }
    }

    /// Whether anybody receives events now.
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.sender.subscribe()
    }
}
