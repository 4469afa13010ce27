//! The server's side of `resume`: a session whose connection is lost keeps
//! its calls running for [`ServerConfig::resume_grace`](super::ServerConfig)
//! and keeps their final frames, so a client that reconnects with the
//! session's id gets every result it still waits for, once.
//!
//! - [`Kept`]: the final frames a resumable session sent recently (the
//!   client may not have received them before the loss) or could not send
//!   (while no connection was there), bounded in count and bytes.
//! - [`ResumableSessions`]: the resumable sessions by id — parked ones
//!   (without a connection) until a `hello` takes one over or the grace runs
//!   out, and live ones, to take over from a connection not yet found dead.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::session::Session;
use crate::protocol::{ResponseFrame, ServerMessage};
use crate::transport::Text;

/// Final frames kept per session at most; older ones count as received.
/// Twice the default `max_in_flight`: a client cannot have more answers of
/// one connection outstanding than it has calls waiting.
pub(super) const KEPT_FRAMES: usize = 128;
/// Bytes of final frames kept per session at most.
pub(super) const KEPT_BYTES: usize = 8 << 20;

/// The recent final frames of one resumable session, by request id.
pub(super) struct Kept {
    /// The session's id, given in `hello`.
    pub(super) session: String,
    frames: Mutex<KeptFrames>,
}

#[derive(Default)]
struct KeptFrames {
    frames: VecDeque<(String, Text)>,
    bytes: usize,
}

impl Kept {
    /// A new session id and nothing kept.
    pub(super) fn new() -> Self {
        Self {
            session: uuid::Uuid::new_v4().simple().to_string(),
            frames: Mutex::default(),
        }
    }

    /// Keeps the final frame of request `id`, dropping the oldest beyond the bounds.
    pub(super) fn keep(&self, id: &str, frame: &Text) {
        let mut kept = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        kept.bytes += frame.len();
        kept.frames.push_back((id.to_owned(), frame.clone()));
        while kept.frames.len() > KEPT_FRAMES || kept.bytes > KEPT_BYTES {
            let Some((_, old)) = kept.frames.pop_front() else {
                break;
            };
            kept.bytes -= old.len();
        }
    }

    /// The kept frames of the requests in `waiting`; every other kept frame
    /// has been received (the client no longer waits for it) and is dropped.
    pub(super) fn for_waiting(&self, waiting: &HashSet<&str>) -> HashMap<String, Text> {
        let mut kept = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        kept.frames.retain(|(id, _)| waiting.contains(id.as_str()));
        kept.bytes = kept.frames.iter().map(|(_, frame)| frame.len()).sum();
        kept.frames.iter().cloned().collect()
    }
}

/// A session waiting for its client to come back.
pub(super) struct ParkedSession {
    pub(super) session: Arc<Session>,
    /// Tells the task that parked it that another connection took it over.
    pub(super) taken: oneshot::Sender<()>,
}

/// The resumable sessions of a server by id: those waiting for their client
/// (parked) and every one still alive (to take over from a connection the
/// server has not yet found dead).
#[derive(Default)]
pub(super) struct ResumableSessions {
    sessions: Mutex<HashMap<String, ParkedSession>>,
    live: Mutex<HashMap<String, Weak<Session>>>,
    /// Wakes a take-over waiting for a session to be parked.
    parked: Notify,
}

/// Sessions parked at most; a lost connection beyond this ends its session
/// at once, as without `resume`.
pub(super) const MAX_PARKED: usize = 1024;

impl ResumableSessions {
    /// Parks `parked` under `id`; gives it back when too many are parked.
    pub(super) fn park(&self, id: String, parked: ParkedSession) -> Result<(), ParkedSession> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_PARKED {
            return Err(parked);
        }
        sessions.insert(id, parked);
        drop(sessions);
        self.parked.notify_waiters();
        Ok(())
    }

    /// Takes the session parked under `id` out (to resume it, or because
    /// its grace ran out); `None` when there is none (any more).
    pub(super) fn take(&self, id: &str) -> Option<ParkedSession> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    /// Registers a resumable session by its id while it lives.
    pub(super) fn register(&self, id: &str, session: &Arc<Session>) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), Arc::downgrade(session));
    }

    /// Forgets an ended session.
    pub(super) fn forget(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    fn live(&self, id: &str) -> Option<Arc<Session>> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .and_then(Weak::upgrade)
    }
}

/// How long a take-over waits for a session still attached to another
/// connection to be let go.
const TAKE_OVER_WAIT: Duration = Duration::from_secs(2);

