//! What the peer, its reader task and its ask tasks share: the writer, the
//! pending table, the connection's end and its reason, and the round trip
//! every call and control message makes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::PeerConfig;
use super::link::{Connector, Link, Route};
use crate::error::CallError;
use crate::protocol::{ClientMessage, ServerMessage};
use crate::transport::Frame;
use crate::wire::{Contention, PendingTable};

/// State shared by the peer, its reader task and its ask tasks.
pub(super) struct Shared {
    /// The connection frames go out on (it changes after a resume).
    pub(super) link: Link,
    /// Opens a new connection after a loss; `None`: the peer cannot reconnect.
    pub(super) connector: Option<Connector>,
    /// The session id the server gave for `resume`, when it granted it.
    pub(super) resume_session: OnceLock<String>,
    pub(super) pending: PendingTable<u64, ServerMessage>,
    /// The uploads and downloads among the pending requests.
    pub(super) transfers: dashmap::DashMap<u64, super::transfer::Transfer>,
    pub(super) next_id: AtomicU64,
    pub(super) closed: CancellationToken,
    pub(super) close_reason: OnceLock<CallError>,
    /// Asks being answered, by the request they belong to.
    pub(super) asks_by_call: std::sync::Mutex<std::collections::HashMap<u64, usize>>,
    /// Calls with their own asker or progress sink, by request id.
    pub(super) call_hooks:
        std::sync::Mutex<std::collections::HashMap<u64, super::hooks::CallHooks>>,
    /// Frames seen, for the heartbeat.
    pub(super) liveness: crate::wire::heartbeat::Liveness,
    /// Explains a lost connection (a launcher's report of how the sandbox ended).
    pub(super) explanation: OnceLock<watch::Receiver<Option<CallError>>>,
    pub(super) cancel_supported: OnceLock<bool>,
    pub(super) ask_slots: Arc<Semaphore>,
    /// The ask handler tasks.
    pub(super) tasks: TaskTracker,
    pub(super) config: PeerConfig,
}

impl Shared {
    /// Records why the connection ended (the first reason wins) and fails
    /// every waiter: dropping its sender ends its wait with that reason.
    pub(super) fn fail_all(&self, reason: CallError) {
        let _ = self.close_reason.set(reason);
        self.closed.cancel();
        self.pending.clear();
    }

    pub(super) fn reason(&self) -> CallError {
        self.close_reason
            .get()
            .cloned()
            .unwrap_or(CallError::Closed)
    }

    pub(super) fn encode(message: &ClientMessage) -> Result<Frame, CallError> {
        crate::protocol::encode(message)
            .map(|text| Frame::Text(text.into()))
            .map_err(|e| CallError::Protocol(e.to_string()))
    }

    /// A fresh request id.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether a lost connection is reconnected and its session resumed.
    pub(super) fn resumable(&self) -> bool {
        self.connector.is_some() && self.resume_session.get().is_some()
    }

    /// Sends `message` (the request `id`, if it is one). While the link is
    /// cut after a loss it waits for the resumed connection; a request the
    /// resuming `hello` already listed is not sent again.
    pub(super) async fn send(
        &self,
        message: &ClientMessage,
        contention: Contention,
        id: Option<u64>,
    ) -> Result<(), CallError> {
        self.send_frame(Self::encode(message)?, contention, id)
            .await
    }

    /// Sends a frame as [`Shared::send`] sends a message.
    pub(super) async fn send_frame(
        &self,
        mut frame: Frame,
        contention: Contention,
        id: Option<u64>,
    ) -> Result<(), CallError> {
        loop {
            if self.closed.is_cancelled() {
                return Err(self.reason());
            }
            let writer = match self.link.writer() {
                Some(writer) => writer,
                None => {
                    let route = tokio::select! {
                        route = self.link.route(id) => route,
                        () = self.closed.cancelled() => return Err(self.reason()),
                    };
                    match route {
                        Route::Send(writer) => writer,
                        Route::Announced => return Ok(()),
                    }
                }
            };
            match writer.send_or_return(frame, contention).await {
                Ok(()) => return Ok(()),
                // A writer that stopped: the connection is lost. With
                // resume, the frame goes out on the next one.
                Err(back) if self.resumable() => {
                    frame = back;
                    tokio::select! {
                        () = self.link.until_cut(&writer) => {}
                        () = self.closed.cancelled() => return Err(self.reason()),
                    }
                }
                Err(_) => return Err(self.reason()),
            }
        }
    }

    /// Queues a frame without waiting (cancels, refusals of asks); dropped
    /// while there is no connection.
    pub(super) fn send_best_effort(&self, message: &ClientMessage) {
        if let Ok(frame) = Self::encode(message)
            && let Some(writer) = self.link.writer()
        {
            let _ = writer.try_send(frame);
        }
    }

    /// Sends a message with a fresh id and waits for the frame with that id.
    /// `timeout` bounds the whole exchange, writing the request included, so
    /// a server that stops reading cannot hold the caller past it.
    pub(super) async fn round_trip(
        &self,
        make: impl FnOnce(String) -> ClientMessage,
        timeout: Option<Duration>,
        cancel: Option<&CancellationToken>,
    ) -> Result<ServerMessage, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let Some(mut pending) = self.pending.register(id) else {
            return Err(CallError::Protocol(format!("request id {id} is in use")));
        };
        let contention = if self.pending.len() <= 1 {
            Contention::Alone
        } else {
            Contention::Shared
        };
        let exchange = async {
            self.send(&make(id.to_string()), contention, Some(id))
                .await?;
            // A connection that ends drops every waiter after recording why.
            pending.wait().await.ok_or_else(|| self.reason())
        };
        if timeout.is_none() && cancel.is_none() {
            return exchange.await;
        }
        let expired = async {
            match timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let cancelled = async {
            match cancel {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            reply = exchange => reply,
            () = expired => {
                self.cancel_remote(id);
                Err(CallError::TimedOut { timeout: timeout.unwrap_or_default() })
            }
            () = cancelled => {
                self.cancel_remote(id);
                Err(CallError::Cancelled)
            }
        }
    }

    /// Tells the server to stop request `target`, if it speaks `cancel`.
    pub(super) fn cancel_remote(&self, target: u64) {
        if self.cancel_supported.get().copied().unwrap_or(false) {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            self.send_best_effort(&ClientMessage::Cancel {
                id: id.to_string(),
                target: target.to_string(),
            });
        }
    }
}
