//! An in-memory frame transport: two connected ends, as a socket pair would
//! be, for session tests and for embedding a server in the same process.

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};

use super::{Frame, FrameSink, FrameStream, FrameTransport, TransportError};

/// One end of an in-memory pair made by [`channel_pair`].
#[derive(Debug)]
pub struct ChannelTransport {
    outgoing: mpsc::Sender<Frame>,
    incoming: mpsc::Receiver<Frame>,
}

/// Two connected ends; each holds up to `capacity` frames the other has not
/// read yet, then its sender waits (backpressure, as a socket would).
pub fn channel_pair(capacity: usize) -> (ChannelTransport, ChannelTransport) {
    let (a_out, b_in) = mpsc::channel(capacity);
    let (b_out, a_in) = mpsc::channel(capacity);
    (
        ChannelTransport {
            outgoing: a_out,
            incoming: a_in,
        },
        ChannelTransport {
            outgoing: b_out,
            incoming: b_in,
        },
    )
}

impl FrameTransport for ChannelTransport {
    /// As WebSocket does, the receive half answers a ping with a pong by
    /// itself (when the other end's queue has room) and passes it on.
    fn into_split(self) -> (FrameSink, FrameStream) {
        let mut answers = self.outgoing.clone();
        let sink = self.outgoing.sink_map_err(|_| TransportError::Closed);
        let stream = self.incoming.map(move |frame| {
            if let Frame::Ping(payload) = &frame {
                let _ = answers.try_send(Frame::Pong(payload.clone()));
            }
            Ok(frame)
        });
        (Box::pin(sink), Box::pin(stream))
    }
}
