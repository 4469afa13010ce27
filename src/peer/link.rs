//! [`Link`]: which connection the peer's frames go out on. One connection
//! for the peer's life without `resume`; with it, the link is cut when the
//! connection is lost and joined to the next one once that has resumed the
//! session. Senders meanwhile wait ("holding"); the ids they hold are not
//! listed as waiting in the resuming `hello`, because their requests have
//! not left yet.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::transport::{ConnectError, FrameSink, FrameStream};
use crate::wire::FrameWriter;

/// Opens a new connection to the same server (a fresh frame transport,
/// split), for reconnecting after a loss.
pub type Connector = Arc<
    dyn Fn() -> BoxFuture<'static, Result<(FrameSink, FrameStream), ConnectError>> + Send + Sync,
>;

/// The link's state.
#[derive(Default)]
pub(super) struct LinkState {
    /// The connection's writer; none between a loss and the resume.
    pub(super) writer: Option<Arc<FrameWriter>>,
    /// Requests whose senders wait for the next connection.
    holding: HashSet<u64>,
    /// Requests the last resuming `hello` listed as waiting: the server
    /// answers each, so a sender that held one must not send it again.
    announced: HashSet<u64>,
}

/// Which connection the peer's frames go out on.
pub(super) struct Link {
    state: watch::Sender<LinkState>,
}

/// What a sender may do with its frame now.
pub(super) enum Route {
    /// Write it to this connection.
    Send(Arc<FrameWriter>),
    /// The request was listed in the resuming `hello`: its answer comes
    /// without sending it.
    Announced,
}

impl Link {
    /// A link to the first connection.
    pub(super) fn new(writer: FrameWriter) -> Self {
        Self {
            state: watch::Sender::new(LinkState {
                writer: Some(Arc::new(writer)),
                ..LinkState::default()
            }),
        }
    }

    /// The current connection's writer, if there is one.
    pub(super) fn writer(&self) -> Option<Arc<FrameWriter>> {
        self.state.borrow().writer.clone()
    }

    /// Cuts the link after a loss: senders wait from now on.
    pub(super) fn cut(&self) {
        self.state.send_modify(|state| state.writer = None);
    }

    /// The requests to list as waiting when resuming: `pending` minus
    /// those whose senders hold them (not sent yet).
    pub(super) fn waiting(&self, pending: impl IntoIterator<Item = u64>) -> Vec<u64> {
        let state = self.state.borrow();
        pending
            .into_iter()
            .filter(|id| !state.holding.contains(id))
            .collect()
    }

    /// Joins the link to a resumed connection; `announced` are the requests
    /// its `hello` listed. Wakes every holding sender.
    pub(super) fn join(&self, writer: Arc<FrameWriter>, announced: Vec<u64>) {
        self.state.send_modify(|state| {
            state.writer = Some(writer);
            state.holding.clear();
            state.announced = announced.into_iter().collect();
        });
    }

    /// Completes once `writer` is no longer the link's (the reader cut it
    /// after noticing the loss, or it was already replaced).
    pub(super) async fn until_cut(&self, writer: &Arc<FrameWriter>) {
        let mut state = self.state.subscribe();
        let _ = state
            .wait_for(|state| {
                state
                    .writer
                    .as_ref()
                    .is_none_or(|current| !Arc::ptr_eq(current, writer))
            })
            .await;
    }

    /// Where request `id` goes: the current connection, or — while the link
    /// is cut — the next one, waited for here (the caller bounds the wait).
    pub(super) async fn route(&self, id: Option<u64>) -> Route {
        if let Some(writer) = self.writer() {
            return Route::Send(writer);
        }
        let mut state = self.state.subscribe();
        let joined = self.state.send_if_modified(|state| {
            if state.writer.is_none()
                && let Some(id) = id
            {
                state.holding.insert(id);
            }
            false
        });
        debug_assert!(!joined);
        let Ok(state) = state.wait_for(|state| state.writer.is_some()).await else {
            // The sender lives in `self`, so the wait cannot end this way.
            return Route::Announced;
        };
        match (&state.writer, id) {
            (_, Some(id)) if state.announced.contains(&id) => Route::Announced,
            (Some(writer), _) => Route::Send(writer.clone()),
            (None, _) => Route::Announced,
        }
    }
}
