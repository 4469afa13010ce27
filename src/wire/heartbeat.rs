//! The heartbeat both ends run on a connection: a WebSocket ping every
//! `interval`, and the peer declared unresponsive once no frame at all (a
//! pong included) arrived for `timeout`. Pings flow whatever the calls do,
//! so a long silent call keeps its connection.
//!
//! The reader only counts frames ([`Liveness::saw_frame`], one relaxed
//! atomic add on the hot path); the heartbeat task looks at the count on
//! its own clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::FrameWriter;
use crate::transport::Frame;

/// Default heartbeat interval of both ends (`PeerConfig`, `ServerConfig`).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// Default heartbeat timeout of both ends (`PeerConfig`, `ServerConfig`).
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(15);

/// How often the count is looked at, at most: the silence is noticed at
/// most this late.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Frames seen on a connection, counted by its reader.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    frames: AtomicU64,
}

impl Liveness {
    /// Counts one frame of any kind.
    pub(crate) fn saw_frame(&self) {
        self.frames.fetch_add(1, Ordering::Relaxed);
    }
}

/// Pings through `writer` every `interval` and returns how long the peer
/// was silent once that reaches `timeout`. Runs until then; the caller
/// owns the task and stops it with the connection.
pub(crate) async fn beat(
    liveness: &Liveness,
    writer: &FrameWriter,
    interval: Duration,
    timeout: Duration,
) -> Duration {
    let check = interval.min(timeout).min(CHECK_EVERY);
    let mut seen = liveness.frames.load(Ordering::Relaxed);
    let mut last_frame = Instant::now();
    let mut last_ping = Instant::now();
    loop {
        tokio::time::sleep(check).await;
        let now = Instant::now();
        let count = liveness.frames.load(Ordering::Relaxed);
        if count != seen {
            seen = count;
            last_frame = now;
        } else if now - last_frame >= timeout {
            return now - last_frame;
        }
        if now - last_ping >= interval {
            // Best effort: a full queue means frames are flowing anyway.
            let _ = writer.try_send(Frame::Ping(Vec::new()));
            last_ping = now;
        }
    }
}

/// `for 15 s`, as people read a duration.
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 10.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}
