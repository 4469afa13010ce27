//! WebSocket as a frame transport, for both ends: [`WsTransport`] wraps a
//! tokio-tungstenite stream — the client's over TCP or a Unix socket, the
//! server's over its upgraded HTTP connection. Text moves between the socket
//! and the frames without a copy. Pings are answered by tungstenite; pings
//! and pongs reach the layers above as signs of life.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::stream::{SplitSink, SplitStream};
use futures::{Sink, Stream, StreamExt};
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
        Self {
            split: (
                Box::pin(FrameSinkHalf(sink)),
                Box::pin(FrameStreamHalf(stream)),
            ),
        }
    }
}

impl FrameTransport for WsTransport {
    fn into_split(self) -> (FrameSink, FrameStream) {
        self.split
    }
}

/// The send half: frames become messages as they are handed over (a plain
/// adapter: measured cheaper than `SinkExt::with` on the hot path).
struct FrameSinkHalf<S>(SplitSink<WebSocketStream<S>, Message>);

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Frame> for FrameSinkHalf<S> {
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0)
            .poll_ready(cx)
            .map_err(tungstenite_error)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> Result<(), Self::Error> {
        Pin::new(&mut self.0)
            .start_send(to_tungstenite(frame))
            .map_err(tungstenite_error)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0)
            .poll_flush(cx)
            .map_err(tungstenite_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0)
            .poll_close(cx)
            .map_err(tungstenite_error)
    }
}

/// The receive half: messages become frames.
struct FrameStreamHalf<S>(SplitStream<WebSocketStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for FrameStreamHalf<S> {
    type Item = Result<Frame, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match ready!(Pin::new(&mut self.0).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(tungstenite_error(e)))),
                Some(Ok(message)) => {
                    if let Some(frame) = from_tungstenite(message) {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                }
            }
        }
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
        Frame::Ping(payload) => Message::Ping(payload.into()),
        Frame::Pong(payload) => Message::Pong(payload.into()),
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
        Message::Ping(payload) => Some(Frame::Ping(payload.to_vec())),
        Message::Pong(payload) => Some(Frame::Pong(payload.to_vec())),
        Message::Frame(_) => None,
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
