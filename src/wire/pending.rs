//! [`PendingTable`]: callers waiting for a reply, by id. A caller registers
//! and gets a [`Pending`] guard; the guard removes the entry however the
//! wait ends (answer, timeout, drop). Clearing the table drops every sender,
//! which ends every wait at once — the owner records why first.

use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use tokio::sync::oneshot;

/// Callers waiting for a value by id, with their count kept beside them
/// (`DashMap::len` locks every shard, and the count is read on every call).
pub(crate) struct PendingTable<K: Eq + Hash, V> {
    waiters: DashMap<K, oneshot::Sender<V>>,
    count: AtomicUsize,
}

impl<K: Eq + Hash + Clone, V> PendingTable<K, V> {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            waiters: DashMap::new(),
            count: AtomicUsize::new(0),
        }
    }

    /// How many callers are waiting (registered and not yet given up).
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Registers a waiter for `id`, replacing none: `None` when `id` is taken.
    pub(crate) fn register(&self, id: K) -> Option<Pending<'_, K, V>> {
        let (sender, receiver) = oneshot::channel();
        match self.waiters.entry(id.clone()) {
            dashmap::Entry::Occupied(_) => return None,
            dashmap::Entry::Vacant(slot) => {
                slot.insert(sender);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        Some(Pending {
            table: self,
            id,
            receiver,
        })
    }

    /// The ids callers wait for now.
    pub(crate) fn ids(&self) -> Vec<K> {
        self.waiters
            .iter()
            .map(|entry| entry.key().clone())
            .collect()
    }

    /// Whether a caller waits for `id`.
    pub(crate) fn contains(&self, id: &K) -> bool {
        self.waiters.contains_key(id)
    }

    /// Hands `value` to the waiter for `id`; `false` when nobody waits for it.
    pub(crate) fn complete(&self, id: &K, value: V) -> bool {
        match self.waiters.remove(id) {
            Some((_, sender)) => sender.send(value).is_ok(),
            None => false,
        }
    }

    /// Ends every wait (each caller sees its sender dropped).
    pub(crate) fn clear(&self) {
        self.waiters.clear();
    }
}

/// One caller's place in a [`PendingTable`]; dropping it frees the place.
pub(crate) struct Pending<'a, K: Eq + Hash, V> {
    table: &'a PendingTable<K, V>,
    id: K,
    receiver: oneshot::Receiver<V>,
}

impl<K: Eq + Hash, V> Pending<'_, K, V> {
    /// The value, or `None` when the table was cleared (the connection ended).
    pub(crate) async fn wait(&mut self) -> Option<V> {
        (&mut self.receiver).await.ok()
    }
}

impl<K: Eq + Hash, V> Drop for Pending<'_, K, V> {
    fn drop(&mut self) {
        self.table.waiters.remove(&self.id);
        self.table.count.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_gets_its_value_and_frees_its_place() {
        let table = PendingTable::<u64, &str>::new();
        let mut pending = table.register(1).expect("free id");
        assert!(table.register(1).is_none(), "an id in use is refused");
        assert_eq!(table.len(), 1);
        assert!(table.complete(&1, "reply"));
        assert_eq!(pending.wait().await, Some("reply"));
        drop(pending);
        assert_eq!(table.len(), 0);
        assert!(!table.complete(&1, "late"), "nobody waits any more");
    }

    #[tokio::test]
    async fn clearing_ends_every_wait() {
        let table = PendingTable::<u64, ()>::new();
        let mut a = table.register(1).expect("free id");
        let mut b = table.register(2).expect("free id");
        table.clear();
        assert_eq!(a.wait().await, None);
        assert_eq!(b.wait().await, None);
    }
}
