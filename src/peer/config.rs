//! [`PeerConfig`]: the client's call policy — timeouts, extensions, and who
//! receives progress, events and interactive asks.

use std::sync::Arc;
use std::time::Duration;

use super::interactive::InteractiveHandler;
use crate::metrics::ClientMetrics;
use crate::protocol::{BusEvent, feature};
use crate::wire::heartbeat::{DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT};

/// Called with `(request id, chunk)` for each `progress` frame.
pub type ProgressCallback = Arc<dyn Fn(&str, &str) + Send + Sync>;
/// Called with each forwarded bus event.
pub type EventCallback = Arc<dyn Fn(BusEvent) + Send + Sync>;

/// How a [`Peer`](super::Peer) calls. Every field has a documented default.
#[derive(Clone)]
#[non_exhaustive]
pub struct PeerConfig {
    /// Caller-side limit on one call, writing the request included; when it
    /// expires the server is told to cancel (if it speaks `cancel`).
    /// Default none (the server's own call timeout applies).
    pub call_timeout: Option<Duration>,
    /// Limit on control round trips (`tools`, `set_rules`, ...). Default 30 s.
    pub control_timeout: Duration,
    /// Time the server has to answer `hello`. Default 10 s.
    pub hello_timeout: Duration,
    /// After the connection is lost, how long to wait for an explanation of
    /// it (a launcher's report that the sandbox exited) before failing the
    /// pending calls with the bare loss. Default 1 s.
    pub loss_explanation_wait: Duration,
    /// Once the last frame is out, how long closing the connection (the
    /// close handshake) may take. Default 2 s.
    pub close_timeout: Duration,
    /// Interactive asks answered at once at most; more are rejected at once
    /// (a hostile server cannot start unbounded handler tasks). Default 16.
    pub max_concurrent_asks: usize,
    /// Tools a server may list at most; a longer list is refused with an
    /// error naming this limit. Default 1024.
    pub max_tools: usize,
    /// Bytes of one response's `output` at most; a longer one is refused
    /// with an error naming this limit (the server cuts its own outputs at
    /// 50 KiB by default). Default 16 MiB.
    pub max_output_bytes: usize,
    /// Say `hello` and use extensions. Default true; a server that does not
    /// know `hello` (sol's) is then spoken to in the core protocol.
    pub extensions: bool,
    /// Receives `progress` chunks (asks for the `progress` feature).
    pub on_progress: Option<ProgressCallback>,
    /// Receives bus events (asks for the `events` feature).
    pub on_event: Option<EventCallback>,
    /// Answers asks on the same connection (asks for the `interactive` feature).
    pub interactive: Option<Arc<dyn InteractiveHandler>>,
    /// Counts this peer's calls, connection and interactive replies.
    /// Default none.
    pub metrics: Option<ClientMetrics>,
    /// A WebSocket ping goes out this often. Default 5 s; zero turns the
    /// heartbeat off.
    pub heartbeat_interval: Duration,
    /// After this long without any frame from the server (a pong
    /// included), the connection is lost: every pending call fails with
    /// "peer unresponsive for …". Default 15 s.
    pub heartbeat_timeout: Duration,
    /// Announce `resume` when the peer can reconnect (it was opened with
    /// [`Peer::connect`](super::Peer::connect) or
    /// [`Peer::connect_with`](super::Peer::connect_with)): after a lost
    /// connection — not one the server closed — it reconnects and the
    /// calls in flight get their results. Default true; a server without
    /// `resume` (sol's) is unaffected.
    pub resume: bool,
    /// How long reconnect attempts go on after a loss (exponential backoff
    /// with full jitter, from 100 ms up to 2 s between attempts); then the
    /// calls fail with the loss's reason. Default 30 s.
    pub reconnect_window: Duration,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            call_timeout: None,
            control_timeout: Duration::from_secs(30),
            hello_timeout: Duration::from_secs(10),
            loss_explanation_wait: Duration::from_secs(1),
            close_timeout: Duration::from_secs(2),
            max_concurrent_asks: 16,
            max_tools: 1024,
            max_output_bytes: 16 << 20,
            extensions: true,
            on_progress: None,
            on_event: None,
            interactive: None,
            metrics: None,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            resume: true,
            reconnect_window: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("call_timeout", &self.call_timeout)
            .field("control_timeout", &self.control_timeout)
            .field("hello_timeout", &self.hello_timeout)
            .field("extensions", &self.extensions)
            .field("progress", &self.on_progress.is_some())
            .field("events", &self.on_event.is_some())
            .field("interactive", &self.interactive.is_some())
            .field("metrics", &self.metrics.is_some())
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("resume", &self.resume)
            .field("reconnect_window", &self.reconnect_window)
            .finish_non_exhaustive()
    }
}

impl PeerConfig {
    /// Sets [`PeerConfig::call_timeout`].
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }
    /// Sets [`PeerConfig::control_timeout`].
    #[must_use]
    pub fn control_timeout(mut self, timeout: Duration) -> Self {
        self.control_timeout = timeout;
        self
    }
    /// Sets [`PeerConfig::hello_timeout`].
    #[must_use]
    pub fn hello_timeout(mut self, timeout: Duration) -> Self {
        self.hello_timeout = timeout;
        self
    }
    /// Sets [`PeerConfig::extensions`].
    #[must_use]
    pub fn extensions(mut self, on: bool) -> Self {
        self.extensions = on;
        self
    }
    /// Sets [`PeerConfig::on_progress`].
    #[must_use]
    pub fn on_progress(mut self, callback: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(callback));
        self
    }
    /// Sets [`PeerConfig::on_event`].
    #[must_use]
    pub fn on_event(mut self, callback: impl Fn(BusEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }
    /// Sets [`PeerConfig::interactive`].
    #[must_use]
    pub fn interactive(mut self, handler: Arc<dyn InteractiveHandler>) -> Self {
        self.interactive = Some(handler);
        self
    }

    /// Sets [`PeerConfig::heartbeat_interval`] and
    /// [`PeerConfig::heartbeat_timeout`].
    #[must_use]
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets [`PeerConfig::resume`] and [`PeerConfig::reconnect_window`].
    #[must_use]
    pub fn resume(mut self, on: bool, window: Duration) -> Self {
        self.resume = on;
        self.reconnect_window = window;
        self
    }

    /// Sets [`PeerConfig::max_tools`].
    #[must_use]
    pub fn max_tools(mut self, n: usize) -> Self {
        self.max_tools = n;
        self
    }

    /// Sets [`PeerConfig::max_output_bytes`].
    #[must_use]
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// Sets [`PeerConfig::metrics`].
    #[must_use]
    pub fn metrics(mut self, metrics: ClientMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The features to ask for; `resume` when `can_reconnect` and wanted.
    pub(super) fn wanted_features(&self, can_reconnect: bool) -> Vec<String> {
        let mut features = vec![feature::CANCEL.to_owned(), feature::TRANSFER.to_owned()];
        if self.resume && can_reconnect {
            features.push(feature::RESUME.to_owned());
        }
        if self.on_progress.is_some() {
            features.push(feature::PROGRESS.to_owned());
        }
        if self.on_event.is_some() {
            features.push(feature::EVENTS.to_owned());
        }
        if self.interactive.is_some() {
            features.push(feature::INTERACTIVE.to_owned());
        }
        features
    }
}
