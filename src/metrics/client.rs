//! [`ClientMetrics`]: the orchestrator side's series.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{CallOutcome, CallSeries, DecisionLabels, InFlight, encode};

/// The orchestrator side's metrics: calls through [`crate::Peer`]s,
/// connections, person-decided permissions and journal drops. Register them
/// in your own registry with [`ClientMetrics::register`], or keep them in
/// their own with [`ClientMetrics::new`] and [`ClientMetrics::encode`].
/// Cheap to clone; clones share the series.
#[derive(Clone)]
pub struct ClientMetrics {
    own: Option<Arc<Registry>>,
    calls: CallSeries,
    connections: Gauge,
    /// Connections that ended without the orchestrator closing them.
    pub connections_lost: Counter,
    /// Connections declared lost because the server sent nothing (not even
    /// a pong) for the heartbeat timeout.
    pub heartbeat_failures: Counter,
    /// Lost connections taken over again by a new one (feature `resume`).
    pub reconnects: Counter,
    decisions: Family<DecisionLabels, Counter>,
    /// Journal records dropped because the writer's queue was full.
    pub journal_dropped: Counter,
}

impl std::fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetrics").finish_non_exhaustive()
    }
}

impl Default for ClientMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMetrics {
    /// Metrics in a registry of their own, under the `toolwire_client` prefix.
    pub fn new() -> Self {
        let mut root = Registry::default();
        let mut metrics = Self::register(root.sub_registry_with_prefix("toolwire_client"));
        metrics.own = Some(Arc::new(root));
        metrics
    }

    /// Metrics registered in `registry` (give it a prefix with
    /// `Registry::sub_registry_with_prefix`).
    pub fn register(registry: &mut Registry) -> Self {
        let calls = CallSeries::new(registry);
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open connections to tool servers",
            connections.clone(),
        );
        let connections_lost = Counter::default();
        registry.register(
            "connections_lost",
            "Connections that ended without the orchestrator closing them",
            connections_lost.clone(),
        );
        let heartbeat_failures = Counter::default();
        registry.register(
            "heartbeat_failures",
            "Connections declared lost because the server sent nothing, not even a pong, for the heartbeat timeout",
            heartbeat_failures.clone(),
        );
        let reconnects = Counter::default();
        registry.register(
            "reconnects",
            "Lost connections the client reconnected and resumed (feature resume)",
            reconnects.clone(),
        );
        let decisions = Family::default();
        registry.register(
            "permission_decisions",
            "Interactive permission asks by permission and the reply (once, always, reject)",
            decisions.clone(),
        );
        let journal_dropped = Counter::default();
        registry.register(
            "journal_dropped",
            "Journal records dropped because the writer's queue was full",
            journal_dropped.clone(),
        );
        Self {
            own: None,
            calls,
            connections,
            connections_lost,
            heartbeat_failures,
            reconnects,
            decisions,
            journal_dropped,
        }
    }

    /// Counts a call that starts; it stops counting when the guard drops.
    pub fn call_started(&self) -> InFlight {
        self.calls.in_flight.inc();
        InFlight(self.calls.in_flight.clone())
    }

    /// Counts an answered call.
    pub fn call_ended(&self, tool: &str, outcome: CallOutcome, elapsed: Duration) {
        self.calls.record(tool, outcome, elapsed);
    }

    /// Counts an open connection; it is closed when the guard drops.
    pub fn connection_opened(&self) -> InFlight {
        self.connections.inc();
        InFlight(self.connections.clone())
    }

    /// Counts an interactive permission reply.
    pub fn permission_replied(&self, permission: &str, reply: &'static str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                permission: bounded(permission),
                decision: reply,
            })
            .inc();
    }

    /// The Prometheus text of a [`ClientMetrics::new`] registry; empty for
    /// one registered elsewhere (encode that registry instead).
    pub fn encode(&self) -> String {
        self.own.as_deref().map(encode).unwrap_or_default()
    }
}

/// A label value from the other side, cut so it cannot grow the registry
/// much (permission kinds are short words).
fn bounded(value: &str) -> String {
    value.chars().take(32).collect()
}
