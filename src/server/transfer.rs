//! Uploads and downloads of a session (feature `transfer`): each is a call
//! of the session (its request id, the in-flight limit, `cancel`, the end
//! of the session stop it), whose data go as binary chunks within the
//! receiver's credit (`wire::chunks`) and whose one final `response` says
//! what was written or sent, with the BLAKE3. The file work is the tools'
//! (`tools::transfer`), done on a blocking thread.
//!
//! A transfer does not survive its connection: when the connection is lost
//! the transfer fails (a resumed session answers its id with that error).

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use super::call::{call_context, register};
use super::session::Session;
use crate::error::ToolError;
use crate::executor::Outcome;
use crate::executor::stop::{CallStop, StopReason};
use crate::protocol::{ServerMessage, ToolResponse, chunk};
use crate::tools::transfer::{self as files, Target};
use crate::transport::Frame;
use crate::wire::chunks::{ChunkReader, ChunkWriter, GRANT_BYTES, Inbound, WINDOW_BYTES};
use crate::wire::{Contention, FrameWriter};

/// Credit a download's receiver may hold out at once; more is a protocol
/// error (the server would otherwise promise itself unbounded sends).
const MAX_CREDIT_BYTES: u64 = 64 * 1024 * 1024;

/// The connection reader's handle on a running transfer.
pub(super) enum Transfer {
    /// An upload: where its chunks go.
    Upload(Inbound),
    /// A download: the credit its receiver granted.
    Download(Arc<Semaphore>),
}

/// `upload`: allows the path, then receives the data.
pub(super) async fn start_upload(session: &Arc<Session>, id: String, path: String, archive: bool) {
    if refused_while_shutting_down(session, &id).await {
        return;
    }
    let Some(stop) = register(session, &id).await else {
        return;
    };
    let (consumed_tx, consumed) = mpsc::unbounded_channel();
    let (inbound, reader) = Inbound::new(consumed_tx);
    session
        .transfers
        .insert(id.clone(), Transfer::Upload(inbound));
    let span = tracing::debug_span!("upload", id = %id, archive);
    let task = upload(session.clone(), id, path, archive, reader, consumed, stop);
    session.tasks.spawn(task.instrument(span));
}

/// `upload_end`: the sender's count and checksum, after its last chunk.
pub(super) fn upload_end(session: &Session, id: &str, bytes: u64, blake3: String) {
    if let Some(entry) = session.transfers.get(id)
        && let Transfer::Upload(inbound) = entry.value()
    {
        inbound.end(bytes, blake3);
    }
}

/// `download`: allows the path, then sends the data.
pub(super) async fn start_download(session: &Arc<Session>, id: String, path: String, credit: u64) {
    if refused_while_shutting_down(session, &id).await {
        return;
    }
    let Some(stop) = register(session, &id).await else {
        return;
    };
    let credit_left = Arc::new(Semaphore::new(0));
    session
        .transfers
        .insert(id.clone(), Transfer::Download(credit_left.clone()));
    add_credit(session, &id, &credit_left, credit);
    let span = tracing::debug_span!("download", id = %id);
    let task = download(session.clone(), id, path, credit_left, stop);
    session.tasks.spawn(task.instrument(span));
}

/// `credit`: the receiver of a download took more.
pub(super) fn credit(session: &Session, id: &str, bytes: u64) {
    if let Some(entry) = session.transfers.get(id)
        && let Transfer::Download(credit_left) = entry.value()
    {
        let credit_left = credit_left.clone();
        drop(entry);
        add_credit(session, id, &credit_left, bytes);
    }
}

fn add_credit(session: &Session, id: &str, credit_left: &Semaphore, bytes: u64) {
    let held = credit_left.available_permits() as u64;
    match usize::try_from(bytes) {
        Ok(bytes) if held + bytes as u64 <= MAX_CREDIT_BYTES => credit_left.add_permits(bytes),
        _ => {
            tracing::debug!(id, bytes, "credit over the limit: the download is stopped");
            session.calls.stop(id, StopReason::Cancelled);
        }
    }
}

/// A binary frame: a chunk of an upload. A chunk for no running upload is
/// dropped (its transfer already ended); one over the sender's credit
/// stops that upload.
pub(super) fn chunk(session: &Session, frame: Vec<u8>) {
    let (id, start) = match chunk::split(&frame) {
        Ok((id, start)) => (id.to_owned(), start),
        Err(e) => return tracing::debug!(error = %e, "a bad binary frame dropped"),
    };
    let Some(entry) = session.transfers.get(&id) else {
        return tracing::debug!(id, "a chunk for no running upload dropped");
    };
    let Transfer::Upload(inbound) = entry.value() else {
        return;
    };
    if let Err(e) = inbound.accept(frame, start) {
        drop(entry);
        tracing::debug!(id, error = %e, "upload stopped");
        session.transfers.remove(&id);
    }
}

/// Stops the session's transfers: their connection is gone.
pub(super) fn stop_all(session: &Session) {
    let ids: Vec<String> = session.transfers.iter().map(|e| e.key().clone()).collect();
    for id in ids {
        session.transfers.remove(&id);
        session.calls.stop(&id, StopReason::Disconnected);
    }
}

async fn refused_while_shutting_down(session: &Session, id: &str) -> bool {
    if !session.server.shutting_down.is_cancelled() {
        return false;
    }
    session.server.metrics().call_refused();
    let frame = crate::protocol::ResponseFrame::error(id, "the tool server is shutting down");
    session.send(&ServerMessage::Response(frame)).await;
    true
}

