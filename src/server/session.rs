//! One client session over any frame transport: the connection's reader
//! (`connection`) that hands each frame to `dispatch`, the [`FrameWriter`]
//! that owns the send half, and a task for each call that does not finish
//! on its first poll.
//!
//! Every accepted request gets exactly one final `response` frame. A bad
//! frame gets an error frame and the session goes on. When the peer goes
//! away every call of the session is cancelled — unless the client was
//! granted `resume` and the connection was lost rather than closed: then
//! the session waits for it (`resume`). On server shutdown the session
//! stops reading, lets calls finish within the grace period, cancels the
//! rest and closes with 1001.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Inner;
use super::ask::AskReply;
use super::call::CallTable;
use super::connection::{ConnectionStop, Stopped, read};
use super::resume::{self, Kept, Parking};
use crate::executor::stop::StopReason;
use crate::protocol::{Ack, ClientKind, InvalidMessage, ResponseFrame, ServerMessage};
use crate::transport::{CloseReason, Frame, FrameTransport, Text};
use crate::wire::{Contention, FrameWriter, PendingTable};

/// Features granted by `hello`.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Features {
    pub(super) hello: bool,
    pub(super) cancel: bool,
    pub(super) progress: bool,
    pub(super) interactive: bool,
    pub(super) events: bool,
    pub(super) transfer: bool,
}

/// State of one session, shared by its reader, its calls and its askers.
/// A session outlives its connection only when the client was granted
/// `resume`: it is then parked (`resume`) until a new connection takes it over.
pub(super) struct Session {
    pub(super) server: Arc<Inner>,
    /// The writer of the session's connection; none while a resumable
    /// session waits for its client.
    link: RwLock<Option<Arc<FrameWriter>>>,
    pub(super) features: RwLock<Features>,
    pub(super) calls: CallTable,
    /// The uploads and downloads among the calls, by request id.
    pub(super) transfers: dashmap::DashMap<String, super::transfer::Transfer>,
    pub(super) asks: PendingTable<String, AskReply>,
    pub(super) next_ask: AtomicU64,
    /// Parent of every call's token: fires when the session ends.
    pub(super) closing: CancellationToken,
    /// The call tasks; drained on close.
    pub(super) tasks: TaskTracker,
    /// The bus forwarder, when the client asked for events; not a call, so
    /// it is not drained but stopped with the session.
    pub(super) events: std::sync::Mutex<Option<crate::bus::TapGuard>>,
    /// Set once the client is granted `resume`: the session's id and its
    /// recent final frames.
    pub(super) kept: OnceLock<Kept>,
    /// Stops the reader of the connection serving the session.
    connection: std::sync::Mutex<Option<ConnectionStop>>,
}

impl Session {
    fn new(server: Arc<Inner>, writer: Arc<FrameWriter>) -> Self {
        Self {
            server,
            link: RwLock::new(Some(writer)),
            features: RwLock::new(Features::default()),
            calls: CallTable::default(),
            transfers: dashmap::DashMap::new(),
            asks: PendingTable::new(),
            next_ask: AtomicU64::new(1),
            closing: CancellationToken::new(),
            tasks: TaskTracker::new(),
            events: std::sync::Mutex::new(None),
            kept: OnceLock::new(),
            connection: std::sync::Mutex::new(None),
        }
    }

    /// Records which connection serves the session now.
    pub(super) fn serve_on(&self, stop: &ConnectionStop) {
        *self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(stop.clone());
    }

