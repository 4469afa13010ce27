//! The data path of the `transfer` feature, the same at both ends: the
//! receiver of a transfer ([`Inbound`], read as a [`ChunkReader`] by a
//! blocking worker) and its sender ([`ChunkWriter`]).
//!
//! Flow control is by credit: the receiver grants bytes (`credit` frames),
//! the sender never has more than that unacknowledged, and the receiver
//! grants again as its worker consumes. So the reader of the connection
//! hands a chunk on without ever waiting (other calls keep flowing), and a
//! transfer holds at most [`WINDOW_BYTES`] in memory. A peer that sends
//! beyond its credit fails its transfer; it cannot grow the other end.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use blake3::Hasher as Blake3;
use tokio::sync::mpsc;

use crate::protocol::chunk;

/// Bytes a receiver lets the sender have in flight.
pub(crate) const WINDOW_BYTES: u64 = 4 * 1024 * 1024;
/// The receiver grants again once its worker consumed this much.
pub(crate) const GRANT_BYTES: u64 = WINDOW_BYTES / 4;
/// The worker reports what it consumed in steps of this (or before it
/// waits): a report wakes the async side, and one per read was measured
/// as a good part of a transfer's context switches.
const REPORT_BYTES: u64 = GRANT_BYTES / 2;

/// What a transfer's receiving worker gets.
#[derive(Debug)]
pub(crate) enum Piece {
    /// A whole binary frame and where its data start.
    Data(Vec<u8>, usize),
    /// The sender is done: its count and BLAKE3 (lowercase hex).
    End {
        /// Bytes sent in all.
        bytes: u64,
        /// BLAKE3 of them.
        blake3: String,
    },
}

/// The receiving end of one transfer, as the connection's reader sees it.
#[derive(Debug)]
pub(crate) struct Inbound {
    pieces: mpsc::UnboundedSender<Piece>,
    /// Credit granted and not yet used by the sender.
    owed: AtomicU64,
}

impl Inbound {
    /// A receiver and the worker's reader of it. The worker reports each
    /// consumed byte count on `consumed`, for the next grant.
    pub(crate) fn new(consumed: mpsc::UnboundedSender<u64>) -> (Self, ChunkReader) {
        let (pieces, queue) = mpsc::unbounded_channel();
        let inbound = Self {
            pieces,
            owed: AtomicU64::new(0),
        };
        let reader = ChunkReader {
            queue,
            current: None,
            hasher: Blake3::new(),
            bytes: 0,
            consumed,
            unreported: 0,
            end: None,
        };
        (inbound, reader)
    }

    /// Records a grant about to be sent.
    pub(crate) fn grant(&self, bytes: u64) {
        self.owed.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Hands on a chunk within the sender's credit.
    ///
    /// # Errors
    /// The chunk is over the credit left, or the worker is gone.
    pub(crate) fn accept(&self, frame: Vec<u8>, start: usize) -> Result<(), String> {
        let len = (frame.len() - start) as u64;
        self.owed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |owed| {
                owed.checked_sub(len)
            })
            .map_err(|owed| {
                format!("the sender sent a chunk of {len} bytes with only {owed} bytes of credit")
            })?;
        self.pieces
            .send(Piece::Data(frame, start))
            .map_err(|_| "the transfer has ended".to_owned())
    }

    /// The sender's last word.
    pub(crate) fn end(&self, bytes: u64, blake3: String) {
        let _ = self.pieces.send(Piece::End { bytes, blake3 });
    }
}

/// The data of a transfer as a blocking [`Read`], hashed as they are read.
/// Reading past the data gives end of file once the sender's `End` came;
/// an error when the transfer was dropped first (interrupted).
#[derive(Debug)]
pub(crate) struct ChunkReader {
    queue: mpsc::UnboundedReceiver<Piece>,
    current: Option<(Vec<u8>, usize)>,
    hasher: Blake3,
    bytes: u64,
    consumed: mpsc::UnboundedSender<u64>,
    /// Bytes read and not yet reported on `consumed`.
    unreported: u64,
    end: Option<(u64, String)>,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some((frame, at)) = &mut self.current {
                if *at < frame.len() {
                    let n = out.len().min(frame.len() - *at);
                    out[..n].copy_from_slice(&frame[*at..*at + n]);
                    self.hasher.update(&out[..n]);
                    *at += n;
                    self.bytes += n as u64;
                    self.unreported += n as u64;
                    if self.unreported >= REPORT_BYTES {
                        let _ = self.consumed.send(std::mem::take(&mut self.unreported));
                    }
                    return Ok(n);
                }
                self.current = None;
            }
            // At the end, or about to wait: what was read so far is reported.
            if self.unreported > 0 && (self.end.is_some() || self.queue.is_empty()) {
                let _ = self.consumed.send(std::mem::take(&mut self.unreported));
            }
            if self.end.is_some() {
                return Ok(0);
            }
            match self.queue.blocking_recv() {
                Some(Piece::Data(frame, at)) => self.current = Some((frame, at)),
                Some(Piece::End { bytes, blake3 }) => self.end = Some((bytes, blake3)),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the transfer was interrupted",
                    ));
                }
            }
        }
    }
}

