//! Prometheus metrics of the tool server ([`ServerMetrics`], served at
//! `GET /metrics`) and of the orchestrator's side ([`ClientMetrics`], in a
//! registry the embedding program encodes), on the `prometheus-client`
//! crate. docs/OPERATIONS.md lists every metric and what it means.
//!
//! Label sets are bounded: the server labels calls only by the tools it
//! registered, and the client by at most [`MAX_TOOL_LABELS`] tool names
//! (the rest count as `_other`), so a caller sending random tool names
//! cannot grow the registry without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Distinct tool names the client labels calls with; further ones are `_other`.
pub const MAX_TOOL_LABELS: usize = 256;

/// How a call ended, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The tool answered without error.
    Ok,
    /// The tool failed, or the call could not run.
    Error,
    /// A rule or a person refused.
    Denied,
    /// Waiting for a permission or an answer (sol's core protocol).
    Suspended,
    /// Cancelled by its caller.
    Cancelled,
    /// Out of time.
    TimedOut,
    /// The connection or the sandbox went away.
    Lost,
}

impl CallOutcome {
    const ALL: [Self; 7] = [
        Self::Ok,
        Self::Error,
        Self::Denied,
        Self::Suspended,
        Self::Cancelled,
        Self::TimedOut,
        Self::Lost,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Denied => "denied",
            Self::Suspended => "suspended",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    permission: String,
    decision: &'static str,
}

/// Latency buckets: 100 µs to about 100 s, ×4 apart.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 11))
}

/// One tool's series, looked up once and kept: recording a call is then a
/// few atomic adds, not a map lookup with an allocated label set.
#[derive(Clone)]
struct ToolSeries {
    outcomes: [Counter; CallOutcome::ALL.len()],
    duration: Histogram,
}

/// The call series (count by tool and outcome, latency by tool, in flight)
/// both sides keep.
#[derive(Clone)]
struct CallSeries {
    calls: Family<CallLabels, Counter>,
    duration: Family<ToolLabel, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    by_tool: Arc<Mutex<HashMap<String, ToolSeries>>>,
}

impl CallSeries {
    fn new(registry: &mut Registry) -> Self {
        let series = Self {
            calls: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
            by_tool: Arc::default(),
        };
        registry.register(
            "calls",
            "Tool calls answered, by tool and outcome",
            series.calls.clone(),
        );
        registry.register(
            "call_duration_seconds",
            "Time from request to answer, by tool",
            series.duration.clone(),
        );
        registry.register(
            "calls_in_flight",
            "Calls sent and not yet answered",
            series.in_flight.clone(),
        );
        series
    }

    fn series(&self, tool: &str) -> ToolSeries {
        let mut by_tool = self
            .by_tool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(series) = by_tool.get(tool) {
            return series.clone();
        }
        let label = if by_tool.len() < MAX_TOOL_LABELS {
            tool
        } else {
            "_other"
        };
        let series = ToolSeries {
            outcomes: CallOutcome::ALL.map(|outcome| {
                self.calls.get_or_create_owned(&CallLabels {
                    tool: label.to_owned(),
                    outcome: outcome.as_str(),
                })
            }),
            duration: self.duration.get_or_create_owned(&ToolLabel {
                tool: label.to_owned(),
            }),
        };
        if label == tool {
            by_tool.insert(tool.to_owned(), series.clone());
        }
        series
    }

    fn record(&self, tool: &str, outcome: CallOutcome, elapsed: Duration) {
        let series = self.series(tool);
        if let Some(position) = CallOutcome::ALL.iter().position(|o| *o == outcome) {
            series.outcomes[position].inc();
        }
        series.duration.observe(elapsed.as_secs_f64());
    }
}

/// Counts a call in flight until dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The tool server's metrics. Cheap to clone (the series are shared).
#[derive(Clone)]
pub struct ServerMetrics {
    registry: Arc<Registry>,
    calls: CallSeries,
    refused: Counter,
    connections: Gauge,
    connections_total: Counter,
    heartbeat_failures: Counter,
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

fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_each_series() {
        let metrics = ServerMetrics::new();
        let _in_flight = metrics.call_started();
        metrics.call_ended("echo", CallOutcome::Ok, Duration::from_millis(2));
        metrics.call_refused();
        metrics.permission_decided("bash", "ask");
        let text = metrics.encode();
        for line in [
            "toolwire_server_calls_total{tool=\"echo\",outcome=\"ok\"} 1",
            "toolwire_server_calls_total{tool=\"echo\",outcome=\"error\"} 0",
            "toolwire_server_calls_in_flight 1",
            "toolwire_server_calls_refused_total 1",
            "toolwire_server_permission_decisions_total{permission=\"bash\",decision=\"ask\"} 1",
            "toolwire_server_call_duration_seconds_count{tool=\"echo\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn tool_labels_are_bounded() {
        let metrics = ClientMetrics::new();
        for n in 0..MAX_TOOL_LABELS + 50 {
            metrics.call_ended(&format!("tool{n}"), CallOutcome::Ok, Duration::ZERO);
        }
        let text = metrics.encode();
        let tools = text
            .lines()
            .filter(|l| {
                l.starts_with("toolwire_client_calls_total{") && l.contains("outcome=\"ok\"")
            })
            .count();
        assert_eq!(
            tools,
            MAX_TOOL_LABELS + 1,
            "{MAX_TOOL_LABELS} tools and `_other`"
        );
        assert!(text.contains("toolwire_client_calls_total{tool=\"_other\",outcome=\"ok\"} 50"));
    }
}
