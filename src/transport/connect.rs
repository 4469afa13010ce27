//! The client's WebSocket handshake: where the server is ([`Endpoint`]),
//! how to connect ([`WsConfig`]: time, size limit, `Origin`), and why a
//! connection could not be made ([`ConnectError`], in the caller's terms).

use std::path::PathBuf;
use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self};

use super::WsTransport;

/// Where a tool server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A `ws://host:port/ws` URL.
    Url(String),
    /// A Unix socket; the WebSocket is spoken over it at `/ws`.
    Unix(PathBuf),
}

/// How to open a WebSocket to a tool server. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WsConfig {
    /// Time to connect and finish the handshake. Default 10 s.
    pub connect_timeout: Duration,
    /// Largest message accepted from the server. Default 64 MiB.
    pub max_message_bytes: usize,
    /// The `Origin` header of the handshake. Default `http://localhost`, as
    /// sol's client sends it: Go's `x/net/websocket` server (sol's tool
    /// server) refuses an upgrade without one (HTTP 403). `None` sends none.
    pub origin: Option<String>,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_message_bytes: 64 << 20,
            origin: Some("http://localhost".to_owned()),
        }
    }
}

impl WsConfig {
    /// Sets [`WsConfig::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Sets [`WsConfig::max_message_bytes`].
    #[must_use]
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }
    /// Sets [`WsConfig::origin`].
    #[must_use]
    pub fn origin(mut self, origin: Option<String>) -> Self {
        self.origin = origin;
        self
    }
}

/// Why a connection could not be made, in the caller's terms.
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
    /// The token cannot be sent in an HTTP header.
    #[error("the token contains characters not allowed in an HTTP header")]
    InvalidToken,
    /// The `Origin` cannot be sent in an HTTP header.
    #[error("the Origin {0:?} is not a valid HTTP header value")]
    InvalidOrigin(String),
    /// No connection or handshake within the connect timeout.
    #[error("could not connect to the tool server within {0:?}")]
    Timeout(Duration),
    /// The server answered the handshake with another HTTP status.
    #[error("the tool server answered the handshake with HTTP {0}")]
    Status(u16),
    /// The server did not answer `hello` within the time given.
    #[error("the tool server did not answer hello within {0:?}")]
    HelloTimeout(Duration),
    /// The server answered `hello` with something this client cannot use.
    #[error("the tool server's answer to hello is not usable: {0}")]
    Hello(String),
    /// The connection ended during `hello`.
    #[error("the connection ended during hello: {0}")]
    HelloFailed(#[source] crate::error::CallError),
    /// Network or WebSocket failure.
    #[error("could not connect to the tool server: {0}")]
    Io(#[source] tungstenite::Error),
}

impl WsTransport {
    /// Opens a WebSocket to `endpoint` with a bearer `token` (`None`: no
    /// auth header) and an `Origin` as [`WsConfig::origin`] says.
    ///
    /// # Errors
    /// [`ConnectError`] when the URL or token is bad, the server is
    /// unreachable, the token is refused, or the handshake does not finish
    /// in time.
    pub async fn connect(
        endpoint: &Endpoint,
        token: Option<&str>,
        config: &WsConfig,
    ) -> Result<Self, ConnectError> {
        match endpoint {
            Endpoint::Url(url) => {
                let request = handshake_request(url, token, config)?;
                let ws_config = ws_config(config);
                let connecting = async {
                    let (stream, _) = tokio_tungstenite::connect_async_with_config(
                        request,
                        Some(ws_config),
                        true,
                    )
                    .await?;
                    Ok(Self::new(stream))
                };
                within(config.connect_timeout, connecting).await
            }
            Endpoint::Unix(path) => {
                let limit = config.connect_timeout;
                let socket = tokio::time::timeout(limit, tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(|_| ConnectError::Timeout(limit))?
                    .map_err(|e| ConnectError::Io(tungstenite::Error::Io(e)))?;
                Self::connect_over(socket, token, config).await
            }
        }
    }

    /// Speaks the WebSocket handshake (`/ws`, the bearer `token`, the
    /// `Origin`) over an established byte stream: a Unix socket, a
    /// Kubernetes port-forward, any tunnel.
    ///
    /// # Errors
    /// As [`WsTransport::connect`].
    pub async fn connect_over<S>(
        stream: S,
        token: Option<&str>,
        config: &WsConfig,
    ) -> Result<Self, ConnectError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let request = handshake_request("ws://localhost/ws", token, config)?;
        let ws_config = ws_config(config);
        let connecting = async {
            let (stream, _) =
                tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config))
                    .await?;
            Ok(Self::new(stream))
        };
        within(config.connect_timeout, connecting).await
    }
}

/// The handshake request: the URL, the bearer token, the `Origin`.
fn handshake_request(
    url: &str,
    token: Option<&str>,
    config: &WsConfig,
) -> Result<tungstenite::handshake::client::Request, ConnectError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| ConnectError::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| ConnectError::InvalidToken)?;
        request.headers_mut().insert("authorization", value);
    }
    if let Some(origin) = &config.origin {
        let value = HeaderValue::from_str(origin)
            .map_err(|_| ConnectError::InvalidOrigin(origin.clone()))?;
        request.headers_mut().insert("origin", value);
    }
    Ok(request)
}

/// The WebSocket limits of a client connection.
fn ws_config(config: &WsConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(crate::protocol::READ_BUFFER_BYTES)
        .max_message_size(Some(config.max_message_bytes))
        .max_frame_size(Some(config.max_message_bytes))
}

/// Runs a handshake within `limit`, its errors in the caller's terms.
async fn within(
    limit: std::time::Duration,
    connecting: impl Future<Output = Result<WsTransport, tungstenite::Error>>,
) -> Result<WsTransport, ConnectError> {
    match tokio::time::timeout(limit, connecting).await {
        Err(_) => Err(ConnectError::Timeout(limit)),
        Ok(Err(tungstenite::Error::Http(response)))
            if response.status() == StatusCode::UNAUTHORIZED =>
        {
            Err(ConnectError::Unauthorized)
        }
        Ok(Err(tungstenite::Error::Http(response))) => {
            Err(ConnectError::Status(response.status().as_u16()))
        }
        Ok(Err(e)) => Err(ConnectError::Io(e)),
        Ok(Ok(transport)) => Ok(transport),
    }
}
