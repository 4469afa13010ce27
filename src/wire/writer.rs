//! [`FrameWriter`]: the only owner of a connection's send half. Frames are
//! queued to one writer task that sends a whole queue with one flush, so
//! under load many frames share a syscall.
//!
//! One policy, measured, lives here: a caller that is alone
//! ([`Contention::Alone`]: the only call waiting, nothing queued) writes its
//! frame itself, at once. Handing it to the writer task instead costs a task
//! wake-up, which on a multi-thread runtime also wakes a parked worker:
//! measured as most of the latency gap to a raw echo. That write is made in
//! synchronous polls under a lock taken only for the poll — never across an
//! `.await` — and if the socket cannot take the whole frame now, the writer
//! task is told to finish the flush. The direct write happens only while the
//! writer task is not between polls of the sink (`busy`, read under the
//! lock): a sink keeps one waker, and a direct write must never replace the
//! writer task's with its own no-op one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::poll_fn;
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::transport::{Frame, FrameSink, TransportError};

/// Frames queued for the writer before senders wait.
const OUTBOX_FRAMES: usize = 1024;
/// Frames written per flush at most.
const BATCH_FRAMES: usize = 1024;

/// Whether a sender is the only one with a frame to send right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contention {
    /// The only call waiting: may write its frame itself.
    Alone,
    /// Others are sending too: queue, to share a flush.
    Shared,
}

enum Outgoing {
    Frame(Frame),
    /// Finish a flush a direct write left unfinished.
    Flush,
    /// Write this last frame (a close), flush, close the send half, stop.
    End(Option<Frame>),
}

/// The send half and whether the writer task is using it.
struct SinkState {
    sink: Mutex<FrameSink>,
    /// Set by the writer task from its first poll of a batch until the
    /// batch is flushed; a direct write stays away while it is set.
    busy: AtomicBool,
}

type SharedSink = Arc<SinkState>;

/// The send half of one connection and the task that writes it.
pub(crate) struct FrameWriter {
    sink: SharedSink,
    outbox: mpsc::Sender<Outgoing>,
    task: Mutex<Option<AbortOnDropHandle<()>>>,
}

impl FrameWriter {
    /// Starts the writer task over `sink`. With `gather_bursts`, the task
    /// steps back once before each flush so frames of callers that are
    /// runnable right now join it (the client's calls answered in a burst);
    /// without, each queue is flushed at once (the server's replies).
    ///
    /// `close_timeout` bounds closing the send half once the last frame is
    /// out (the transport's own close handshake).
    pub(crate) fn start(sink: FrameSink, gather_bursts: bool, close_timeout: Duration) -> Self {
        let sink: SharedSink = Arc::new(SinkState {
            sink: Mutex::new(sink),
            busy: AtomicBool::new(false),
        });
        let (outbox, queue) = mpsc::channel(OUTBOX_FRAMES);
        let task = tokio::spawn(write_queue(
            sink.clone(),
            queue,
            gather_bursts,
            close_timeout,
        ));
        Self {
            sink,
            outbox,
            task: Mutex::new(Some(AbortOnDropHandle::new(task))),
        }
    }

    /// Sends `frame`: written at once when the sender is alone and the
    /// socket takes it, otherwise queued (waiting while the queue is full).
    ///
    /// # Errors
    /// [`TransportError::Closed`] when the writer has stopped.
    pub(crate) async fn send(
        &self,
        frame: Frame,
        contention: Contention,
    ) -> Result<(), TransportError> {
        self.send_or_return(frame, contention)
            .await
            .map_err(|_| TransportError::Closed)
    }