async fn upload(
    session: Arc<Session>,
    id: String,
    path: String,
    archive: bool,
    mut reader: ChunkReader,
    mut consumed: mpsc::UnboundedReceiver<u64>,
    stop: Arc<CallStop>,
) {
    let received = async {
        let ctx = call_context(&session, &id, &stop, "", "");
        let user = session.server.config.tool_user;
        let target = files::allow_upload(&ctx, &path, user).await?;
        let shown = target.shown().to_owned();
        grant(&session, &id, WINDOW_BYTES).await;
        let mut work = tokio::task::spawn_blocking(move || {
            target.act(|t| t.receive(archive, &mut reader, ChunkReader::finish))
        });
        let idle = session.server.config.call_timeout;
        let mut taken = 0u64;
        loop {
            tokio::select! {
                done = &mut work => {
                    let ((bytes, blake3), replaced) = done
                        .map_err(|e| ToolError::failed(format!("the upload failed: {e}")))??;
                    return Ok(ToolResponse::text(format!("Uploaded {shown} ({bytes} bytes)"))
                        .with_title(shown)
                        .with_metadata("bytes", bytes)
                        .with_metadata("blake3", blake3)
                        .with_metadata("created", !replaced));
                }
                n = consumed.recv() => {
                    taken += n.unwrap_or(0);
                    if taken >= GRANT_BYTES {
                        grant(&session, &id, taken).await;
                        taken = 0;
                    }
                }
                () = stop.cancel.cancelled() => break,
                () = tokio::time::sleep(idle) => {
                    stop.stop(StopReason::TimedOut(idle));
                    break;
                }
            }
        }
        // Stopped: the worker reads to the end of what came, finds the
        // transfer interrupted and leaves nothing under the final name.
        session.transfers.remove(&id);
        let _ = work.await;
        Err(ToolError::failed(stop.reason().message()))
    };
    let outcome = match received.await {
        Ok(response) => Outcome::Response(response),
        Err(error) => Outcome::from(error),
    };
    session.transfers.remove(&id);
    session.answer(outcome.into_frame(id)).await;
}

/// Tells the sender of upload `id` it may send `bytes` more.
async fn grant(session: &Session, id: &str, bytes: u64) {
    if let Some(entry) = session.transfers.get(id)
        && let Transfer::Upload(inbound) = entry.value()
    {
        inbound.grant(bytes);
    }
    let credit = ServerMessage::Credit {
        id: id.to_owned(),
        bytes,
    };
    session.send(&credit).await;
}

async fn download(
    session: Arc<Session>,
    id: String,
    path: String,
    credit_left: Arc<Semaphore>,
    stop: Arc<CallStop>,
) {
    let sent = async {
        let ctx = call_context(&session, &id, &stop, "", "");
        let user = session.server.config.tool_user;
        let target = files::allow_download(&ctx, &path, user).await?;
        let shown = target.shown().to_owned();
        let (source, target) = tokio::task::spawn_blocking(move || {
            let source = target.act(Target::open_source);
            (source, target)
        })
        .await
        .map_err(|e| ToolError::failed(format!("the download failed: {e}")))?;
        let source = source?;
        let start = ServerMessage::DownloadStart {
            id: id.clone(),
            archive: source.is_archive(),
            size: source.size(),
        };
        session.send(&start).await;
        let (mut writer, mut chunks) = ChunkWriter::new(&id).map_err(ToolError::failed)?;
        let work = tokio::task::spawn_blocking(move || {
            target.act(|t| {
                let failed = |e: std::io::Error| {
                    ToolError::failed(format!("cannot read {}: {e}", t.shown()))
                };
                source.copy_to(&mut writer).map_err(failed)?;
                writer.finish().map_err(failed)
            })
        });
        let connection = session.writer();
        let idle = session.server.config.call_timeout;
        let sending = async {
            while let Some(frame) = chunks.recv().await {
                let len = u32::try_from(frame.len() - chunk_header(&id)).unwrap_or(u32::MAX);
                let permits = tokio::time::timeout(idle, credit_left.acquire_many(len))
                    .await
                    .map_err(|_| ToolError::failed(StopReason::TimedOut(idle).message()))?
                    .map_err(|_| ToolError::failed("the download was stopped"))?;
                permits.forget();
                send_chunk(connection.as_deref(), frame).await?;
            }
            Ok::<(), ToolError>(())
        };
        tokio::select! {
            sent = sending => sent?,
            () = stop.cancel.cancelled() => return Err(ToolError::failed(stop.reason().message())),
        }
        let (bytes, blake3) = work
            .await
            .map_err(|e| ToolError::failed(format!("the download failed: {e}")))??;
        Ok(ToolResponse::text(format!("Sent {shown} ({bytes} bytes)"))
            .with_title(shown)
            .with_metadata("bytes", bytes)
            .with_metadata("blake3", blake3))
    };
    let outcome = match sent.await {
        Ok(response) => Outcome::Response(response),
        Err(error) => Outcome::from(error),
    };
    session.transfers.remove(&id);
    session.answer(outcome.into_frame(id)).await;
}

fn chunk_header(id: &str) -> usize {
    1 + id.len()
}

async fn send_chunk(connection: Option<&FrameWriter>, frame: Vec<u8>) -> Result<(), ToolError> {
    let lost = || ToolError::failed(StopReason::Disconnected.message());
    let connection = connection.ok_or_else(lost)?;
    connection
        .send(Frame::Binary(frame), Contention::Shared)
        .await
        .map_err(|_| lost())
}
