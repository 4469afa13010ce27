//! Frame transports: frames out, frames in, close — nothing else. A
//! transport knows nothing about request ids, timeouts or `hello`; the peer
//! layer ([`crate::Peer`]) and the server's session own those, so a new
//! stream (a Kubernetes port-forward, a test channel) is a small adapter.
//!
//! - `ws`: WebSocket over any byte stream, for both ends ([`WsTransport`]:
//!   the client over TCP or a Unix socket, the server's upgraded connection).
//! - `connect`: the client handshake (token, `Origin`, limits, errors).
//! - `channel`: an in-memory pair ([`channel_pair`]) for tests and embedding.

mod channel;
mod connect;
mod ws;

pub use channel::{ChannelTransport, channel_pair};
pub use connect::{ConnectError, Endpoint, WsConfig};
pub use ws::WsTransport;

use std::pin::Pin;

use futures::{Sink, Stream};

/// The text of a frame: UTF-8, cheap to clone, and handed between the
/// socket and the layers above without a copy (it shares the WebSocket's
/// own buffer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(tokio_tungstenite::tungstenite::Utf8Bytes);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

/// One frame of the wire. The protocol speaks JSON in text frames; binary
/// frames exist so a peer that sends one can be told it is not supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame: one JSON message.
    Text(Text),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The peer closes (or is told to), with a code and a reason when known.
    Close(Option<CloseReason>),
    /// A ping: the transport answers it with a pong by itself (WebSocket
    /// does); readers see it only as a sign of life.
    Ping(Vec<u8>),
    /// The answer to a ping.
    Pong(Vec<u8>),
}

/// A close frame's code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The WebSocket close code (1000 normal, 1001 going away, 1009 too big).
    pub code: u16,
    /// Why, for a person.
    pub reason: String,
}

/// Why a transport could not carry a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer sent a message over the configured size limit; it was not read.
    #[error("a message over the size limit arrived")]
    TooBig,
    /// The transport is closed.
    #[error("the connection is closed")]
    Closed,
    /// The underlying stream failed.
    #[error("the connection failed: {0}")]
    Io(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The send half of a frame transport.
pub type FrameSink = Pin<Box<dyn Sink<Frame, Error = TransportError> + Send>>;
/// The receive half of a frame transport; `None` is the end of the stream.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, TransportError>> + Send>>;

/// A bidirectional stream of frames, split into its two halves once.
pub trait FrameTransport: Send + 'static {
    /// The send half and the receive half.
    fn into_split(self) -> (FrameSink, FrameStream);
}

impl FrameTransport for (FrameSink, FrameStream) {
    fn into_split(self) -> (FrameSink, FrameStream) {
        self
    }
}
