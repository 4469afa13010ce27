//! One WebSocket session: a reader loop that dispatches frames, one writer
//! task that owns the socket's send half, and a task for each call that does
//! not finish on its first poll (which the reader makes).
//!
//! Every accepted request gets exactly one final `response` frame. A bad frame
//! gets an error frame and the session goes on. When the socket closes, every
//! call of the session is cancelled; on server shutdown the session stops
//! reading, lets calls finish within the grace period, cancels the rest and
//! closes with 1001.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use dashmap::DashMap;
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tracing::Instrument;

use super::Inner;
use super::calls::{CallStop, CallTable, StopReason};
use crate::bus::PermissionRequest;
use crate::context::{Asker, CallContext, ProgressSink, QuestionAnswer};
use crate::executor::Outcome;
use crate::protocol::{
    Ack, BusEvent, ClientMessage, InvalidMessage, PROTOCOL_VERSION, PermissionAsk, PermissionReply,
    QuestionAsk, QuestionInfo, ResponseFrame, ServerMessage, feature, parse_client_message,
};
use crate::tool::ToolRequest;

/// Close code for a message over the size limit.
const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a server going away.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Frames queued for the writer before senders wait.
const OUTBOX: usize = 1024;
/// Under a burst of requests the reader steps back after this many frames,
/// so the writer sends the answers so far while the rest are read: the
/// client starts on them sooner instead of waiting for the whole burst
/// (measured: echo rate ratio 0.68-0.79 without, 0.81-0.87 with 16).
const FRAMES_PER_YIELD: usize = 16;

