//! Opening a [`Peer`]: over a WebSocket to an endpoint, over any connector
//! (which also opens the next connection after a loss), or over one given
//! transport; then `hello`, with the fallback to sol's core protocol.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use super::link::{Connector, Link};
use super::shared::Shared;
use super::{Peer, PeerConfig, reader};
use crate::error::CallError;
use crate::protocol::{ClientMessage, PROTOCOL_VERSION, ServerKind, ServerMessage, feature};
use crate::transport::{ConnectError, Endpoint, FrameTransport, WsConfig, WsTransport};
use crate::wire::heartbeat::Liveness;
use crate::wire::{FrameWriter, PendingTable};

impl Peer {
    /// Opens a WebSocket to `endpoint` and starts a peer over it; after a
    /// lost connection it reconnects to the same endpoint (feature `resume`,
    /// [`PeerConfig::resume`]).
    ///
    /// # Errors
    /// [`ConnectError`] when the connection or `hello` fails.
    pub async fn connect(
        endpoint: &Endpoint,
        token: Option<&str>,
        ws: &WsConfig,
        config: PeerConfig,
    ) -> Result<Self, ConnectError> {
        let (endpoint, token, ws) = (endpoint.clone(), token.map(str::to_owned), ws.clone());
        let connector: Connector = Arc::new(move || {
            let (endpoint, token, ws) = (endpoint.clone(), token.clone(), ws.clone());
            Box::pin(async move {
                WsTransport::connect(&endpoint, token.as_deref(), &ws)
                    .await
                    .map(FrameTransport::into_split)
            })
        });
        Self::connect_with(connector, config).await
    }

    /// Opens a connection with `connector` and starts a peer over it; after
    /// a lost connection `connector` opens the next one (any stream: a
    /// forwarded port, a test channel).
    ///
    /// # Errors
    /// [`ConnectError`] when the connection or `hello` fails.
    pub async fn connect_with(
        connector: Connector,
        config: PeerConfig,
    ) -> Result<Self, ConnectError> {
        let transport = connector().await?;
        Self::start_over(transport, Some(connector), config).await
    }

    /// Starts a peer over `transport` and says `hello` (unless extensions
    /// are off); against a server that does not know `hello` (sol's) it
    /// falls back to the core protocol. A lost connection is not
    /// reconnected (there is no way to open another).
    ///
    /// # Errors
    /// [`ConnectError`] when `hello` gets no usable answer in time.
    pub async fn start(
        transport: impl FrameTransport,
        config: PeerConfig,
    ) -> Result<Self, ConnectError> {
        Self::start_over(transport, None, config).await
    }

    async fn start_over(
        transport: impl FrameTransport,
        connector: Option<Connector>,
        config: PeerConfig,
    ) -> Result<Self, ConnectError> {
        let (sink, stream) = transport.into_split();
        let shared = Arc::new(Shared {
            link: Link::new(FrameWriter::start(sink, true, config.close_timeout)),
            connector: connector.filter(|_| config.resume),
            resume_session: OnceLock::new(),
            transfers: dashmap::DashMap::new(),
            pending: PendingTable::new(),
            next_id: AtomicU64::new(1),
            closed: CancellationToken::new(),
            close_reason: OnceLock::new(),
            explanation: OnceLock::new(),
            cancel_supported: OnceLock::new(),
            ask_slots: Arc::new(Semaphore::new(config.max_concurrent_asks)),
            tasks: TaskTracker::new(),
            liveness: Liveness::default(),
            asks_by_call: std::sync::Mutex::default(),
            call_hooks: std::sync::Mutex::default(),
            config,
        });
        let reader = tokio::spawn(reader::read(shared.clone(), stream));
        let peer = Self {
            shared,
            features: Vec::new(),
            _reader: AbortOnDropHandle::new(reader),
        };
        peer.negotiate().await
    }

    async fn negotiate(mut self) -> Result<Self, ConnectError> {
        if !self.shared.config.extensions {
            let _ = self.shared.cancel_supported.set(false);
            return Ok(self);
        }
        let limit = self.shared.config.hello_timeout;
        let features = self
            .shared
            .config
            .wanted_features(self.shared.connector.is_some());
        let reply = self
            .shared
            .round_trip(
                |id| ClientMessage::Hello {
                    id,
                    version: PROTOCOL_VERSION,
                    features,
                    resume: None,
                },
                Some(limit),
                None,
            )
            .await
            .map_err(|e| match e {
                CallError::TimedOut { timeout } => ConnectError::HelloTimeout(timeout),
                other => ConnectError::HelloFailed(other),
            })?;
        self.features = match reply {
            ServerMessage::Hello {
                features, resume, ..
            } => {
                if let Some(grant) = resume
                    && features.iter().any(|f| f == feature::RESUME)
                {
                    let _ = self.shared.resume_session.set(grant.session);
                }
                features
            }
            ServerMessage::Response(frame) if frame.error.starts_with("unknown message type") => {
                tracing::debug!("the server does not speak extensions: using the core protocol");
                Vec::new()
            }
            other => {
                return Err(ConnectError::Hello(format!(
                    "expected hello, got a {} frame",
                    ServerKind::from(&other).as_str()
                )));
            }
        };
        let _ = self
            .shared
            .cancel_supported
            .set(self.features.iter().any(|f| f == feature::CANCEL));
        Ok(self)
    }
}
