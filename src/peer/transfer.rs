//! Uploads and downloads (feature `transfer`): a file, or a directory as a
//! tar stream, in binary chunks within the receiver's credit, so a transfer
//! of any size holds a few MiB at either end and the calls on the same
//! connection keep flowing. The receiver writes beside the target and
//! renames over it only when the BLAKE3 matches.
//!
//! The server may be hostile: a chunk beyond the credit this client
//! granted, or for a transfer it does not run, is refused or dropped, and
//! nothing it sends grows this process.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Peer;
use super::shared::Shared;
use super::transferred::{TransferError, TransferOptions, Transferred};
use crate::error::CallError;
use crate::executor::Outcome;
use crate::protocol::{ClientMessage, ServerMessage, chunk, feature};
use crate::tools::transfer::Target;
use crate::transport::Frame;
use crate::wire::chunks::{ChunkReader, ChunkWriter, GRANT_BYTES, Inbound, WINDOW_BYTES};
use crate::wire::{Contention, Pending};

/// Credit a server may hold out to this client at once: more is ignored.
const MAX_CREDIT_BYTES: usize = 64 * 1024 * 1024;
/// Characters of the server's explanation a failed transfer keeps.
const MAX_ERROR_CHARS: usize = 2000;

/// A download's `download_start`: whether it is a tar stream, and the
/// file's size when it is one file.
type Started = (bool, Option<u64>);

/// The reader's handle on a running transfer of this client.
pub(super) enum Transfer {
    /// An upload: the credit the server granted.
    Upload(Arc<Semaphore>),
    /// A download: where its chunks go, and who waits for it to start.
    Download {
        inbound: Inbound,
        started: Mutex<Option<oneshot::Sender<Started>>>,
    },
}

/// Forgets a transfer however its future ends.
struct Registered<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.transfers.remove(&self.id);
    }
}

impl Peer {
    /// Uploads the file or directory `local` to `remote` in the sandbox.
    ///
    /// # Errors
    /// As [`Peer::upload_with`].
    pub async fn upload(&self, local: &Path, remote: &str) -> Result<Transferred, TransferError> {
        self.upload_with(local, remote, &TransferOptions::default())
            .await
    }

    /// Uploads the file or directory `local` to `remote` in the sandbox (a
    /// directory must not exist there, or be empty).
    ///
    /// # Errors
    /// A [`TransferError`] naming the side that failed; the sandbox then has
    /// no file under `remote` from this upload.
    pub async fn upload_with(
        &self,
        local: &Path,
        remote: &str,
        options: &TransferOptions,
    ) -> Result<Transferred, TransferError> {
        self.check_transfer()?;
        let shared = &*self.shared;
        let source = open_local(local).await?;
        let (archive, total) = (source.is_archive(), source.size());
        let (id, mut pending) = new_request(shared)?;
        let credit = Arc::new(Semaphore::new(0));
        shared
            .transfers
            .insert(id, Transfer::Upload(credit.clone()));
        let _registered = Registered { shared, id };
        let (mut writer, mut chunks) =
            ChunkWriter::new(&id.to_string()).map_err(TransferError::Failed)?;
        let upload = ClientMessage::Upload {
            id: id.to_string(),
            path: remote.to_owned(),
            archive,
        };
        shared.send(&upload, Contention::Shared, Some(id)).await?;
        let read = tokio::task::spawn_blocking(move || {
            source.copy_to(&mut writer)?;
            writer.finish()
        });
        let header = 1 + id.to_string().len();
        let mut sent = 0u64;
        let early = loop {
            let next = async {
                let frame = chunks.recv().await?;
                let len = u32::try_from(frame.len() - header).unwrap_or(u32::MAX);
                credit.acquire_many(len).await.ok()?.forget();
                Some(frame)
            };
            tokio::select! {
                reply = pending.wait() => break Some(reply),
                frame = next => match frame {
                    Some(frame) => {
                        sent += (frame.len() - header) as u64;
                        shared.send_frame(Frame::Binary(frame), Contention::Shared, None).await?;
                        if let Some(progress) = &options.progress {
                            progress(sent, total);
                        }
                    }
                    None => break None,
                },
            }
        };
        let reply = match early {
            Some(reply) => reply,
            None => {
                let sums = read.await.map_err(|e| local_error(local, e.to_string()))?;
                let (bytes, blake3) = match sums {
                    Ok(sums) => sums,
                    Err(e) => {
                        shared.cancel_remote(id);
                        return Err(local_error(local, format!("cannot read: {e}")));
                    }
                };
                let end = ClientMessage::UploadEnd {
                    id: id.to_string(),
                    bytes,
                    blake3,
                };
                shared.send(&end, Contention::Shared, None).await?;
                pending.wait().await
            }
        };
        let reply = reply.ok_or_else(|| shared.reason())?;
        finished(reply, archive)
    }

