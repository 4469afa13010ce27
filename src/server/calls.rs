//! The calls running on one session: each call's stop handle (its
//! cancellation token and why it fired) and the table that finds them by
//! request id.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio_util::sync::CancellationToken;

use crate::executor::Outcome;

/// Why a call's token fired.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum StopReason {
    Cancelled,
    TimedOut(Duration),
    Disconnected,
    ShuttingDown,
}

/// A running call's cancellation token and why it fired (the first reason wins).
pub(super) struct CallStop {
    pub(super) cancel: CancellationToken,
    reason: std::sync::OnceLock<StopReason>,
}

impl CallStop {
    /// A stop handle whose token is a child of `parent`.
    pub(super) fn child_of(parent: &CancellationToken) -> Self {
        Self {
            cancel: parent.child_token(),
            reason: std::sync::OnceLock::new(),
        }
    }

    /// Records `reason` (unless one is recorded already) and cancels the call.
    pub(super) fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.cancel.cancel();
    }

    /// The answer for a stopped call, saying why it stopped.
    pub(super) fn outcome(&self) -> Outcome {
        Outcome::Error(
            match self.reason.get().copied().unwrap_or(StopReason::Cancelled) {
                StopReason::Cancelled => "tool call cancelled".to_owned(),
                StopReason::TimedOut(after) => {
                    format!("tool call timed out after {} ms", after.as_millis())
                }
                StopReason::Disconnected => {
                    "tool call cancelled: the client disconnected".to_owned()
                }
                StopReason::ShuttingDown => {
                    "tool call cancelled: the tool server is shutting down".to_owned()
                }
            },
        )
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_first_stop_reason_wins() {
        let table = CallTable::default();
        let stop = Arc::new(CallStop::child_of(&CancellationToken::new()));
        assert!(table.insert_new("a", stop.clone()));
        table.stop("a", StopReason::TimedOut(Duration::from_millis(5)));
        table.stop_all(StopReason::Disconnected);
        assert!(stop.cancel.is_cancelled());
        assert_eq!(
            stop.outcome(),
            Outcome::Error("tool call timed out after 5 ms".into())
        );
    }
}
