//! Prometheus metrics of the tool server ([`ServerMetrics`], served at
//! `GET /metrics`) and of the orchestrator's side ([`ClientMetrics`], in a
//! registry the embedding program encodes), on the `prometheus-client`
//! crate. docs/OPERATIONS.md lists every metric and what it means.
//!
//! Label sets are bounded: the server labels calls only by the tools it
//! registered, and the client by at most [`MAX_TOOL_LABELS`] tool names
//! (the rest count as `_other`), so a caller sending random tool names
//! cannot grow the registry without bound.
//!
//! - `server`: [`ServerMetrics`].
//! - `client`: [`ClientMetrics`].

mod client;
mod server;

pub use client::ClientMetrics;
pub use server::ServerMetrics;

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
pub(crate) struct CallLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ToolLabel {
    tool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DecisionLabels {
    pub(crate) permission: String,
    pub(crate) decision: &'static str,
}

/// Latency buckets: 100 µs to about 100 s, ×4 apart.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 11))
}

/// One tool's series, made once and kept: recording a call is then a few
/// atomic adds, not a look-up with an allocated label set.
struct ToolSeries {
    outcomes: [Counter; CallOutcome::ALL.len()],
    duration: Histogram,
}

/// The call series (count by tool and outcome, latency by tool, in flight)
/// both sides keep.
#[derive(Clone)]
pub(crate) struct CallSeries {
    calls: Family<CallLabels, Counter>,
    duration: Family<ToolLabel, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    by_tool: Arc<Mutex<HashMap<String, ToolSeries>>>,
}

impl CallSeries {
    pub(crate) fn new(registry: &mut Registry) -> Self {
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

    fn new_series(&self, label: &str) -> ToolSeries {
        ToolSeries {
            outcomes: CallOutcome::ALL.map(|outcome| {
                self.calls.get_or_create_owned(&CallLabels {
                    tool: label.to_owned(),
                    outcome: outcome.as_str(),
                })
            }),
            duration: self.duration.get_or_create_owned(&ToolLabel {
                tool: label.to_owned(),
            }),
        }
    }

    /// Counts one call: a map look-up under an uncontended lock, then
    /// atomic adds on series made once per tool.
    pub(crate) fn record(&self, tool: &str, outcome: CallOutcome, elapsed: Duration) {
        let mut by_tool = self
            .by_tool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !by_tool.contains_key(tool) {
            let (key, label) = if by_tool.len() < MAX_TOOL_LABELS {
                (tool, tool)
            } else {
                (OTHER_KEY, "_other")
            };
            if !by_tool.contains_key(key) {
                let series = self.new_series(label);
                by_tool.insert(key.to_owned(), series);
            }
        }
        let Some(series) = by_tool.get(tool).or_else(|| by_tool.get(OTHER_KEY)) else {
            return;
        };
        if let Some(position) = CallOutcome::ALL.iter().position(|o| *o == outcome) {
            series.outcomes[position].inc();
        }
        series.duration.observe(elapsed.as_secs_f64());
    }
}

/// Where the series of tools past [`MAX_TOOL_LABELS`] are kept (a key no
/// tool name of a sane caller has; a clash would only merge counts).
const OTHER_KEY: &str = "\0_other";

/// Counts a call in flight until dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub(crate) fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
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
