//! A call's own hooks: the asker that answers its asks
//! ([`CallOptions::asker`](crate::CallOptions)) and the sink that receives
//! its progress ([`CallOptions::progress`](crate::CallOptions)), registered
//! by request id while the call runs. A call without them falls back to
//! [`PeerConfig::interactive`](super::PeerConfig) and
//! [`PeerConfig::on_progress`](super::PeerConfig), which also decide whether
//! the `interactive` and `progress` features are announced at all.

use std::sync::Arc;

use super::shared::Shared;
use crate::context::{Asker, ProgressSink};

/// What one call brought of its own.
#[derive(Clone, Default)]
pub(super) struct CallHooks {
    pub(super) asker: Option<Arc<dyn Asker>>,
    pub(super) progress: Option<Arc<dyn ProgressSink>>,
}

impl CallHooks {
    fn is_empty(&self) -> bool {
        self.asker.is_none() && self.progress.is_none()
    }
}

/// The hooks of call `call`, if it brought any.
pub(super) fn of(shared: &Shared, call: u64) -> Option<CallHooks> {
    shared
        .call_hooks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&call)
        .cloned()
}

/// A call's hooks, registered until dropped.
pub(super) struct Registered<'a> {
    shared: &'a Shared,
    call: u64,
}

impl<'a> Registered<'a> {
    /// Registers `hooks` for `call`; `None` when there are none.
    pub(super) fn register(shared: &'a Shared, call: u64, hooks: CallHooks) -> Option<Self> {
        if hooks.is_empty() {
            return None;
        }
        shared
            .call_hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(call, hooks);
        Some(Self { shared, call })
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared
            .call_hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.call);
    }
}
