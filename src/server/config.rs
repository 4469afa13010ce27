//! [`ServerConfig`]: the limits and timeouts of a tool server.

use std::time::Duration;

use crate::context::DEFAULT_ASK_TIMEOUT;
use crate::tools::user::ToolUser;

/// Limits and timeouts of a [`ToolServer`](super::ToolServer). Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Calls running at once per connection; one more is refused with a
    /// `busy` error at once. Default 64.
    pub max_in_flight: usize,
    /// Largest accepted message (and frame) in bytes; a larger one closes the
    /// connection with 1009 before it is read. Default 16 MiB.
    pub max_message_bytes: usize,
    /// Time a client has to send its HTTP request (the WebSocket handshake)
    /// after connecting. Default 10 s.
    pub handshake_timeout: Duration,
    /// Per-call timeout unless the request sets `timeout_ms`. Default 10 min.
    /// (How long a stopped call's tool gets to clean up is the executor's:
    /// [`LocalExecutor::with_cancel_grace`](crate::executor::LocalExecutor::with_cancel_grace).)
    pub call_timeout: Duration,
    /// On shutdown, how long in-flight calls may still finish. Default 5 s.
    pub shutdown_grace: Duration,
    /// Once a session's last frame is out, how long closing the connection
    /// (the close handshake) may take. Default 2 s.
    pub close_timeout: Duration,
    /// How long an interactive client has to answer a permission or question
    /// ask; no answer ends the call as denied. Default 5 min.
    pub ask_timeout: Duration,
    /// A WebSocket ping goes to each client this often. Default 5 s; zero
    /// turns the heartbeat off.
    pub heartbeat_interval: Duration,
    /// After this long without any frame from a client (a pong included),
    /// its session ends as if it had disconnected. Default 15 s.
    pub heartbeat_timeout: Duration,
    /// How long a session whose client was granted `resume` waits after
    /// its connection is lost: its calls run on and their results are kept
    /// for the client's return; after this the calls are stopped. Default 60 s.
    pub resume_grace: Duration,
    /// With no client connected and no call running for this long,
    /// [`ToolServer::serve`](super::ToolServer::serve) shuts the server down by itself, so a sandbox
    /// its orchestrator forgot does not live forever. Default none.
    pub idle_timeout: Option<Duration>,
    /// The user uploads and downloads act as (the tools' user,
    /// [`ToolsConfig::tool_user`](crate::tools::ToolsConfig::tool_user)).
    /// Default none: the server's own.
    pub tool_user: Option<ToolUser>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            max_message_bytes: 16 << 20,
            handshake_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
            close_timeout: Duration::from_secs(2),
            ask_timeout: DEFAULT_ASK_TIMEOUT,
            heartbeat_interval: crate::wire::heartbeat::DEFAULT_HEARTBEAT_INTERVAL,
            heartbeat_timeout: crate::wire::heartbeat::DEFAULT_HEARTBEAT_TIMEOUT,
            resume_grace: Duration::from_secs(60),
            idle_timeout: None,
            tool_user: None,
        }
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }
    /// Sets [`ServerConfig::max_message_bytes`].
    #[must_use]
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.max_message_bytes = n;
        self
    }
    /// Sets [`ServerConfig::handshake_timeout`].
    #[must_use]
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }
    /// Sets [`ServerConfig::call_timeout`].
    #[must_use]
    pub fn call_timeout(mut self, d: Duration) -> Self {
        self.call_timeout = d;
        self
    }
    /// Sets [`ServerConfig::shutdown_grace`].
    #[must_use]
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }
    /// Sets [`ServerConfig::heartbeat_interval`] and
    /// [`ServerConfig::heartbeat_timeout`].
    #[must_use]
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }
    /// Sets [`ServerConfig::resume_grace`].
    #[must_use]
    pub fn resume_grace(mut self, grace: Duration) -> Self {
        self.resume_grace = grace;
        self
    }
    /// Sets [`ServerConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
    /// Sets [`ServerConfig::tool_user`].
    #[must_use]
    pub fn tool_user(mut self, user: Option<ToolUser>) -> Self {
        self.tool_user = user;
        self
    }
    /// Sets [`ServerConfig::ask_timeout`].
    #[must_use]
    pub fn ask_timeout(mut self, d: Duration) -> Self {
        self.ask_timeout = d;
        self
    }
}
