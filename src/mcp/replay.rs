//! [`ReplayStore`]: the events `/mcp` sent on each event stream, kept for a
//! while, so a client whose connection dropped resumes the stream with
//! `Last-Event-ID` and misses nothing — also when the call ended while it
//! was away (rmcp's own session cache forgets a request's stream with its
//! last answer). A resumed stream of a call still running goes on live
//! until the call's answer.
//!
//! Memory is bounded: at most [`EVENTS_PER_STREAM`] events per stream (the
//! oldest go first), [`MAX_STREAMS`] streams and [`MAX_BYTES`] of messages
//! in all (the oldest streams of ended calls go first, then the oldest of
//! all), and a stream whose call ended is forgotten [`KEPT_AFTER_END`]
//! later. A resume from an event no longer kept
//! is refused, never answered with a stream that silently skips events.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rmcp::model::ServerJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::{
    EventStore, EventStoreError, EventStream, ServerSseMessage,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Events kept per stream (bash's output as progress can be many).
pub const EVENTS_PER_STREAM: usize = 512;
/// Streams kept at most.
pub const MAX_STREAMS: usize = 4096;
/// Bytes of kept messages (as JSON) at most, over all streams.
pub const MAX_BYTES: usize = 32 << 20;
/// How long a stream stays resumable after its call's answer.
pub const KEPT_AFTER_END: Duration = Duration::from_secs(60);
/// Events a resumed stream's reader may fall behind the live stream; a
/// reader further behind is cut off (it resumes again from its last event).
const LIVE_BACKLOG: usize = 64;
/// How often ended streams past [`KEPT_AFTER_END`] are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Why a stream cannot be resumed from an event.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The id is not one this store gave out.
    #[error("`{0}` is not an event id of this server")]
    NotAnEventId(String),
    /// The stream, or the events after the id, are no longer kept.
    #[error("the events after `{0}` are no longer kept")]
    Gone(String),
}

/// The event store of the MCP face's streamable HTTP service.
#[derive(Default)]
pub struct ReplayStore {
    streams: Mutex<Streams>,
}

/// Counts only: the kept events are tool output, not for logs.
impl std::fmt::Debug for ReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let streams = self.lock();
        f.debug_struct("ReplayStore")
            .field("streams", &streams.by_id.len())
            .field("bytes", &streams.bytes)
            .finish()
    }
}

#[derive(Default)]
struct Streams {
    by_id: HashMap<Arc<str>, StreamLog>,
    /// Stream ids, oldest first.
    order: VecDeque<Arc<str>>,
    bytes: usize,
    swept: Option<Instant>,
}

#[derive(Default)]
struct StreamLog {
    /// Events with their ids set, oldest first.
    events: VecDeque<(ServerSseMessage, usize)>,
    /// The index of `events.front()`.
    first_index: u64,
    /// The index the next event gets.
    next_index: u64,
    bytes: usize,
    ended_at: Option<Instant>,
    /// Resumed streams reading live.
    readers: Vec<mpsc::Sender<ServerSseMessage>>,
}

impl ReplayStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Streams> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The id of event `index` of stream `stream` (rmcp's stream ids are UUIDs
/// or a session's UUID with a suffix; none has a `/`).
fn event_id(stream: &str, index: u64) -> String {
    format!("{stream}/{index}")
}

fn parse_event_id(id: &str) -> Option<(&str, u64)> {
    let (stream, index) = id.rsplit_once('/')?;
    Some((stream, index.parse().ok()?))
}

/// A message's size as JSON, what it costs to keep (about).
fn json_len(message: Option<&ServerJsonRpcMessage>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    if let Some(message) = message {
        let _ = serde_json::to_writer(&mut count, message);
    }
    count.0 + 64
}

/// A request's answer: its stream ends with it.
fn is_answer(event: &ServerSseMessage) -> bool {
    matches!(
        event.message.as_deref(),
        Some(ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_))
    )
}

