//! Shared test fixtures: a real ToolServer on 127.0.0.1:0 with test tools,
//! and small helpers. Every wait is bounded.
#![allow(dead_code, missing_docs)]

pub mod binary;
#[cfg(feature = "docker")]
pub mod docker;
#[cfg(feature = "kubernetes")]
pub mod fake_cluster;
#[cfg(feature = "kubernetes")]
pub mod http_api;
pub mod proxy;
pub mod python;
pub mod recorder;

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::oneshot;
use toolwire::bus::PermissionRequest;
use toolwire::context::SharedState;
use toolwire::server::{Auth, ServerConfig, TokenDigest, ToolServer};
use toolwire::{
    CallContext, Endpoint, LocalExecutor, Peer, PeerConfig, ToolError, ToolResponse, TypedTool,
    WsConfig, typed,
};

pub const TOKEN: &str = "test-token-0123456789";

/// Bounds every await in tests.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}

/// A count that tests wait on as an event: `reached(n)` returns when the
/// count is at least `n`, woken by each increment (no polling).
#[derive(Clone)]
pub struct Counter(Arc<tokio::sync::watch::Sender<usize>>);

impl Default for Counter {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(0).0))
    }
}

impl Counter {
    pub fn incr(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    pub fn get(&self) -> usize {
        *self.0.borrow()
    }

    pub async fn reached(&self, n: usize) {
        let mut count = self.0.subscribe();
        let _ = count.wait_for(|c| *c >= n).await;
    }
}

/// The library's `sleep` tool, counting how many calls started and how many
/// saw their cancellation token fire.
#[derive(Clone, Default)]
pub struct Sleep {
    pub cancelled: Counter,
    pub started: Counter,
}

#[async_trait]
impl TypedTool for Sleep {
    type Input = toolwire::tools::bench::SleepInput;
    fn name(&self) -> &str {
        toolwire::tools::bench::Sleep.name()
    }
    fn description(&self) -> &str {
        toolwire::tools::bench::Sleep.description()
    }
    async fn run(&self, input: Self::Input, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        self.started.incr();
        let result = toolwire::tools::bench::Sleep.run(input, ctx).await;
        if result == Err(ToolError::Cancelled) {
            self.cancelled.incr();
        }
        result
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Empty {}

/// Always fails (a tool failure is data).
pub struct Fail;

#[async_trait]
impl TypedTool for Fail {
    type Input = Empty;
    fn name(&self) -> &str {
        "fail"
    }
    fn description(&self) -> &str {
        "Always fails."
    }
    async fn run(&self, _input: Empty, _ctx: CallContext) -> Result<ToolResponse, ToolError> {
        Err(ToolError::failed("disk on fire"))
    }
}

/// Panics.
pub struct Panic;

#[async_trait]
impl TypedTool for Panic {
    type Input = Empty;
    fn name(&self) -> &str {
        "panic"
    }
    fn description(&self) -> &str {
        "Panics."
    }
    async fn run(&self, _input: Empty, _ctx: CallContext) -> Result<ToolResponse, ToolError> {
        panic!("tool exploded")
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GuardedInput {
    /// The command the tool pretends to run.
    pub command: String,
}

/// Asks the `bash` permission with the command, then returns "ran <command>".
pub struct Guarded;

#[async_trait]
impl TypedTool for Guarded {
    type Input = GuardedInput;
    fn name(&self) -> &str {
        "guarded"
    }
    fn description(&self) -> &str {
        "Asks permission, then pretends to run a command."
    }
    async fn run(&self, input: GuardedInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        ctx.ask_permission(PermissionRequest {
            permission: "bash".into(),
            patterns: vec![input.command.clone()],
            opaque: Vec::new(),
            always: vec![toolwire::shell::always_pattern(
                &input.command.split(' ').collect::<Vec<_>>(),
            )],
            ..PermissionRequest::default()
        })
        .await?;
        Ok(ToolResponse::text(format!("ran {}", input.command)))
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub shared: SharedState,
    pub sleep: Sleep,
    /// The server's open sessions, to wait on.
    sessions: tokio::sync::watch::Receiver<usize>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub workdir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerConfig::default()).await
    }

    pub async fn start_with(config: ServerConfig) -> Self {
        let workdir = tempfile::tempdir().expect("tempdir");
        let sleep = Sleep::default();
        let mut executor = LocalExecutor::new(workdir.path());
        executor
            .register(typed(toolwire::tools::bench::Echo))
            .and_then(|e| e.register(typed(sleep.clone())))
            .and_then(|e| e.register(typed(Fail)))
            .and_then(|e| e.register(typed(Panic)))
            .and_then(|e| e.register(typed(Guarded)))
            .and_then(|e| e.register(typed(toolwire::tools::question::Question)))
            .expect("test tools register");
        let auth = Auth::Token(TokenDigest::of(TOKEN).expect("token"));
        let server = ToolServer::new(executor, auth, config);
        let shared = server.shared().clone();
        let sessions = server.sessions();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_tcp(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            url: format!("ws://{addr}/ws"),
            shared,
            sleep,
            sessions,
            stop: Some(stop),
            task: Some(task),
            workdir,
        }
    }

    pub async fn connect(&self) -> Peer {
        self.connect_with(PeerConfig::default()).await
    }

    pub async fn connect_with(&self, config: PeerConfig) -> Peer {
        within(
            Duration::from_secs(5),
            "connect",
            Peer::connect(
                &Endpoint::Url(self.url.clone()),
                Some(TOKEN),
                &WsConfig::default(),
                config,
            ),
        )
        .await
        .expect("connect")
    }

    /// The number of open sessions, to read or wait on.
    pub fn sessions(&self) -> tokio::sync::watch::Receiver<usize> {
        self.sessions.clone()
    }

    /// Starts shutdown; returns the serve task to await.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("server task")
    }
}

/// A raw WebSocket to the server (for protocol-level tests).
pub type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn raw_connect(server: &TestServer) -> RawSocket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server.url.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("header"),
    );
    let (socket, _) = within(
        Duration::from_secs(5),
        "raw connect",
        tokio_tungstenite::connect_async(request),
    )
    .await
    .expect("raw connect");
    socket
}

/// Sends a text frame.
pub async fn send_text(socket: &mut RawSocket, text: &str) {
    use futures::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            text.to_owned(),
        ))
        .await
        .expect("send");
}

/// The next text frame, parsed.
pub async fn next_json(socket: &mut RawSocket) -> serde_json::Value {
    use futures::StreamExt;
    loop {
        let frame = within(Duration::from_secs(5), "a frame", socket.next())
            .await
            .expect("socket open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("server sends JSON");
        }
    }
}
