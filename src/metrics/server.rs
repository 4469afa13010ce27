//! [`ServerMetrics`]: the tool server's series, served at `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{CallOutcome, CallSeries, DecisionLabels, InFlight, encode};

/// The tool server's metrics. Cheap to clone (the series are shared).
#[derive(Clone)]
pub struct ServerMetrics {
    registry: Arc<Registry>,
    calls: CallSeries,
    refused: Counter,
    connections: Gauge,
    connections_total: Counter,
    heartbeat_failures: Counter,
    resumed: Counter,
    decisions: Family<DecisionLabels, Counter>,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMetrics").finish_non_exhaustive()
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerMetrics {
    /// Empty metrics, every series under the `toolwire_server` prefix.
    pub fn new() -> Self {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("toolwire_server");
        let calls = CallSeries::new(registry);
        let refused = Counter::default();
        registry.register(
            "calls_refused",
            "Requests refused before they ran (unknown or inactive tool, busy, duplicate id, shutting down)",
            refused.clone(),
        );
        let connections = Gauge::default();
        registry.register("connections", "Open client sessions", connections.clone());
        let connections_total = Counter::default();
        registry.register(
            "connections_opened",
            "Client sessions opened",
            connections_total.clone(),
        );
        let heartbeat_failures = Counter::default();
        registry.register(
            "heartbeat_failures",
            "Client sessions closed because the client sent nothing, not even a pong, for the heartbeat timeout",
            heartbeat_failures.clone(),
        );
        let resumed = Counter::default();
        registry.register(
            "sessions_resumed",
            "Sessions a client took over on a new connection after losing its connection (feature resume)",
            resumed.clone(),
        );
        let decisions = Family::default();
        registry.register(
            "permission_decisions",
            "Permission checks by permission and how the rules decided (allow, deny, ask)",
            decisions.clone(),
        );
        Self {
            registry: Arc::new(root),
            calls,
            refused,
            connections,
            connections_total,
            heartbeat_failures,
            resumed,
            decisions,
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

    /// Counts a refused request.
    pub fn call_refused(&self) {
        self.refused.inc();
    }

    /// Counts an opened session; it is closed when the guard drops.
    pub fn connection_opened(&self) -> InFlight {
        self.connections_total.inc();
        self.connections.inc();
        InFlight(self.connections.clone())
    }

    /// Counts a session taken over by a new connection.
    pub fn session_resumed(&self) {
        self.resumed.inc();
    }

    /// Counts a session closed for silence.
    pub fn heartbeat_failed(&self) {
        self.heartbeat_failures.inc();
    }

    /// Counts a permission check: `decision` is `allow`, `deny` or `ask`.
    pub fn permission_decided(&self, permission: &str, decision: &'static str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                permission: permission.to_owned(),
                decision,
            })
            .inc();
    }

    /// Everything in the Prometheus text format.
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}