impl Streams {
    fn append(&mut self, stream: &str, mut event: ServerSseMessage) -> String {
        let now = Instant::now();
        if self.swept.is_none_or(|at| now - at >= SWEEP_EVERY) {
            self.sweep(now);
        }
        let size = json_len(event.message.as_deref());
        let answer = is_answer(&event);
        let log = match self.by_id.entry(Arc::from(stream)) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                self.order.push_back(entry.key().clone());
                entry.insert(StreamLog::default())
            }
        };
        let id = event_id(stream, log.next_index);
        event.event_id = Some(id.clone());
        log.next_index += 1;
        log.readers
            .retain(|reader| reader.try_send(event.clone()).is_ok());
        log.events.push_back((event, size));
        log.bytes += size;
        self.bytes += size;
        if log.events.len() > EVENTS_PER_STREAM
            && let Some((_, dropped)) = log.events.pop_front()
        {
            log.first_index += 1;
            log.bytes -= dropped;
            self.bytes -= dropped;
        }
        if answer {
            log.ended_at = Some(now);
            // Their streams end with the answer.
            log.readers.clear();
        }
        // Over a bound, the oldest streams of ended calls go first, then the
        // oldest of all (this one too, when one answer alone is over: it is
        // sent, but not kept to be sent again).
        while self.bytes > MAX_BYTES || self.by_id.len() > MAX_STREAMS {
            let by_id = &self.by_id;
            let victim = self
                .order
                .iter()
                .position(|id| by_id.get(id).is_none_or(|log| log.ended_at.is_some()))
                .unwrap_or(0);
            let Some(gone) = self.order.remove(victim) else {
                break;
            };
            if let Some(log) = self.by_id.remove(&gone) {
                self.bytes -= log.bytes;
            }
        }
        id
    }

    /// Forgets streams whose call ended more than [`KEPT_AFTER_END`] ago.
    fn sweep(&mut self, now: Instant) {
        self.swept = Some(now);
        let mut freed = 0;
        self.by_id.retain(|_, log| {
            let keep = log
                .ended_at
                .is_none_or(|ended| now - ended < KEPT_AFTER_END);
            if !keep {
                freed += log.bytes;
            }
            keep
        });
        self.bytes -= freed;
        let by_id = &self.by_id;
        self.order.retain(|id| by_id.contains_key(id));
    }

    /// The events after `last` and, while the call runs, the live ones.
    fn resume(&mut self, last: &str) -> Result<ReceiverStream<ServerSseMessage>, ReplayError> {
        let (stream, index) =
            parse_event_id(last).ok_or_else(|| ReplayError::NotAnEventId(last.to_owned()))?;
        let log = self
            .by_id
            .get_mut(stream)
            .ok_or_else(|| ReplayError::Gone(last.to_owned()))?;
        if index >= log.next_index {
            return Err(ReplayError::NotAnEventId(last.to_owned()));
        }
        if index + 1 < log.first_index {
            return Err(ReplayError::Gone(last.to_owned()));
        }
        let skip = usize::try_from(index + 1 - log.first_index).unwrap_or(usize::MAX);
        let backlog: Vec<_> = log
            .events
            .iter()
            .skip(skip)
            .map(|(event, _)| event.clone())
            .collect();
        let (sender, receiver) = mpsc::channel(backlog.len() + LIVE_BACKLOG);
        for event in backlog {
            // Room was made for the whole backlog.
            let _ = sender.try_send(event);
        }
        if log.ended_at.is_none() {
            log.readers.push(sender);
        }
        Ok(ReceiverStream::new(receiver))
    }
}

#[async_trait::async_trait]
impl EventStore for ReplayStore {
    async fn store_event(
        &self,
        stream_id: &str,
        event: &ServerSseMessage,
    ) -> Result<String, EventStoreError> {
        Ok(self.lock().append(stream_id, event.clone()))
    }

    async fn replay_events_after(
        &self,
        last_event_id: &str,
    ) -> Result<EventStream, EventStoreError> {
        let stream = self.lock().resume(last_event_id)?;
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