impl ChunkReader {
    /// Reads what is left (a tar reader may stop before the padding), then
    /// checks the count and the checksum against the sender's.
    ///
    /// # Errors
    /// The transfer was interrupted, or what came is not what was sent.
    pub(crate) fn finish(&mut self) -> Result<(u64, String), String> {
        std::io::copy(self, &mut std::io::sink()).map_err(|e| e.to_string())?;
        let (bytes, blake3) = self.end.take().unwrap_or_default();
        let got = self.hasher.finalize().to_hex().to_string();
        if bytes != self.bytes {
            return Err(format!(
                "the sender says it sent {bytes} bytes, {} arrived",
                self.bytes
            ));
        }
        if !blake3.eq_ignore_ascii_case(&got) {
            return Err(format!(
                "checksum mismatch: the sender's BLAKE3 is {}, the data's is {got}",
                crate::protocol::short(&blake3)
            ));
        }
        Ok((bytes, got))
    }
}

/// A blocking [`Write`] that cuts what is written into chunks of one
/// transfer and hands them to the async side, hashing as it goes. It waits
/// when the async side has two chunks not yet sent (bounded memory).
#[derive(Debug)]
pub(crate) struct ChunkWriter {
    id: String,
    chunks: mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
    header: usize,
    hasher: Blake3,
    bytes: u64,
}

/// Chunks a [`ChunkWriter`] may have queued.
pub(crate) const QUEUED_CHUNKS: usize = 2;

impl ChunkWriter {
    /// A writer for transfer `id` and the queue its chunks go to.
    ///
    /// # Errors
    /// An id too long for a chunk header.
    pub(crate) fn new(id: &str) -> Result<(Self, mpsc::Receiver<Vec<u8>>), String> {
        let buffer = chunk::start(id, chunk::CHUNK_BYTES)
            .ok_or_else(|| format!("a transfer id is at most {} bytes", chunk::MAX_ID_BYTES))?;
        let (chunks, queue) = mpsc::channel(QUEUED_CHUNKS);
        let writer = Self {
            id: id.to_owned(),
            chunks,
            header: buffer.len(),
            buffer,
            hasher: Blake3::new(),
            bytes: 0,
        };
        Ok((writer, queue))
    }

    fn send_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.len() == self.header {
            return Ok(());
        }
        let next = chunk::start(&self.id, chunk::CHUNK_BYTES).unwrap_or_default();
        let full = std::mem::replace(&mut self.buffer, next);
        self.chunks.blocking_send(full).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the transfer was stopped")
        })
    }

    /// Sends the last chunk; the count and BLAKE3 of everything written.
    ///
    /// # Errors
    /// The async side stopped the transfer.
    pub(crate) fn finish(mut self) -> std::io::Result<(u64, String)> {
        self.send_buffer()?;
        Ok((self.bytes, self.hasher.finalize().to_hex().to_string()))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.header + chunk::CHUNK_BYTES - self.buffer.len();
        let n = data.len().min(room);
        self.buffer.extend_from_slice(&data[..n]);
        self.hasher.update(&data[..n]);
        self.bytes += n as u64;
        if self.buffer.len() == self.header + chunk::CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_in_chunks_is_read_back_with_its_checksum() {
        let (mut writer, mut chunks) = ChunkWriter::new("t1").expect("short id");
        let data: Vec<u8> = (0..chunk::CHUNK_BYTES * 2 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let (consumed_tx, mut consumed) = mpsc::unbounded_channel();
        let (inbound, mut reader) = Inbound::new(consumed_tx);
        inbound.grant(data.len() as u64);
        let sent = std::thread::spawn(move || {
            writer.write_all(&data).expect("write");
            let sums = writer.finish().expect("finish");
            (data, sums)
        });
        while let Some(frame) = chunks.blocking_recv() {
            let (id, at) = chunk::split(&frame).expect("valid chunk");
            assert_eq!(id, "t1");
            inbound.accept(frame, at).expect("within credit");
        }
        let (data, (bytes, blake3)) = sent.join().expect("writer");
        inbound.end(bytes, blake3.clone());
        let mut back = Vec::new();
        reader.read_to_end(&mut back).expect("read");
        assert_eq!(back, data);
        assert_eq!(reader.finish().expect("same sums"), (bytes, blake3));
        let mut total = 0;
        while let Ok(n) = consumed.try_recv() {
            total += n;
        }
        assert_eq!(total, data.len() as u64);
    }

    #[test]
    fn a_chunk_over_the_credit_is_refused() {
        let (consumed, _) = mpsc::unbounded_channel();
        let (inbound, _reader) = Inbound::new(consumed);
        inbound.grant(4);
        assert!(inbound.accept(vec![0, 1, 2, 3, 4], 0).is_err());
        assert!(inbound.accept(vec![0, 1, 2, 3], 0).is_ok());
    }

    #[test]
    fn a_wrong_checksum_and_an_interruption_are_errors() {
        let (consumed, _) = mpsc::unbounded_channel();
        let (inbound, mut reader) = Inbound::new(consumed);
        inbound.grant(10);
        inbound.accept(b"abc".to_vec(), 0).expect("within credit");
        inbound.end(3, "00".repeat(32));
        assert!(reader.finish().expect_err("mismatch").contains("checksum"));

        let (consumed, _) = mpsc::unbounded_channel();
        let (inbound, mut reader) = Inbound::new(consumed);
        inbound.grant(10);
        inbound.accept(b"abc".to_vec(), 0).expect("within credit");
        drop(inbound);
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
    }
}
