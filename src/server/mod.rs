//! The tool server: serves a [`LocalExecutor`] over WebSocket at `/ws`,
//! answers `GET /health` and, behind the same bearer token as `/ws`,
//! `GET /metrics` (Prometheus text), on one TCP port or Unix socket.
//!
//! [`ToolServer::serve`] owns everything it starts: the accept loop, one task
//! per HTTP connection, one session per WebSocket and one task per call that
//! waits (a call that finishes on its first poll is run by the session's
//! reader). When the shutdown future completes it stops accepting, gives
//! in-flight calls [`ServerConfig::shutdown_grace`], cancels the rest,
//! answers each, closes every socket and returns. With an idle timeout it
//! also shuts down by itself once no client and no call was there for it.
//!
//! - `config`: [`ServerConfig`].
//! - `auth`: the bearer token check.
//! - `http`: `/metrics` and the WebSocket upgrade.
//! - `session`: one client over any frame transport (writer, drain).
//! - `connection`: a connection's reader and heartbeat.
//! - `resume`: sessions that outlive a lost connection.
//! - `dispatch`: frame → action, `hello`.
//! - `call`: admission, the call path, the table of running calls.
//! - `ask`: server-to-client asks.
//! - `transfer`: uploads and downloads (feature `transfer`).
//! - `forward`: events and progress.
//! - `face`: calls without a session ([`ToolServer::call`], the server as
//!   an [`Executor`](crate::Executor)) and services mounted beside `/ws`.

mod ask;
mod auth;
mod call;
mod config;
mod connection;
mod dispatch;
mod face;
mod forward;
mod http;
mod resume;
mod session;
mod transfer;

pub use auth::{Auth, MIN_TOKEN_BYTES, TokenDigest, TokenError};
pub use config::ServerConfig;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum::serve::{Listener, ListenerExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::SharedState;
use crate::executor::LocalExecutor;
use crate::metrics::ServerMetrics;

use crate::transport::FrameTransport;

/// State shared by every connection of one server.
struct Inner {
    executor: Arc<LocalExecutor>,
    auth: Auth,
    config: ServerConfig,
    /// Fires when shutdown begins: sessions stop reading and drain.
    shutting_down: CancellationToken,
    /// Every connection and session task.
    tasks: TaskTracker,
    /// How many client sessions are open (a watch, so callers can wait on it).
    sessions: tokio::sync::watch::Sender<usize>,
    /// Sessions waiting for their client to come back (feature `resume`).
    resumable: resume::ResumableSessions,
}

impl Inner {
    /// Served at `/metrics`; kept in the shared state, where permission
    /// checks count too.
    fn metrics(&self) -> &ServerMetrics {
        &self.executor.shared().metrics
    }
}

/// Serves a [`LocalExecutor`] over WebSocket. Cheap to clone.
#[derive(Clone)]
pub struct ToolServer {
    inner: Arc<Inner>,
    /// Services mounted beside `/ws` ([`ToolServer::with_service`]).
    extra: Router,
}

impl std::fmt::Debug for ToolServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolServer")
            .field("executor", &self.inner.executor)
            .field("auth", &self.inner.auth)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ToolServer {
    /// A server for `executor`'s tools (an `Arc` when something else keeps
    /// changing them, such as a tools-file watcher).
    pub fn new(executor: impl Into<Arc<LocalExecutor>>, auth: Auth, config: ServerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                executor: executor.into(),
                auth,
                config,
                shutting_down: CancellationToken::new(),
                tasks: TaskTracker::new(),
                sessions: tokio::sync::watch::channel(0).0,
                resumable: resume::ResumableSessions::default(),
            }),
            extra: Router::new(),
        }
    }

    /// The executor whose tools this server serves.
    pub fn executor(&self) -> &Arc<LocalExecutor> {
        &self.inner.executor
    }

    /// The number of open client sessions, to read or to wait on (a session
    /// is counted from its first frame until every call of it has answered).
    pub fn sessions(&self) -> tokio::sync::watch::Receiver<usize> {
        self.inner.sessions.subscribe()
    }

    /// Completes once the server has had no session (so no client and no
    /// running call) for `timeout` without a break.
    pub fn idle(&self, timeout: Duration) -> impl Future<Output = ()> + Send + 'static {
        let mut sessions = self.sessions();
        async move {
            loop {
                // The sender lives as long as the server, so these waits
                // end only by the count.
                if sessions.wait_for(|n| *n == 0).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(timeout) => return,
                    busy = sessions.wait_for(|n| *n > 0) => if busy.is_err() { return },
                }
            }
        }
    }

    /// The server's metrics, as `GET /metrics` serves them.
    pub fn metrics(&self) -> &ServerMetrics {
        self.inner.metrics()
    }

    /// The bus, permission rules and queued answers every call shares.
    pub fn shared(&self) -> &SharedState {
        self.inner.executor.shared()
    }

    /// Serves one client over any frame transport (an in-memory pair, a
    /// forwarded stream) until it goes away or the server shuts down. The
    /// caller authenticated it. The session counts as one of the server's
    /// tasks, so [`ToolServer::serve`]'s shutdown drains it too.
    pub fn serve_connection(
        &self,
        transport: impl FrameTransport,
    ) -> impl Future<Output = ()> + Send + 'static {
        let token = self.inner.tasks.token();
        let inner = self.inner.clone();
        async move {
            session::run(transport, inner).await;
            drop(token);
        }
    }

    /// The axum router (`/ws`, `/health`, `/metrics`), for embedding in another server.
    /// Sessions started through it are still drained by [`ToolServer::serve`]'s shutdown.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/ws", get(http::upgrade))
            .route("/metrics", get(http::metrics))
            .with_state(self.inner.clone())
            .merge(self.extra.clone())
    }

    /// Serves a TCP listener (with `TCP_NODELAY` on every connection) until
    /// `shutdown` completes, then drains as described in the module doc.
    pub async fn serve_tcp(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        self.serve(listener, shutdown).await;
    }

    /// Serves a Unix socket until `shutdown` completes, then drains.
    pub async fn serve_unix(
        self,
        listener: tokio::net::UnixListener,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        self.serve(listener, shutdown).await;
    }

    /// Serves any axum [`Listener`] until `shutdown` completes, then drains.
    pub async fn serve<L: Listener>(
        self,
        mut listener: L,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let service = TowerToHyperService::new(self.router());
        let inner = &self.inner;
        tokio::pin!(shutdown);
        let idle = self
            .inner
            .config
            .idle_timeout
            .map(|timeout| self.idle(timeout));
        let idle = async move {
            match idle {
                Some(idle) => {
                    idle.await;
                    tracing::info!("no client and no call for the idle timeout");
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(idle);
        loop {
            let (io, _addr) = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut shutdown => break,
                () = &mut idle => break,
            };
            let service = service.clone();
            let stop = inner.shutting_down.clone();
            let handshake_timeout = inner.config.handshake_timeout;
            inner.tasks.spawn(async move {
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(handshake_timeout);
                let connection = http
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                tokio::pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "http connection ended with an error");
                        }
                    }
                    () = stop.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
                    }
                }
            });
        }
        drop(listener);
        tracing::info!("shutting down: no new connections, draining in-flight calls");
        inner.shutting_down.cancel();
        inner.tasks.close();
        let limit =
            inner.config.shutdown_grace + inner.executor.cancel_grace() + Duration::from_secs(2);
        if tokio::time::timeout(limit, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish draining in time");
        }
    }
}