/// What the writer task is told to do.
enum Outgoing {
    Frame(String),
    Close(u16, &'static str),
}

/// Features granted by `hello`.
#[derive(Debug, Default, Clone, Copy)]
struct Features {
    hello: bool,
    cancel: bool,
    progress: bool,
    interactive: bool,
    events: bool,
}

/// A reply to a server-originated ask.
enum AskReply {
    Permission(PermissionReply),
    Question(QuestionAnswer),
}

/// State of one session, shared by its reader, its calls and its askers.
struct Session {
    server: Arc<Inner>,
    outbox: mpsc::Sender<Outgoing>,
    features: RwLock<Features>,
    calls: CallTable,
    asks: DashMap<String, oneshot::Sender<AskReply>>,
    next_ask: AtomicU64,
    /// Parent of every call's token: fires when the session ends.
    closing: CancellationToken,
    /// The call tasks (and ask handlers); drained on close.
    tasks: TaskTracker,
    /// The bus forwarder, when the client asked for events; not a call, so
    /// it is not drained but stopped with the session.
    events: std::sync::Mutex<Option<AbortOnDropHandle<()>>>,
}

impl Session {
    fn features(&self) -> Features {
        *self
            .features
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn send(&self, message: &ServerMessage) {
        match crate::protocol::encode(message) {
            Ok(text) => {
                // Fails only when the writer is gone, i.e. the socket is closed.
                let _ = self.outbox.send(Outgoing::Frame(text)).await;
            }
            Err(e) => tracing::error!(error = %e, "could not encode a frame"),
        }
    }

    async fn refuse(&self, invalid: InvalidMessage) {
        tracing::debug!(id = %invalid.id, reason = %invalid.reason, "refused a frame");
        let ack = Ack {
            id: invalid.id.clone(),
            error: invalid.reason.clone(),
        };
        let message = match invalid.kind.as_deref() {
            Some("set_rules") => ServerMessage::SetRules(ack),
            Some("set_active_tools") => ServerMessage::SetActiveTools(ack),
            Some("push_answers") => ServerMessage::PushAnswers(ack),
            _ => ServerMessage::Response(ResponseFrame::error(invalid.id, invalid.reason)),
        };
        self.send(&message).await;
    }
}

/// Runs one session until the socket closes or the server shuts down.
#[tracing::instrument(name = "session", skip_all, fields(session = %uuid::Uuid::new_v4().simple()))]
pub(super) async fn run(socket: WebSocket, server: Arc<Inner>) {
    tracing::debug!("client connected");
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outgoing) = mpsc::channel::<Outgoing>(OUTBOX);
    let writer = tokio::spawn(async move {
        // Everything queued is written with one flush: under load many
        // frames share a syscall, when idle each frame goes out at once.
        let mut batch = Vec::new();
        'writing: while outgoing.recv_many(&mut batch, 256).await > 0 {
            for item in batch.drain(..) {
                let result = match item {
                    Outgoing::Frame(text) => sink.feed(Message::Text(text.into())).await,
                    Outgoing::Close(code, reason) => {
                        let frame = CloseFrame {
                            code,
                            reason: reason.into(),
                        };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        break 'writing;
                    }
                };
                if result.is_err() {
                    break 'writing;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let session = Arc::new(Session {
        closing: CancellationToken::new(),
        server: server.clone(),
        outbox,
        features: RwLock::new(Features::default()),
        calls: CallTable::default(),
        asks: DashMap::new(),
        next_ask: AtomicU64::new(1),
        tasks: TaskTracker::new(),
        events: std::sync::Mutex::new(None),
    });

    let mut since_yield = 0usize;
    let close = loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            () = server.shutting_down.cancelled() => break Some((CLOSE_GOING_AWAY, "server shutting down")),
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                dispatch(&session, text.as_str()).await;
                since_yield += 1;
                if since_yield == FRAMES_PER_YIELD {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
            }
            Some(Ok(Message::Binary(_))) => {
                session
                    .refuse(InvalidMessage {
                        id: String::new(),
                        kind: None,
                        reason: "binary frames are not supported: send JSON text frames".into(),
                    })
                    .await;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None => break None,
            Some(Err(e)) => {
                if is_too_big(e) {
                    tracing::debug!("message over the size limit: closing with 1009");
                    break Some((CLOSE_TOO_BIG, "message too big"));
                }
                tracing::debug!("socket error: closing");
                break None;
            }
        }
    };

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
        server.config.cancel_grace + Duration::from_secs(1),
        session.tasks.wait(),
    )
    .await;
    if let Some((code, reason)) = close {
        let _ = session.outbox.send(Outgoing::Close(code, reason)).await;
    }
    drop(session);
    let _ = writer.await;
    tracing::debug!("client disconnected");
}

/// Whether a read error is tungstenite refusing a message over the size limit.
fn is_too_big(error: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    matches!(
        error.into_inner().downcast_ref::<Error>(),
        Some(Error::Capacity(CapacityError::MessageTooLong { .. }))
    )
}

async fn dispatch(session: &Arc<Session>, text: &str) {
    let message = match parse_client_message(text) {
        Ok(message) => message,
        Err(invalid) => return session.refuse(invalid).await,
    };
    let features = session.features();
    let server = &session.server;
    match message {
        ClientMessage::Tools { id } => {
            let tools = server.active_tool_infos();
            session.send(&ServerMessage::Tools { id, tools }).await;
        }
        ClientMessage::Request {
            id,
            request,
            timeout_ms,
        } => start_call(session, id, request, timeout_ms).await,
        ClientMessage::SetRules { id, rules } => {
            server.executor.shared().permissions.set_rules(rules);
            session.send(&ServerMessage::SetRules(ack(id))).await;
        }
        ClientMessage::SetActiveTools { id, active_tools } => {
            server.set_active_tools(active_tools);
            session.send(&ServerMessage::SetActiveTools(ack(id))).await;
        }
        ClientMessage::PushAnswers { id, answers } => {
            server.executor.shared().questions.push_answers(answers);
            session.send(&ServerMessage::PushAnswers(ack(id))).await;
        }
        ClientMessage::Hello { id, features, .. } => hello(session, id, &features).await,
        ClientMessage::Cancel { id, .. } if !features.cancel => {
            refuse_extension(session, id, "cancel").await
        }
        ClientMessage::PermissionReply { id, .. } if !features.hello => {
            refuse_extension(session, id, "permission_reply").await;
        }
        ClientMessage::QuestionReply { id, .. } if !features.hello => {
            refuse_extension(session, id, "question_reply").await;
        }
        ClientMessage::Cancel { id, target } => {
            session.calls.stop(&target, StopReason::Cancelled);
            session.send(&ServerMessage::Cancel(ack(id))).await;
        }
        ClientMessage::PermissionReply { id, reply } => {
            answer_ask(session, id, AskReply::Permission(reply)).await
        }
        ClientMessage::QuestionReply {
            id,
            answers,
            reject,
        } => {
            let answer = if reject {
                QuestionAnswer::Rejected
            } else {
                QuestionAnswer::Answers(answers)
            };
            answer_ask(session, id, AskReply::Question(answer)).await;
        }
    }
}

/// Extensions exist only for clients that said hello; to the others the
/// server answers exactly as sol's does to a type it does not know.
async fn refuse_extension(session: &Session, id: String, kind: &str) {
    session
        .refuse(InvalidMessage {
            id,
            kind: None,
            reason: format!("unknown message type: {kind}"),
        })
        .await;
}

fn ack(id: String) -> Ack {
    Ack {
        id,
        error: String::new(),
    }
}

async fn hello(session: &Arc<Session>, id: String, wanted: &[String]) {
    let wants = |name: &str| wanted.iter().any(|w| w == name);
    let granted = Features {
        hello: true,
        cancel: wants(feature::CANCEL),
        progress: wants(feature::PROGRESS),
        interactive: wants(feature::INTERACTIVE),
        events: wants(feature::EVENTS),
    };
    let previous = std::mem::replace(
        &mut *session
            .features
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        granted,
    );
    let features: Vec<String> = feature::ALL
        .iter()
        .filter(|f| wants(f))
        .map(|f| (*f).to_owned())
        .collect();
    session
        .send(&ServerMessage::Hello {
            id,
            version: PROTOCOL_VERSION,
            features,
        })
        .await;
    if granted.events && !previous.events {
        forward_events(session);
    }
}

fn forward_events(session: &Arc<Session>) {
    let mut events = session.server.executor.shared().bus.subscribe();
    let weak = Arc::downgrade(session);
    let closing = session.closing.clone();
    let task = tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = closing.cancelled() => return,
            };
            let event = match event {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "event subscriber lagged");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Some(session) = weak.upgrade() else {
                return;
            };
            if !session.features().events {
                return;
            }
            session.send(&ServerMessage::Event { event }).await;
        }
    });
    *session
        .events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(AbortOnDropHandle::new(task));
}

