//! Observability and human-in-the-loop state owned by a tool server: the event
//! [`Bus`], the [`PermissionManager`] (rules) and the [`QuestionManager`]
//! (pre-loaded answers). One of each per server, shared by every connection,
//! so rules and queued answers survive a reconnect.

mod permission;
mod question;
pub mod wildcard;

pub use permission::{Decision, PermissionManager, PermissionRequest};
pub use question::QuestionManager;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::broadcast;

use crate::protocol::BusEvent;

/// Events kept for a slow subscriber before it starts losing the oldest.
pub const BUS_CAPACITY: usize = 1024;

/// A function called with each event, in the publisher's context.
pub type EventTap = Arc<dyn Fn(&BusEvent) + Send + Sync>;

/// The taps of a bus.
#[derive(Default)]
struct Taps {
    next_id: AtomicU64,
    count: AtomicUsize,
    list: RwLock<Vec<(u64, EventTap)>>,
}

/// A broadcast bus of [`BusEvent`]s. Publishing never blocks and never fails:
/// a subscriber that falls behind loses the oldest events (it sees
/// `RecvError::Lagged`), the publisher is not slowed down.
///
/// Besides subscribers (which receive in their own task, later), a bus has
/// taps ([`Bus::tap`]): functions called at once, as the event is
/// published, so what they do is ordered with what the publisher does next.
/// The server forwards events through a tap, so a call's events reach its
/// client before its answer.
#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<BusEvent>,
    taps: Arc<Taps>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("subscribers", &self.sender.receiver_count())
            .field("taps", &self.taps.count.load(Ordering::Relaxed))
            .finish()
    }
}

/// Removes its tap from the bus when dropped.
pub struct TapGuard {
    taps: Arc<Taps>,
    id: u64,
}

impl std::fmt::Debug for TapGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TapGuard").field(&self.id).finish()
    }
}

impl Drop for TapGuard {
    fn drop(&mut self) {
        let mut list = self
            .taps
            .list
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        list.retain(|(id, _)| *id != self.id);
        self.taps.count.store(list.len(), Ordering::Release);
    }
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
        Self {
            sender,
            taps: Arc::default(),
        }
    }

    /// Publishes `event`: every tap is called with it now, every current
    /// subscriber receives it.
    pub fn publish(&self, event: BusEvent) {
        if self.taps.count.load(Ordering::Acquire) > 0 {
            let list = self
                .taps
                .list
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for (_, tap) in list.iter() {
                tap(&event);
            }
        }
        if self.sender.receiver_count() > 0 {
            // An error only means the last subscriber just left, which is fine.
            let _ = self.sender.send(event);
        }
    }

    /// Calls `tap` with every event published until the guard is dropped.
    /// It runs in the publisher's context: it must be quick and must not block.
    pub fn tap(&self, tap: EventTap) -> TapGuard {
        let id = self.taps.next_id.fetch_add(1, Ordering::Relaxed);
        let mut list = self
            .taps
            .list
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        list.push((id, tap));
        self.taps.count.store(list.len(), Ordering::Release);
        TapGuard {
            taps: self.taps.clone(),
            id,
        }
    }

    /// Publishes the event `make` builds, building it only when someone
    /// listens (the hot path pays nothing when nobody subscribed).
    pub fn publish_with(&self, make: impl FnOnce() -> BusEvent) {
        if self.has_subscribers() {
            self.publish(make());
        }
    }

    /// Whether anybody receives events now (a subscriber or a tap).
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0 || self.taps.count.load(Ordering::Acquire) > 0
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.sender.subscribe()
    }
}