    /// As [`FrameWriter::send`], but a writer that has stopped gives the
    /// frame back (to send it on the next connection).
    pub(crate) async fn send_or_return(
        &self,
        frame: Frame,
        contention: Contention,
    ) -> Result<(), Frame> {
        let frame = match contention {
            Contention::Alone => match self.write_now(frame) {
                Ok(()) => return Ok(()),
                Err(frame) => frame,
            },
            Contention::Shared => frame,
        };
        match self.outbox.send(Outgoing::Frame(frame)).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(Outgoing::Frame(frame))) => Err(frame),
            Err(_) => Err(Frame::Close(None)),
        }
    }

    /// Writes a close frame now if the socket takes it without waiting
    /// (for `Drop`, which cannot wait): the peer then knows the connection
    /// was closed on purpose, not lost.
    pub(crate) fn close_now(&self) {
        let _ = self.write_now(Frame::Close(None));
    }

    /// Queues `frame` without waiting; `false` when the queue is full or the
    /// writer has stopped (best-effort frames: progress, cancels).
    pub(crate) fn try_send(&self, frame: Frame) -> bool {
        self.outbox.try_send(Outgoing::Frame(frame)).is_ok()
    }

    /// Writes `frame` in synchronous polls if nothing is queued and the sink
    /// is free and ready; gives the frame back otherwise.
    fn write_now(&self, frame: Frame) -> Result<(), Frame> {
        if self.outbox.capacity() != self.outbox.max_capacity() {
            return Err(frame);
        }
        let Ok(mut sink) = self.sink.sink.try_lock() else {
            return Err(frame);
        };
        // Under the lock: a writer task that is not busy now polls only
        // after this lock is released, so its waker is registered last.
        if self.sink.busy.load(Ordering::Acquire) {
            return Err(frame);
        }
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        if !matches!(sink.as_mut().poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return Err(frame);
        }
        if sink.as_mut().start_send(frame).is_err() {
            // The connection is broken; its reader reports why.
            return Ok(());
        }
        if sink.as_mut().poll_flush(&mut cx).is_pending() {
            drop(sink);
            // A full queue means the writer runs and will flush anyway.
            let _ = self.outbox.try_send(Outgoing::Flush);
        }
        Ok(())
    }

    /// Sends what is queued, then `close` (when given) and closes the send
    /// half; waits for the writer task to finish.
    pub(crate) async fn finish(&self, close: Option<Frame>) {
        let _ = self.outbox.send(Outgoing::End(close)).await;
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The writer task: everything queued goes out with one flush.
async fn write_queue(
    sink: SharedSink,
    mut queue: mpsc::Receiver<Outgoing>,
    gather_bursts: bool,
    close_timeout: Duration,
) {
    let mut batch = Vec::new();
    'writing: loop {
        if queue.recv_many(&mut batch, BATCH_FRAMES).await == 0 {
            break;
        }
        if gather_bursts {
            // The runtime would run this task before the callers it just
            // woke; stepping back once lets them queue their frames first.
            tokio::task::yield_now().await;
            while batch.len() < BATCH_FRAMES
                && let Ok(item) = queue.try_recv()
            {
                batch.push(item);
            }
        }
        sink.busy.store(true, Ordering::Release);
        for item in batch.drain(..) {
            let (frame, last) = match item {
                Outgoing::Frame(frame) => (frame, false),
                Outgoing::Flush => continue,
                Outgoing::End(None) => break 'writing,
                Outgoing::End(Some(frame)) => (frame, true),
            };
            let is_close = last || matches!(frame, Frame::Close(_));
            if write(&sink, frame).await.is_err() {
                break 'writing;
            }
            if is_close {
                let _ = poll_fn(|cx| lock(&sink).as_mut().poll_flush(cx)).await;
                break 'writing;
            }
        }
        if poll_fn(|cx| lock(&sink).as_mut().poll_flush(cx))
            .await
            .is_err()
        {
            break;
        }
        sink.busy.store(false, Ordering::Release);
    }
    // The close frame (if any) is out; closing the send half sends nothing
    // more than the transport's own close handshake, so it gets a bound.
    let closing = poll_fn(|cx| lock(&sink).as_mut().poll_close(cx));
    let _ = tokio::time::timeout(close_timeout, closing).await;
}

/// Feeds one frame, waiting for room; the lock is held only inside a poll.
async fn write(sink: &SharedSink, frame: Frame) -> Result<(), TransportError> {
    poll_fn(|cx| lock(sink).as_mut().poll_ready(cx)).await?;
    lock(sink).as_mut().start_send(frame)
}

fn lock(sink: &SharedSink) -> std::sync::MutexGuard<'_, FrameSink> {
    sink.sink.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::transport::{FrameTransport, channel_pair};

    /// Callers writing directly and through the queue at once, into a sink
    /// that is full most of the time (a one-frame channel read slowly): every
    /// frame arrives exactly once and nobody is left waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_and_queued_writes_into_a_full_sink_all_arrive() {
        let (ours, theirs) = channel_pair(1);
        let (sink, _unused) = ours.into_split();
        let (_their_sink, mut frames) = theirs.into_split();
        let writer = Arc::new(FrameWriter::start(sink, true, Duration::from_secs(1)));
        const SENDERS: usize = 8;
        const EACH: usize = 200;
        let senders: Vec<_> = (0..SENDERS)
            .map(|n| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    for i in 0..EACH {
                        let contention = if (n + i) % 2 == 0 {
                            Contention::Alone
                        } else {
                            Contention::Shared
                        };
                        writer
                            .send(Frame::Text(format!("{n}:{i}").into()), contention)
                            .await
                            .expect("the writer lives");
                    }
                })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let reading = async {
            while seen.len() < SENDERS * EACH {
                match frames.next().await {
                    Some(Ok(Frame::Text(text))) => {
                        assert!(seen.insert(text), "a frame arrived twice");
                        // A reader that steps back after every frame keeps
                        // the sink full most of the time.
                        tokio::task::yield_now().await;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), reading)
            .await
            .expect("every frame arrives");
        for sender in senders {
            sender.await.expect("sender");
        }
        writer.finish(None).await;
    }
}