async fn answer_ask(session: &Session, id: String, reply: AskReply) {
    match session.asks.remove(&id) {
        Some((_, waiter)) => {
            let _ = waiter.send(reply);
        }
        None => {
            session
                .refuse(InvalidMessage {
                    id: id.clone(),
                    kind: None,
                    reason: format!(
                        "no pending ask with id {id:?} (already answered or timed out)"
                    ),
                })
                .await;
        }
    }
}

async fn start_call(
    session: &Arc<Session>,
    id: String,
    request: ToolRequest,
    timeout_ms: Option<u64>,
) {
    let server = &session.server;
    let refusal = if server.shutting_down.is_cancelled() {
        Some("the tool server is shutting down".to_owned())
    } else if !server.is_active(&request.tool_name) {
        Some(if server.executor.has_tool(&request.tool_name) {
            format!("tool {:?} not available", request.tool_name)
        } else {
            format!("unknown tool: {:?}", request.tool_name)
        })
    } else if session.calls.len() >= server.config.max_in_flight {
        Some(format!(
            "busy: {} calls are already in flight on this connection (limit {})",
            session.calls.len(),
            server.config.max_in_flight
        ))
    } else {
        None
    };
    if let Some(error) = refusal {
        return session
            .send(&ServerMessage::Response(ResponseFrame::error(id, error)))
            .await;
    }
    let stop = Arc::new(CallStop::child_of(&session.closing));
    if !session.calls.insert_new(&id, stop.clone()) {
        let error = format!("duplicate request id {id:?}: a call with this id is still running");
        return session
            .send(&ServerMessage::Response(ResponseFrame::error(id, error)))
            .await;
    }
    let timeout = timeout_ms.map_or(server.config.call_timeout, Duration::from_millis);
    let span = tracing::debug_span!("call", id = %id, tool = %request.tool_name, tool_call_id = %request.tool_call_id);
    let mut call = Box::pin(run_call(session.clone(), id, request, timeout, stop).instrument(span));
    // The call's first poll happens here, in the reader. Most calls (echo,
    // read, edit, a denied command) finish on it, and a task of their own
    // would cost an aligned allocation, two copies of the whole call state
    // and a scheduling round (callgrind: about a fifth of the server's
    // instructions per echo call). A call that waits gets its own task.
    if futures::poll!(call.as_mut()).is_pending() {
        session.tasks.spawn(call);
    }
}

