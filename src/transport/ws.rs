//! WebSocket as a frame transport, for both ends: [`WsTransport`] wraps a
//! tokio-tungstenite stream — the client's over TCP or a Unix socket, the
//! server's over its upgraded HTTP connection. Text moves between the socket
//! and the frames without a copy. Pings and pongs are answered by
//! tungstenite and never reach the layers above.

use futures::future::ready;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{CloseReason, Frame, FrameSink, FrameStream, FrameTransport, TransportError};

/// A client WebSocket connection as a frame transport. Made by
/// [`WsTransport::connect`](super::WsTransport::connect) (see `connect`), or
/// from any established tokio-tungstenite stream with [`WsTransport::new`].
pub struct WsTransport {
    split: (FrameSink, FrameStream),
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport").finish_non_exhaustive()
    }
}

impl WsTransport {
    /// Wraps an established WebSocket stream.
    pub fn new<S>(stream: WebSocketStream<S>) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sink, stream) = stream.split();
        let sink = sink
            .sink_map_err(tungstenite_error)
            .with(|frame: Frame| ready(Ok::<_, TransportError>(to_tungstenite(frame))));
        let stream = stream.filter_map(|message| {
            ready(match message {
                Ok(message) => from_tungstenite(message).map(Ok),
                Err(e) => Some(Err(tungstenite_error(e))),
            })
        });
        Self {
            split: (Box::pin(sink), Box::pin(stream)),
        }
    }
}

impl FrameTransport for WsTransport {
    fn into_split(self) -> (FrameSink, FrameStream) {
        self.split
    }
}

fn to_tungstenite(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::Text(text.0),
        Frame::Binary(bytes) => Message::binary(bytes),
        Frame::Close(reason) => Message::Close(reason.map(|r| CloseFrame {
            code: CloseCode::from(r.code),
            reason: r.reason.into(),
        })),
    }
}

fn from_tungstenite(message: Message) -> Option<Frame> {
    match message {
        Message::Text(text) => Some(Frame::Text(super::Text(text))),
        Message::Binary(bytes) => Some(Frame::Binary(bytes.to_vec())),
        Message::Close(frame) => Some(Frame::Close(frame.map(|f| CloseReason {
            code: u16::from(f.code),
            reason: f.reason.as_str().to_owned(),
        }))),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
    }
}

fn tungstenite_error(error: tungstenite::Error) -> TransportError {
    match error {
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { .. }) => {
            TransportError::TooBig
        }
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            TransportError::Closed
        }
        other => TransportError::Io(Box::new(other)),
    }
}
