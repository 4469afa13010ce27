//! WebSocket as a frame transport, for both ends: [`WsTransport`] wraps a
//! tokio-tungstenite stream (the client, over TCP or a Unix socket), and
//! `AxumTransport` wraps the server's upgraded axum socket. Pings and pongs
//! are answered by tungstenite and never reach the layers above.

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
        Frame::Text(text) => Message::text(text),
        Frame::Binary(bytes) => Message::binary(bytes),
        Frame::Close(reason) => Message::Close(reason.map(|r| CloseFrame {
            code: CloseCode::from(r.code),
            reason: r.reason.into(),
        })),
    }
}

fn from_tungstenite(message: Message) -> Option<Frame> {
    match message {
        Message::Text(text) => Some(Frame::Text(text.as_str().to_owned())),
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

/// The server's upgraded axum socket as a frame transport.
pub(crate) struct AxumTransport(pub(crate) axum::extract::ws::WebSocket);

impl FrameTransport for AxumTransport {
    fn into_split(self) -> (FrameSink, FrameStream) {
        use axum::extract::ws::Message as AxumMessage;
        let (sink, stream) = self.0.split();
        let sink = sink.sink_map_err(axum_error).with(|frame: Frame| {
            ready(Ok::<_, TransportError>(match frame {
                Frame::Text(text) => AxumMessage::Text(text.into()),
                Frame::Binary(bytes) => AxumMessage::Binary(bytes.into()),
                Frame::Close(reason) => {
                    AxumMessage::Close(reason.map(|r| axum::extract::ws::CloseFrame {
                        code: r.code,
                        reason: r.reason.into(),
                    }))
                }
            }))
        });
        let stream = stream.filter_map(|message| {
            ready(match message {
                Ok(AxumMessage::Text(text)) => Some(Ok(Frame::Text(text.as_str().to_owned()))),
                Ok(AxumMessage::Binary(bytes)) => Some(Ok(Frame::Binary(bytes.to_vec()))),
                Ok(AxumMessage::Close(frame)) => {
                    Some(Ok(Frame::Close(frame.map(|f| CloseReason {
                        code: f.code,
                        reason: f.reason.as_str().to_owned(),
                    }))))
                }
                Ok(AxumMessage::Ping(_) | AxumMessage::Pong(_)) => None,
                Err(e) => Some(Err(axum_error(e))),
            })
        });
        (Box::pin(sink), Box::pin(stream))
    }
}

/// axum wraps tungstenite's error; a message over the limit is told apart.
fn axum_error(error: axum::Error) -> TransportError {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(inner) => tungstenite_error(*inner),
        Err(other) => TransportError::Io(other),
    }
}
