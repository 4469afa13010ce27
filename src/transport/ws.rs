//! [`WsTransport`]: one WebSocket connection, many calls in flight.
//!
//! A writer task batches queued frames into one flush (an uncontended caller
//! writes its own frame, see `Shared::send`); one reader task routes every
//! frame by `id` to a pending table of oneshot senders. An entry is removed by
//! a guard when its caller stops waiting (answer, timeout, drop). When the
//! connection ends the reason is recorded first, then every waiting caller
//! fails with that same error at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::Transport;
use crate::context::QuestionAnswer;
use crate::executor::CallError;
use crate::protocol::{
    Ack, BusEvent, ClientMessage, PROTOCOL_VERSION, PermissionAsk, PermissionReply, PermissionRule,
    QuestionAsk, ResponseFrame, ServerMessage, feature,
};
use crate::tool::{ToolInfo, ToolRequest, ToolResponse};

/// Answers a server's interactive permission and question asks.
#[async_trait]
pub trait InteractiveHandler: Send + Sync {
    /// Decides a permission ask.
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply;
    /// Answers questions.
    async fn questions(&self, ask: QuestionAsk) -> QuestionAnswer;
}

/// Called with `(request id, chunk)` for each `progress` frame.
pub type ProgressCallback = Arc<dyn Fn(&str, &str) + Send + Sync>;
/// Called with each forwarded bus event.
pub type EventCallback = Arc<dyn Fn(BusEvent) + Send + Sync>;

/// Options of a [`WsTransport`]. Every field has a documented default.
#[derive(Clone)]
#[non_exhaustive]
pub struct WsConfig {
    /// Time to connect and finish the handshake (and `hello`). Default 10 s.
    pub connect_timeout: Duration,
    /// Caller-side limit on one call; when it expires the server is told to
    /// cancel (if it speaks `cancel`). Default none (the server's own call
    /// timeout applies).
    pub call_timeout: Option<Duration>,
    /// Limit on control round trips (`tools`, `set_rules`, ...). Default 30 s.
    pub control_timeout: Duration,
    /// Largest message accepted from the server. Default 64 MiB.
    pub max_message_bytes: usize,
    /// Say `hello` and use extensions. Default true; a server that does not
    /// know `hello` (sol's) is then spoken to in the core protocol.
    pub extensions: bool,
    /// Receives `progress` chunks (asks for the `progress` feature).
    pub on_progress: Option<ProgressCallback>,
    /// Receives bus events (asks for the `events` feature).
    pub on_event: Option<EventCallback>,
    /// Answers asks on the same connection (asks for the `interactive` feature).
    pub interactive: Option<Arc<dyn InteractiveHandler>>,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            call_timeout: None,
            control_timeout: Duration::from_secs(30),
            max_message_bytes: 64 << 20,
            extensions: true,
            on_progress: None,
            on_event: None,
            interactive: None,
        }
    }
}

impl std::fmt::Debug for WsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("control_timeout", &self.control_timeout)
            .field("extensions", &self.extensions)
            .field("progress", &self.on_progress.is_some())
            .field("events", &self.on_event.is_some())
            .field("interactive", &self.interactive.is_some())
            .finish_non_exhaustive()
    }
}

impl WsConfig {
    /// Sets [`WsConfig::call_timeout`].
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }
    /// Sets [`WsConfig::extensions`].
    #[must_use]
    pub fn extensions(mut self, on: bool) -> Self {
        self.extensions = on;
        self
    }
    /// Sets [`WsConfig::on_progress`].
    #[must_use]
    pub fn on_progress(mut self, callback: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(callback));
        self
    }
    /// Sets [`WsConfig::on_event`].
    #[must_use]
    pub fn on_event(mut self, callback: impl Fn(BusEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }
    /// Sets [`WsConfig::interactive`].
    #[must_use]
    pub fn interactive(mut self, handler: Arc<dyn InteractiveHandler>) -> Self {
        self.interactive = Some(handler);
        self
    }
    /// Sets [`WsConfig::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    fn wanted_features(&self) -> Vec<String> {
        let mut features = vec![feature::CANCEL.to_owned()];
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

/// Where a tool server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A `ws://host:port/ws` URL.
    Url(String),
    /// A Unix socket; the WebSocket is spoken over it at `/ws`.
    Unix(PathBuf),
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The server said 401: the token is missing or wrong.
    #[error("the tool server refused the token (401): check the token you were given")]
    Unauthorized,
    /// The URL cannot be used.
    #[error("invalid tool server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection or handshake within the connect timeout.
    #[error("could not connect to the tool server within {0:?}")]
    Timeout(Duration),
    /// The server answered the handshake with another HTTP status.
    #[error("the tool server answered the handshake with HTTP {0}")]
    Status(u16),
    /// Network or WebSocket failure.
    #[error("could not connect to the tool server: {0}")]
    Io(String),
}