/// Takes session `id` over for a new connection: a parked one at once; one
/// still served by another connection (the client found it dead before the
/// server did) once that connection has been stopped and the session parked.
/// `None`: no such session (unknown, or ended).
pub(super) async fn take_over(sessions: &ResumableSessions, id: &str) -> Option<ParkedSession> {
    let deadline = tokio::time::Instant::now() + TAKE_OVER_WAIT;
    loop {
        let notified = sessions.parked.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(session) = sessions.take(id) {
            return Some(session);
        }
        sessions.live(id)?.supersede();
        tokio::time::timeout_at(deadline, notified).await.ok()?;
    }
}

/// How a parked session's wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parking {
    /// A new connection took the session over.
    TakenOver,
    /// Nobody came back within the grace (or the server shuts down): the
    /// session ends.
    Expired,
}

/// Parks a session whose connection was lost until a `hello` takes it
/// over or [`ServerConfig::resume_grace`](super::ServerConfig) runs out.
/// Its calls run on meanwhile; their final frames are kept.
pub(super) async fn park(session: &Arc<Session>) -> Parking {
    let Some(kept) = session.kept.get() else {
        return Parking::Expired;
    };
    let server = &session.server;
    let (taken, taken_over) = oneshot::channel();
    let parking = ParkedSession {
        session: session.clone(),
        taken,
    };
    if server
        .resumable
        .park(kept.session.clone(), parking)
        .is_err()
    {
        tracing::warn!(
            limit = MAX_PARKED,
            "too many sessions wait for their clients: this one ends"
        );
        return Parking::Expired;
    }
    tracing::info!(
        session = %kept.session,
        calls = session.calls.len(),
        "connection lost: the session waits for its client"
    );
    tokio::select! {
        taken = taken_over => if taken.is_ok() {
            return Parking::TakenOver;
        },
        () = tokio::time::sleep(server.config.resume_grace) => {}
        () = server.shutting_down.cancelled() => {}
    }
    // A `hello` may have taken it out meanwhile: then it is not ours to end.
    match server.resumable.take(&kept.session) {
        Some(_) => {
            tracing::info!(session = %kept.session, "no client came back: the session ends");
            Parking::Expired
        }
        None => Parking::TakenOver,
    }
}

/// Requests a resuming client may list as waiting, at most; more are not
/// answered (no client has that many calls of one session in flight).
pub(super) const MAX_WAITING: usize = 10_000;

/// Answers every request `waiting` lists on the session's new connection:
/// a result kept is sent again, a call still running answers when it ends,
/// and a request the session knows nothing of is answered with an error, so
/// no caller waits for ever. Running calls are looked at before kept
/// frames: a call ends by keeping its frame, then leaving the table.
pub(super) async fn replay(session: &Session, waiting: &[String]) {
    let waiting = &waiting[..waiting.len().min(MAX_WAITING)];
    let running: Vec<bool> = waiting
        .iter()
        .map(|id| session.calls.contains(id))
        .collect();
    let ids: HashSet<&str> = waiting.iter().map(String::as_str).collect();
    let kept = session
        .kept
        .get()
        .map(|kept| kept.for_waiting(&ids))
        .unwrap_or_default();
    let (mut resent, mut lost) = (0usize, 0usize);
    for (id, running) in waiting.iter().zip(running) {
        if running {
            continue;
        }
        match kept.get(id) {
            Some(frame) => {
                resent += 1;
                session.send_kept(frame.clone()).await;
            }
            None => {
                lost += 1;
                let error = format!(
                    "request {id:?} was lost with the connection: the resumed session has neither its call nor its result"
                );
                session
                    .send(&ServerMessage::Response(ResponseFrame::error(
                        id.clone(),
                        error,
                    )))
                    .await;
            }
        }
    }
    tracing::info!(waiting = waiting.len(), resent, lost, "session resumed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_frames_are_bounded_and_pruned_by_what_the_client_still_waits_for() {
        let kept = Kept::new();
        for n in 0..KEPT_FRAMES + 10 {
            kept.keep(&n.to_string(), &Text::from(format!("frame {n}")));
        }
        let waiting: HashSet<&str> = ["0", "130", "137"].into_iter().collect();
        let frames = kept.for_waiting(&waiting);
        assert!(!frames.contains_key("0"), "the oldest were dropped");
        assert_eq!(frames.len(), 2);
        assert_eq!(frames["137"].as_str(), "frame 137");
        let none: HashSet<&str> = HashSet::new();
        assert!(
            kept.for_waiting(&none).is_empty(),
            "received ones are dropped"
        );
    }

    #[test]
    fn kept_bytes_are_bounded() {
        let kept = Kept::new();
        let big = Text::from("x".repeat(KEPT_BYTES / 2 + 1));
        kept.keep("1", &big);
        kept.keep("2", &big);
        let waiting: HashSet<&str> = ["1", "2"].into_iter().collect();
        let frames = kept.for_waiting(&waiting);
        assert_eq!(frames.keys().collect::<Vec<_>>(), vec!["2"]);
    }
}