    /// Downloads the file or directory `remote` of the sandbox to `local`.
    ///
    /// # Errors
    /// As [`Peer::download_with`].
    pub async fn download(&self, remote: &str, local: &Path) -> Result<Transferred, TransferError> {
        self.download_with(remote, local, &TransferOptions::default())
            .await
    }

    /// Downloads the file or directory `remote` of the sandbox to `local`
    /// (a file is replaced; a directory must not exist, or be empty).
    ///
    /// # Errors
    /// A [`TransferError`] naming the side that failed; `local` is then as
    /// it was.
    pub async fn download_with(
        &self,
        remote: &str,
        local: &Path,
        options: &TransferOptions,
    ) -> Result<Transferred, TransferError> {
        self.check_transfer()?;
        let shared = &*self.shared;
        let target = local_target(local)?;
        let (id, mut pending) = new_request(shared)?;
        let (consumed_tx, mut consumed) = mpsc::unbounded_channel();
        let (inbound, mut reader) = Inbound::new(consumed_tx);
        inbound.grant(WINDOW_BYTES);
        let (started, start) = oneshot::channel();
        shared.transfers.insert(
            id,
            Transfer::Download {
                inbound,
                started: Mutex::new(Some(started)),
            },
        );
        let _registered = Registered { shared, id };
        let download = ClientMessage::Download {
            id: id.to_string(),
            path: remote.to_owned(),
            credit: WINDOW_BYTES,
        };
        shared.send(&download, Contention::Shared, Some(id)).await?;
        let (archive, size) = tokio::select! {
            biased;
            started = start => started.map_err(|_| shared.reason())?,
            reply = pending.wait() => return finished(reply.ok_or_else(|| shared.reason())?, false),
        };
        let write = tokio::task::spawn_blocking(move || {
            target
                .act(|t| t.receive(archive, &mut reader, ChunkReader::finish))
                .map(|(sums, _)| sums)
        });
        let mut received = 0u64;
        let mut taken = 0u64;
        let reply = loop {
            tokio::select! {
                n = consumed.recv() => {
                    let n = n.unwrap_or(0);
                    received += n;
                    taken += n;
                    if let Some(progress) = &options.progress {
                        progress(received, size);
                    }
                    if taken >= GRANT_BYTES {
                        grant(shared, id, taken).await?;
                        taken = 0;
                    }
                }
                reply = pending.wait() => break reply.ok_or_else(|| shared.reason())?,
            }
        };
        let outcome = finished(reply, archive);
        match &outcome {
            Ok(done) => end(shared, id, done),
            // Dropping the receiver interrupts the writer: nothing stays.
            Err(_) => drop(shared.transfers.remove(&id)),
        }
        let written = write.await.map_err(|e| local_error(local, e.to_string()))?;
        let done = outcome?;
        written.map_err(|e| local_error(local, e.to_string()))?;
        Ok(done)
    }

    fn check_transfer(&self) -> Result<(), TransferError> {
        if self.features.iter().any(|f| f == feature::TRANSFER) {
            Ok(())
        } else {
            Err(TransferError::Unsupported)
        }
    }
}

/// A fresh request id and the wait for its final frame.
fn new_request(shared: &Shared) -> Result<(u64, Pending<'_, u64, ServerMessage>), CallError> {
    let id = shared.next_id();
    let pending = shared
        .pending
        .register(id)
        .ok_or_else(|| CallError::Protocol(format!("request id {id} is in use")))?;
    Ok((id, pending))
}

/// The server's last word on a download: the writer checks its sums.
fn end(shared: &Shared, id: u64, done: &Transferred) {
    if let Some(entry) = shared.transfers.get(&id)
        && let Transfer::Download { inbound, .. } = entry.value()
    {
        inbound.end(done.bytes, done.blake3.clone());
    }
}