    /// Stops the connection serving the session, as lost: the client came
    /// back on another one before this one was found dead.
    pub(super) fn supersede(&self) {
        if let Some(stop) = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            stop.stop(Stopped::Superseded);
        }
    }

    pub(super) fn features(&self) -> Features {
        *self
            .features
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether nothing happened on the session yet: no `hello`, no call (a
    /// `hello` that resumes another session must come first).
    pub(super) fn is_new(&self) -> bool {
        !self.features().hello && self.calls.len() == 0
    }

    /// The writer of the session's connection, if it has one now.
    pub(super) fn writer(&self) -> Option<Arc<FrameWriter>> {
        self.link
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Moves the session onto `writer`'s connection (`None`: off any).
    pub(super) fn attach(&self, writer: Option<Arc<FrameWriter>>) {
        *self
            .link
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = writer;
    }

    /// Queues a best-effort frame (progress, events); `false` when it was
    /// dropped (queue full, or no connection).
    pub(super) fn try_send(&self, frame: Frame) -> bool {
        self.writer().is_some_and(|writer| writer.try_send(frame))
    }

    pub(super) async fn send(&self, message: &ServerMessage) {
        match crate::protocol::encode(message) {
            Ok(text) => self.send_text(text.into()).await,
            Err(e) => tracing::error!(error = %e, "could not encode a frame"),
        }
    }

    /// Sends a kept final frame again (after a resume).
    pub(super) async fn send_kept(&self, text: Text) {
        self.send_text(text).await;
    }

    async fn send_text(&self, text: Text) {
        // Without a connection the frame is dropped (final frames are kept
        // for the client's return); a send fails only when the socket is gone.
        if let Some(writer) = self.writer() {
            let _ = writer.send(Frame::Text(text), Contention::Shared).await;
        }
    }

    /// Sends the final answer of a running call and frees its id. A
    /// resumable session keeps the frame first, so a client that comes back
    /// finds it either running or kept.
    pub(super) async fn answer(&self, frame: ResponseFrame) {
        let message = ServerMessage::Response(frame);
        let text: Text = match crate::protocol::encode(&message) {
            Ok(text) => text.into(),
            Err(e) => return tracing::error!(error = %e, "could not encode a response"),
        };
        let ServerMessage::Response(frame) = &message else {
            return;
        };
        if let Some(kept) = self.kept.get() {
            kept.keep(&frame.id, &text);
        }
        // Free the id before answering, so a client may reuse it once it has the answer.
        self.calls.remove(&frame.id);
        self.send_text(text).await;
    }

    /// Answers a frame that cannot be served, correlated by its id and
    /// shaped as the ack its type expects.
    pub(super) async fn refuse(&self, invalid: InvalidMessage) {
        tracing::debug!(id = %invalid.id, reason = %invalid.reason, "refused a frame");
        let ack = Ack {
            id: invalid.id.clone(),
            error: invalid.reason.clone(),
        };
        let message = match invalid.kind {
            Some(ClientKind::SetRules) => ServerMessage::SetRules(ack),
            Some(ClientKind::SetActiveTools) => ServerMessage::SetActiveTools(ack),
            Some(ClientKind::PushAnswers) => ServerMessage::PushAnswers(ack),
            Some(
                ClientKind::Tools
                | ClientKind::Request
                | ClientKind::Hello
                | ClientKind::Cancel
                | ClientKind::PermissionReply
                | ClientKind::QuestionReply
                | ClientKind::Upload
                | ClientKind::UploadEnd
                | ClientKind::Download
                | ClientKind::Credit,
            )
            | None => ServerMessage::Response(ResponseFrame::error(invalid.id, invalid.reason)),
        };
        self.send(&message).await;
    }
}

/// Runs one connection until the peer goes away or the server shuts down.
/// Its session ends with it, unless the client may resume it: then the
/// session is parked (`resume`) and ends only if nobody takes it over.
#[tracing::instrument(name = "connection", skip_all, fields(connection = %uuid::Uuid::new_v4().simple()))]
pub(super) async fn run(transport: impl FrameTransport, server: Arc<Inner>) {
    tracing::debug!("client connected");
    server.sessions.send_modify(|n| *n += 1);
    let open = server.metrics().connection_opened();
    let (sink, stream) = transport.into_split();
    let writer = Arc::new(FrameWriter::start(sink, false, server.config.close_timeout));
    let session = Arc::new(Session::new(server.clone(), writer.clone()));
    let (session, ending) = read(session, &writer, stream).await;
    drop(open);
    let mut close = ending.close;
    if ending.lost && session.kept.get().is_some() && !server.shutting_down.is_cancelled() {
        session.attach(None);
        super::transfer::stop_all(&session);
        writer.finish(None).await;
        close = None;
        if resume::park(&session).await == Parking::TakenOver {
            server.sessions.send_modify(|n| *n = n.saturating_sub(1));
            return;
        }
    }
    end(&session).await;
    if let Some(kept) = session.kept.get() {
        server.resumable.forget(&kept.session);
    }
    let close = close.map(|(code, reason)| Frame::Close(Some(CloseReason { code, reason })));
    writer.finish(close).await;
    drop(session);
    server.sessions.send_modify(|n| *n = n.saturating_sub(1));
    tracing::debug!("client disconnected");
}

/// Ends a session: on shutdown its calls get the grace period, otherwise
/// they are stopped at once; each answers (or is dropped) within the
/// executor's cancel grace.
async fn end(session: &Session) {
    let server = &session.server;
    if server.shutting_down.is_cancelled() {
        // Let running calls finish within the grace period, then cancel the rest.
        session.tasks.close();
        if tokio::time::timeout(server.config.shutdown_grace, session.tasks.wait())
            .await
            .is_err()
        {
            session.calls.stop_all(StopReason::ShuttingDown);
        }
    } else {
        session.calls.stop_all(StopReason::Disconnected);
    }
    session.tasks.close();
    session.closing.cancel();
    session
        .events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    // Calls answer (or are dropped) within cancel_grace; the margin covers the send.
    let _ = tokio::time::timeout(
        server.executor.cancel_grace() + Duration::from_secs(1),
        session.tasks.wait(),
    )
    .await;
}
