//! What a transfer gives its caller: [`TransferOptions`] in,
//! [`Transferred`] or [`TransferError`] out (the transfer itself is in
//! `transfer`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::CallError;

/// What a finished transfer moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes on the wire (a directory's tar stream).
    pub bytes: u64,
    /// BLAKE3 of those bytes, lowercase hex, as both ends computed it.
    pub blake3: String,
    /// Whether a directory went as a tar stream.
    pub archive: bool,
}

/// Called as a transfer goes: bytes so far, and the total when known.
pub type TransferProgress = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// How to run a transfer.
#[derive(Clone, Default)]
pub struct TransferOptions {
    /// Progress reports, when wanted.
    pub progress: Option<TransferProgress>,
}

impl std::fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The tool server did not grant the `transfer` feature.
    #[error("the tool server does not support file transfer (feature `transfer`)")]
    Unsupported,
    /// The local file or directory could not be read or written.
    #[error("{}: {message}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The tool server refused or failed the transfer: a denied permission,
    /// a missing path, a checksum mismatch.
    #[error("{0}")]
    Failed(String),
    /// The transfer got no answer: a permission to ask for, the connection
    /// lost, cancelled.
    #[error(transparent)]
    Call(#[from] CallError),
}