/// Grants the server `bytes` more of download `id`.
async fn grant(shared: &Shared, id: u64, bytes: u64) -> Result<(), CallError> {
    if let Some(entry) = shared.transfers.get(&id)
        && let Transfer::Download { inbound, .. } = entry.value()
    {
        inbound.grant(bytes);
    }
    let credit = ClientMessage::Credit {
        id: id.to_string(),
        bytes,
    };
    shared.send(&credit, Contention::Shared, None).await
}

/// A transfer's final `response` as its result.
fn finished(reply: ServerMessage, archive: bool) -> Result<Transferred, TransferError> {
    let ServerMessage::Response(frame) = reply else {
        return Err(CallError::Protocol("expected a response to a transfer".into()).into());
    };
    let response = Outcome::from_frame(frame)?.into_result()?;
    if response.is_error || response.denied {
        return Err(TransferError::Failed(
            response.output.chars().take(MAX_ERROR_CHARS).collect(),
        ));
    }
    let bytes = response
        .metadata
        .get("bytes")
        .and_then(serde_json::Value::as_u64);
    let blake3 = response
        .metadata
        .get("blake3")
        .and_then(serde_json::Value::as_str);
    match (bytes, blake3) {
        (Some(bytes), Some(blake3)) if blake3.len() == 64 => Ok(Transferred {
            bytes,
            blake3: blake3.to_owned(),
            archive,
        }),
        _ => Err(
            CallError::Protocol("a transfer's response without its bytes and blake3".into()).into(),
        ),
    }
}

/// Routes a frame of the server about a transfer of this client.
pub(super) fn route(shared: &Shared, message: ServerMessage) {
    match message {
        ServerMessage::Credit { id, bytes } => {
            let Some(entry) = id
                .parse()
                .ok()
                .and_then(|id: u64| shared.transfers.get(&id))
            else {
                return;
            };
            if let Transfer::Upload(credit) = entry.value() {
                let held = credit.available_permits();
                match usize::try_from(bytes) {
                    Ok(bytes) if held.saturating_add(bytes) <= MAX_CREDIT_BYTES => {
                        credit.add_permits(bytes);
                    }
                    _ => tracing::debug!(id, bytes, "credit over the limit ignored"),
                }
            }
        }
        ServerMessage::DownloadStart { id, archive, size } => {
            let Some(entry) = id
                .parse()
                .ok()
                .and_then(|id: u64| shared.transfers.get(&id))
            else {
                return;
            };
            if let Transfer::Download { started, .. } = entry.value()
                && let Some(started) = started
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
            {
                let _ = started.send((archive, size));
            }
        }
        _ => {}
    }
}

/// A binary frame: a chunk of a download. One for no running download is
/// dropped; one beyond the credit this client granted ends that download.
pub(super) fn chunk(shared: &Shared, frame: Vec<u8>) {
    let (id, start) = match chunk::split(&frame) {
        Ok((id, start)) => (id.parse::<u64>().ok(), start),
        Err(e) => {
            return tracing::debug!(error = %e, "a bad binary frame from the tool server dropped");
        }
    };
    let Some(entry) = id.and_then(|id| shared.transfers.get(&id)) else {
        return tracing::debug!("a chunk for no running download dropped");
    };
    let Transfer::Download { inbound, .. } = entry.value() else {
        return;
    };
    if let Err(e) = inbound.accept(frame, start) {
        let id = *entry.key();
        drop(entry);
        tracing::warn!(id, error = %e, "download stopped");
        shared.transfers.remove(&id);
    }
}

fn local_error(path: &Path, message: String) -> TransferError {
    TransferError::Local {
        path: path.to_path_buf(),
        message,
    }
}

/// The local side as a transfer target: its parent is the directory it
/// is reached through.
fn local_target(local: &Path) -> Result<Target, TransferError> {
    let absolute = match std::fs::canonicalize(local) {
        Ok(real) => real,
        Err(_) => std::path::absolute(local).map_err(|e| local_error(local, e.to_string()))?,
    };
    Target::local(&absolute).map_err(|e| local_error(local, e))
}

async fn open_local(local: &Path) -> Result<crate::tools::transfer::Source, TransferError> {
    let target = local_target(local)?;
    tokio::task::spawn_blocking(move || target.act(Target::open_source))
        .await
        .map_err(|e| local_error(local, e.to_string()))?
        .map_err(|e| local_error(local, e.to_string()))
}