type Waiter = oneshot::Sender<ServerMessage>;

/// The socket's send half, shared by the writer task and uncontended callers.
type BoxSink = std::pin::Pin<Box<dyn futures::Sink<Message, Error = tungstenite::Error> + Send>>;

struct Shared {
    outbox: mpsc::Sender<Message>,
    sink: Arc<tokio::sync::Mutex<BoxSink>>,
    /// Waiting round trips by request id (this client's own counter).
    pending: DashMap<u64, Waiter>,
    /// Round trips waiting for their answer (`DashMap::len` locks every shard).
    waiting: AtomicUsize,
    next_id: AtomicU64,
    closed: CancellationToken,
    close_reason: OnceLock<CallError>,
    cancel_supported: OnceLock<bool>,
    config: WsConfig,
}

impl Shared {
    /// Records why the connection ended (the first reason wins) and fails
    /// every waiter: dropping its sender ends its wait with that reason.
    fn fail_all(&self, reason: CallError) {
        let _ = self.close_reason.set(reason);
        self.closed.cancel();
        self.pending.clear();
    }

    fn reason(&self) -> CallError {
        self.close_reason
            .get()
            .cloned()
            .unwrap_or(CallError::Closed)
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    async fn send(&self, message: &ClientMessage) -> Result<(), CallError> {
        let text =
            crate::protocol::encode(message).map_err(|e| CallError::Protocol(e.to_string()))?;
        if self.closed.is_cancelled() {
            return Err(self.reason());
        }
        // Fast path: this is the only call waiting, nothing is queued and
        // nobody is writing, so this caller writes its own frame. Handing it
        // to the writer task instead costs a task wake-up, which on a
        // multi-thread runtime also wakes a parked worker to look for work:
        // measured as most of the latency gap to a raw echo. With other calls
        // in flight, more frames follow soon (answers come in bursts), so
        // frames go to the writer task, which batches them into one flush:
        // a flush per frame was one syscall per call. Only the caller's own
        // frame is at stake if it is cancelled mid-write (tungstenite buffers
        // whole frames, the next flush sends the rest).
        if self.waiting.load(Ordering::Relaxed) <= 1
            && self.outbox.capacity() == self.outbox.max_capacity()
            && let Ok(mut sink) = self.sink.try_lock()
        {
            return sink
                .send(Message::text(text))
                .await
                .map_err(|_| self.reason());
        }
        self.outbox
            .send(Message::text(text))
            .await
            .map_err(|_| self.reason())
    }

    /// Sends a message with a fresh id and waits for the frame with that id.
    async fn round_trip(
        &self,
        make: impl FnOnce(String) -> ClientMessage,
        timeout: Option<Duration>,
    ) -> Result<ServerMessage, CallError> {
        let id = self.next_id();
        let (sender, receiver) = oneshot::channel();
        self.pending.insert(id, sender);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _guard = PendingGuard { shared: self, id };
        // A connection that ends drops every waiter after recording why
        // (`fail_all`), so the reply is all there is to wait for; a caller that
        // registers after that finds the connection closed in `send`.
        self.send(&make(id.to_string())).await?;
        let reply = async { receiver.await.map_err(|_| self.reason()) };
        let Some(timeout) = timeout else {
            return reply.await;
        };
        match tokio::time::timeout(timeout, reply).await {
            Ok(reply) => reply,
            Err(_) => {
                if self.cancel_supported.get().copied().unwrap_or(false) {
                    let cancel = ClientMessage::Cancel {
                        id: self.next_id().to_string(),
                        target: id.to_string(),
                    };
                    let _ = self.send(&cancel).await;
                }
                Err(CallError::TimedOut { timeout })
            }
        }
    }
}

/// Removes a pending entry when its caller stops waiting, however it stops.
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.pending.remove(&self.id);
        self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A WebSocket connection to a tool server; many calls in flight, correlated by id.
pub struct WsTransport {
    shared: Arc<Shared>,
    features: Vec<String>,
    _reader: AbortOnDropHandle<()>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("features", &self.features)
            .field("closed", &self.shared.closed.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl WsTransport {
    /// Connects to `ws://host:port/ws` with a bearer `token` (`None`: no auth header).
    ///
    /// # Errors
    /// [`ConnectError`] when the URL is bad, the server is unreachable, the
    /// token is refused, or the handshake does not finish in time.
    pub async fn connect(
        url: &str,
        token: Option<&str>,
        config: WsConfig,
    ) -> Result<Self, ConnectError> {
        Self::connect_to(&Endpoint::Url(url.to_owned()), token, config).await
    }

    /// Connects to an [`Endpoint`] (URL or Unix socket).
    ///
    /// # Errors
    /// As [`WsTransport::connect`].
    pub async fn connect_to(
        endpoint: &Endpoint,
        token: Option<&str>,
        config: WsConfig,
    ) -> Result<Self, ConnectError> {
        let url = match endpoint {
            Endpoint::Url(url) => url.clone(),
            Endpoint::Unix(_) => "ws://localhost/ws".to_owned(),
        };
        let mut request =
            url.as_str()
                .into_client_request()
                .map_err(|e| ConnectError::InvalidUrl {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
        if let Some(token) = token {
            let value =
                HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
                    ConnectError::InvalidUrl {
                        url: url.clone(),
                        reason: "the token contains characters not allowed in a header".into(),
                    }
                })?;
            request.headers_mut().insert("authorization", value);
        }
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(crate::protocol::READ_BUFFER_BYTES)
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        let limit = config.connect_timeout;
        let connecting = async {
            match endpoint {
                Endpoint::Url(_) => {
                    let (stream, _) = tokio_tungstenite::connect_async_with_config(
                        request,
                        Some(ws_config),
                        true,
                    )
                    .await?;
                    Ok::<_, tungstenite::Error>(Self::start(stream, config))
                }
                Endpoint::Unix(path) => {
                    let socket = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(tungstenite::Error::Io)?;
                    let (stream, _) = tokio_tungstenite::client_async_with_config(
                        request,
                        socket,
                        Some(ws_config),
                    )
                    .await?;
                    Ok(Self::start(stream, config))
                }
            }
        };
        let transport = match tokio::time::timeout(limit, connecting).await {
            Err(_) => return Err(ConnectError::Timeout(limit)),
            Ok(Err(tungstenite::Error::Http(response)))
                if response.status() == StatusCode::UNAUTHORIZED =>
            {
                return Err(ConnectError::Unauthorized);
            }
            Ok(Err(tungstenite::Error::Http(response))) => {
                return Err(ConnectError::Status(response.status().as_u16()));
            }
            Ok(Err(e)) => return Err(ConnectError::Io(e.to_string())),
            Ok(Ok(transport)) => transport,
        };
        transport.negotiate(limit).await
    }

    fn start<S>(stream: tokio_tungstenite::WebSocketStream<S>, config: WsConfig) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sink, mut source) = stream.split();
        let sink: Arc<tokio::sync::Mutex<BoxSink>> =
            Arc::new(tokio::sync::Mutex::new(Box::pin(sink)));
        let (outbox, mut outgoing) = mpsc::channel::<Message>(1024);
        let shared = Arc::new(Shared {
            outbox,
            sink: sink.clone(),
            pending: DashMap::new(),
            waiting: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            closed: CancellationToken::new(),
            close_reason: OnceLock::new(),
            cancel_supported: OnceLock::new(),
            config,
        });
        let writer_closed = shared.closed.clone();
        let writer = tokio::spawn(async move {
            // Everything queued goes out with one flush.
            let mut batch = Vec::new();
            'writing: loop {
                let received = tokio::select! {
                    n = outgoing.recv_many(&mut batch, 256) => n,
                    () = writer_closed.cancelled() => 0,
                };
                if received == 0 {
                    break;
                }
                // Frames reach this task only while other calls are in
                // flight, and their callers are usually runnable right now
                // (answers arrive in bursts). The runtime would run this task
                // first (it was woken last), so it steps back once to let
                // them queue their frames: one flush then carries the burst.
                tokio::task::yield_now().await;
                while batch.len() < 1024
                    && let Ok(message) = outgoing.try_recv()
                {
                    batch.push(message);
                }
                let mut sink = sink.lock().await;
                for message in batch.drain(..) {
                    let is_close = matches!(message, Message::Close(_));
                    if sink.feed(message).await.is_err() || is_close {
                        let _ = sink.flush().await;
                        break 'writing;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
            let _ = sink.lock().await.close().await;
        });
        let reader_shared = shared.clone();
        let reader = tokio::spawn(async move {
            let reason = loop {
                match source.next().await {
                    Some(Ok(Message::Text(text))) => route(&reader_shared, text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        break match frame {
                            Some(f) => format!(
                                "the server closed the connection ({} {})",
                                u16::from(f.code),
                                f.reason
                            ),
                            None => "the server closed the connection".to_owned(),
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("read error: {e}"),
                    None => break "the connection ended".to_owned(),
                }
            };
            tracing::debug!(%reason, "connection to the tool server ended");
            reader_shared.fail_all(CallError::ConnectionLost { reason });
        });
        Self {
            shared,
            features: Vec::new(),
            _reader: AbortOnDropHandle::new(reader),
            writer: tokio::sync::Mutex::new(Some(writer)),
        }
    }

    /// Says `hello` and records the granted features; against a server that
    /// does not know `hello` (sol's) falls back to the core protocol.
    async fn negotiate(mut self, limit: Duration) -> Result<Self, ConnectError> {
        if !self.shared.config.extensions {
            let _ = self.shared.cancel_supported.set(false);
            return Ok(self);
        }
        let features = self.shared.config.wanted_features();
        let reply = self
            .shared
            .round_trip(
                |id| ClientMessage::Hello {
                    id,
                    version: PROTOCOL_VERSION,
                    features,
                },
                Some(limit),
            )
            .await
            .map_err(|e| ConnectError::Io(format!("hello failed: {e}")))?;
        self.features = match reply {
            ServerMessage::Hello { features, .. } => features,
            ServerMessage::Response(frame) if frame.error.starts_with("unknown message type") => {
                tracing::debug!("the server does not speak extensions: using the core protocol");
                Vec::new()
            }
            other => {
                return Err(ConnectError::Io(format!(
                    "unexpected reply to hello: {other:?}"
                )));
            }
        };
        let _ = self
            .shared
            .cancel_supported
            .set(self.features.iter().any(|f| f == feature::CANCEL));
        Ok(self)
    }

    /// Features the server granted (empty for a core-only server).
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }

    /// Fails every pending and future call with `reason` and closes the
    /// connection (used when the sandbox is known to be gone).
    pub fn abort(&self, reason: CallError) {
        self.shared.fail_all(reason);
    }

    /// Sends one call with its own timeout (overriding [`WsConfig::call_timeout`]);
    /// the server is given the same timeout.
    ///
    /// # Errors
    /// As [`Transport::send`].
    pub async fn send_with_timeout(
        &self,
        request: ToolRequest,
        timeout: Option<Duration>,
    ) -> Result<ToolResponse, CallError> {
        let timeout_ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        let reply = self
            .shared
            .round_trip(
                |id| ClientMessage::Request {
                    id,
                    request,
                    timeout_ms: timeout_ms.filter(|_| !self.features.is_empty()),
                },
                timeout,
            )
            .await?;
        match reply {
            ServerMessage::Response(frame) => frame_result(frame),
            other => Err(CallError::Protocol(format!(
                "expected a response frame, got {other:?}"
            ))),
        }
    }

    async fn control(&self, make: impl FnOnce(String) -> ClientMessage) -> Result<(), CallError> {
        let reply = self
            .shared
            .round_trip(make, Some(self.shared.config.control_timeout))
            .await?;
        let ack = match reply {
            ServerMessage::SetRules(ack)
            | ServerMessage::SetActiveTools(ack)
            | ServerMessage::PushAnswers(ack) => ack,
            ServerMessage::Response(frame) => Ack {
                id: frame.id,
                error: frame.error,
            },
            other => {
                return Err(CallError::Protocol(format!(
                    "expected an ack, got {other:?}"
                )));
            }
        };
        if ack.error.is_empty() {
            Ok(())
        } else {
            Err(CallError::Refused(ack.error))
        }
    }
}

/// The client's view of a response frame, as sol's `WSTransport.Send` reads it.
fn frame_result(frame: ResponseFrame) -> Result<ToolResponse, CallError> {
    if let Some(p) = frame.permission_needed {
        return Err(CallError::PermissionNeeded(p));
    }
    if let Some(q) = frame.question_needed {
        return Err(CallError::QuestionNeeded(q));
    }
    if !frame.error.is_empty() {
        return Ok(ToolResponse {
            output: frame.error.clone(),
            error: frame.error,
            is_error: true,
            ..ToolResponse::default()
        });
    }
    frame
        .response
        .ok_or_else(|| CallError::Protocol("response frame without a response".into()))
}

/// Routes one frame from the server.
fn route(shared: &Arc<Shared>, text: &str) {
    let message = match crate::protocol::parse_server_message(text) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable frame from the tool server");
            return;
        }
    };
    match message {
        ServerMessage::Progress { id, chunk } => {
            if let Some(callback) = &shared.config.on_progress {
                callback(&id, &chunk);
            }
        }
        ServerMessage::Event { event } => {
            if let Some(callback) = &shared.config.on_event {
                callback(event);
            }
        }
        ServerMessage::PermissionAsk(ask) => answer_ask(shared, AskKind::Permission(ask)),
        ServerMessage::QuestionAsk(ask) => answer_ask(shared, AskKind::Question(ask)),
        other => {
            let Some(id) = other.id() else { return };
            let waiter = id.parse().ok().and_then(|id| shared.pending.remove(&id));
            match waiter {
                Some((_, waiter)) => {
                    let _ = waiter.send(other);
                }
                None => tracing::debug!(id, "frame for a call nobody waits for any more"),
            }
        }
    }
}

enum AskKind {
    Permission(PermissionAsk),
    Question(QuestionAsk),
}

/// Answers an ask in its own task (the handler may take long); the task ends
/// with the connection.
fn answer_ask(shared: &Arc<Shared>, ask: AskKind) {
    let Some(handler) = shared.config.interactive.clone() else {
        return;
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let reply = async {
            match ask {
                AskKind::Permission(ask) => {
                    let id = ask.id.clone();
                    let reply = handler.permission(ask).await;
                    ClientMessage::PermissionReply { id, reply }
                }
                AskKind::Question(ask) => {
                    let id = ask.id.clone();
                    match handler.questions(ask).await {
                        QuestionAnswer::Answers(answers) => ClientMessage::QuestionReply {
                            id,
                            answers,
                            reject: false,
                        },
                        QuestionAnswer::Rejected => ClientMessage::QuestionReply {
                            id,
                            answers: Vec::new(),
                            reject: true,
                        },
                    }
                }
            }
        };
        tokio::select! {
            reply = reply => { let _ = shared.send(&reply).await; }
            () = shared.closed.cancelled() => {}
        }
    });
}

#[async_trait]
impl Transport for WsTransport {
    async fn send(&self, request: ToolRequest) -> Result<ToolResponse, CallError> {
        self.send_with_timeout(request, self.shared.config.call_timeout)
            .await
    }