async fn run_call(
    session: Arc<Session>,
    id: String,
    request: ToolRequest,
    timeout: Duration,
    stop: Arc<CallStop>,
) {
    let server = session.server.clone();
    let started = Instant::now();
    let shared = server.executor.shared();
    shared.bus.publish_with(|| BusEvent::ToolStarted {
        tool_call_id: request.tool_call_id.clone(),
        tool: request.tool_name.clone(),
        session_id: request.session_id.clone(),
    });
    let features = session.features();
    let mut ctx = CallContext::new(server.executor.workdir().to_path_buf(), shared.clone())
        .for_call(&request.tool_call_id, &request.session_id)
        .with_cancel(stop.cancel.clone());
    if features.interactive {
        ctx = ctx.with_asker(Arc::new(SessionAsker {
            session: Arc::downgrade(&session),
            call_id: id.clone(),
        }));
    }
    if features.progress {
        ctx = ctx.with_progress(Arc::new(SessionProgress {
            outbox: session.outbox.clone(),
            id: id.clone(),
        }));
    }

    // Kept for the `tool.completed` event only when somebody listens.
    let names = shared
        .bus
        .has_subscribers()
        .then(|| (request.tool_call_id.clone(), request.tool_name.clone()));
    let run = server.executor.run(request, ctx);
    tokio::pin!(run);
    // Most calls (echo, read, edit, a denied command) finish on their first
    // poll; only the others arm a timer. An armed timer costs the runtime a
    // wake-up of its own: with one per call it was one extra syscall per call.
    let outcome = match futures::poll!(&mut run) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => tokio::select! {
            outcome = &mut run => outcome,
            () = tokio::time::sleep(timeout) => {
                stop.stop(StopReason::TimedOut(timeout));
                stopped(&mut run, &stop, server.config.cancel_grace).await
            }
            () = stop.cancel.cancelled() => stopped(&mut run, &stop, server.config.cancel_grace).await,
        },
    };
    // A tool that noticed the cancellation first ends with an error of its
    // own; the client is told why the call was stopped instead.
    let outcome = match outcome {
        Outcome::Error(_) if stop.cancel.is_cancelled() => stop.outcome(),
        other => other,
    };
    // Free the id before answering, so a client may reuse it once it has the answer.
    session.calls.remove(&id);
    if let Some((tool_call_id, tool_name)) = names {
        shared.bus.publish_with(|| BusEvent::ToolCompleted {
            tool_call_id,
            tool: tool_name,
            outcome: outcome.label().to_owned(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    tracing::debug!(
        outcome = outcome.label(),
        elapsed_ms = started.elapsed().as_millis(),
        "call finished"
    );
    session
        .send(&ServerMessage::Response(outcome.into_frame(id)))
        .await;
}

/// After the call's token fired: give the tool `grace` to clean up (kill its
/// processes), then answer with why it stopped.
async fn stopped<F>(run: &mut std::pin::Pin<&mut F>, stop: &CallStop, grace: Duration) -> Outcome
where
    F: std::future::Future<Output = Outcome>,
{
    let _ = tokio::time::timeout(grace, run.as_mut()).await;
    stop.outcome()
}

/// Streams a call's output chunks as `progress` frames.
struct SessionProgress {
    outbox: mpsc::Sender<Outgoing>,
    id: String,
}

impl ProgressSink for SessionProgress {
    fn chunk(&self, text: &str) {
        let message = ServerMessage::Progress {
            id: self.id.clone(),
            chunk: text.to_owned(),
        };
        if let Ok(frame) = crate::protocol::encode(&message) {
            // Progress is best effort: when the outbox is full the chunk is
            // skipped (the final response still carries the whole output).
            let _ = self.outbox.try_send(Outgoing::Frame(frame));
        }
    }
}

/// Asks the session's client on behalf of one call.
struct SessionAsker {
    session: std::sync::Weak<Session>,
    call_id: String,
}

impl SessionAsker {
    async fn ask(&self, make: impl FnOnce(String) -> ServerMessage) -> Option<AskReply> {
        let session = self.session.upgrade()?;
        let id = format!("s{}", session.next_ask.fetch_add(1, Ordering::Relaxed));
        let (sender, receiver) = oneshot::channel();
        session.asks.insert(id.clone(), sender);
        // Removes the entry however the wait ends.
        struct Pending<'a>(&'a DashMap<String, oneshot::Sender<AskReply>>, &'a str);
        impl Drop for Pending<'_> {
            fn drop(&mut self) {
                self.0.remove(self.1);
            }
        }
        let _pending = Pending(&session.asks, &id);
        session.send(&make(id.clone())).await;
        let closing = session.closing.clone();
        let timeout = session.server.config.ask_timeout;
        tokio::select! {
            reply = tokio::time::timeout(timeout, receiver) => reply.ok()?.ok(),
            () = closing.cancelled() => None,
        }
    }
}

#[async_trait]
impl Asker for SessionAsker {
    async fn ask_permission(
        &self,
        tool_call_id: &str,
        request: &PermissionRequest,
    ) -> Option<PermissionReply> {
        let reply = self
            .ask(|id| {
                ServerMessage::PermissionAsk(PermissionAsk {
                    id,
                    call_id: self.call_id.clone(),
                    permission: request.permission.clone(),
                    patterns: request.patterns.clone(),
                    always: request.always.clone(),
                    tool_call_id: tool_call_id.to_owned(),
                    metadata: request.metadata.clone(),
                })
            })
            .await?;
        match reply {
            AskReply::Permission(reply) => Some(reply),
            AskReply::Question(_) => Some(PermissionReply::Reject),
        }
    }

    async fn ask_questions(
        &self,
        tool_call_id: &str,
        questions: &[QuestionInfo],
    ) -> Option<QuestionAnswer> {
        let reply = self
            .ask(|id| {
                ServerMessage::QuestionAsk(QuestionAsk {
                    id,
                    call_id: self.call_id.clone(),
                    questions: questions.to_vec(),
                    tool_call_id: tool_call_id.to_owned(),
                })
            })
            .await?;
        match reply {
            AskReply::Question(answer) => Some(answer),
            AskReply::Permission(_) => Some(QuestionAnswer::Rejected),
        }
    }
}