    async fn fetch_tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        let reply = self
            .shared
            .round_trip(
                |id| ClientMessage::Tools { id },
                Some(self.shared.config.control_timeout),
            )
            .await?;
        match reply {
            ServerMessage::Tools { tools, .. } => Ok(tools),
            ServerMessage::Response(frame) if !frame.error.is_empty() => {
                Err(CallError::Refused(frame.error))
            }
            other => Err(CallError::Protocol(format!(
                "expected a tools frame, got {other:?}"
            ))),
        }
    }

    async fn set_rules(&self, rules: Vec<PermissionRule>) -> Result<(), CallError> {
        self.control(|id| ClientMessage::SetRules { id, rules })
            .await
    }

    async fn set_active_tools(&self, tools: Vec<String>) -> Result<(), CallError> {
        self.control(|id| ClientMessage::SetActiveTools {
            id,
            active_tools: tools,
        })
        .await
    }

    async fn push_answers(&self, answers: Vec<Vec<String>>) -> Result<(), CallError> {
        self.control(|id| ClientMessage::PushAnswers { id, answers })
            .await
    }

    async fn close(&self) {
        if !self.shared.closed.is_cancelled() {
            let _ = self.shared.outbox.send(Message::Close(None)).await;
        }
        let writer = self.writer.lock().await.take();
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        }
        self.shared.fail_all(CallError::Closed);
    }
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        self.shared.fail_all(CallError::Closed);
    }
}
