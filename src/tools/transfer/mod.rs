//! The sandbox's side of file transfer (the `transfer` feature): what an
//! upload or a download may touch, asked exactly as the file tools ask
//! (`external_directory` outside the workdir; `edit` for an upload), and
//! the blocking file work, done as the tool user through directory handles.
//! An upload is written beside its target and renamed over it only once
//! the data are whole and their checksum matches: a failed or interrupted
//! upload never leaves a file under the final name.

mod archive;

pub(crate) use archive::{pack, unpack};

use std::io::{Read, Write};
use std::path::PathBuf;

use super::user::{ActingAs, ToolUser};
use super::{ask_edit, confine, paths};
use crate::context::CallContext;
use crate::error::ToolError;

/// A path a transfer was allowed to use.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    workdir: PathBuf,
    path: PathBuf,
    shown: String,
    user: Option<ToolUser>,
}

/// Resolves an upload's path and asks for it (`external_directory` when
/// outside the workdir, then `edit`).
///
/// # Errors
/// As the write tool: a bad path, a denied or suspended permission.
pub(crate) async fn allow_upload(
    ctx: &CallContext,
    raw: &str,
    user: Option<ToolUser>,
) -> Result<Target, ToolError> {
    let target = allow_download(ctx, raw, user).await?;
    ask_edit(ctx, &target.shown, None).await?;
    Ok(target)
}

/// Resolves a download's path and asks `external_directory` when it is
/// outside the workdir (reading inside it needs no permission, as for read).
///
/// # Errors
/// A bad path, a denied or suspended permission.
pub(crate) async fn allow_download(
    ctx: &CallContext,
    raw: &str,
    user: Option<ToolUser>,
) -> Result<Target, ToolError> {
    let path = paths::resolve_for_tool(ctx, raw).await?;
    let shown = paths::display(ctx.workdir(), &path);
    Ok(Target {
        workdir: ctx.workdir().to_path_buf(),
        path,
        shown,
        user,
    })
}

/// What a download sends.
#[derive(Debug)]
pub(crate) enum Source {
    /// One regular file and its size.
    File(std::fs::File, u64),
    /// A directory, sent as a tar stream.
    Dir(cap_std::fs::Dir),
}

impl Source {
    /// Whether the data are a tar stream.
    pub(crate) fn is_archive(&self) -> bool {
        matches!(self, Self::Dir(_))
    }

    /// The file's size (none for a directory).
    pub(crate) fn size(&self) -> Option<u64> {
        match self {
            Self::File(_, size) => Some(*size),
            Self::Dir(_) => None,
        }
    }

    /// Writes the data to `out`.
    ///
    /// # Errors
    /// A read of the source or a write to `out` failed.
    pub(crate) fn copy_to(self, mut out: impl Write) -> std::io::Result<()> {
        match self {
            Self::File(mut file, _) => copy_in_chunks(&mut file, &mut out),
            Self::Dir(dir) => pack(&dir, out),
        }
    }
}

impl Target {
    /// A path of the orchestrator's own machine (the other end of a
    /// transfer): reached through its parent directory, as the server's
    /// own user.
    ///
    /// # Errors
    /// A path without a parent (`/`).
    pub(crate) fn local(path: &std::path::Path) -> Result<Self, String> {
        let parent = path
            .parent()
            .filter(|_| path.file_name().is_some())
            .ok_or_else(|| "not a path a file can have".to_owned())?;
        Ok(Self {
            workdir: parent.to_path_buf(),
            path: path.to_path_buf(),
            shown: path.display().to_string(),
            user: None,
        })
    }

    /// The path as the user sees it.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs blocking `work` as the tool user (call it off the async threads).
    ///
    /// # Errors
    /// `work`'s error, or the switch to the tool user failed.
    pub(crate) fn act<T>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, ToolError>,
    ) -> Result<T, ToolError> {
        let _acting = ActingAs::enter(self.user)?;
        work(self)
    }

    /// Opens what a download sends: a regular file, or a directory.
    ///
    /// # Errors
    /// Not found, or neither a regular file nor a directory.
    pub(crate) fn open_source(&self) -> Result<Source, ToolError> {
        let place = confine::place(&self.workdir, &self.path, &self.shown)?;
        let is_dir = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_dir());
        if is_dir {
            return place.open_dir().map(Source::Dir);
        }
        let file = place.open_file()?;
        let size = file
            .metadata()
            .map_err(|e| ToolError::failed(format!("cannot inspect {}: {e}", self.shown)))?
            .len();
        Ok(Source::File(file, size))
    }

    /// Writes what `source` yields to the target — a file, or with
    /// `archive` a directory unpacked from a tar stream — then lets `check`
    /// judge the whole data before the result takes the target's name.
    /// Returns `check`'s value and whether something was replaced.
    ///
    /// # Errors
    /// A failed write, a bad archive, or `check`'s verdict.
    pub(crate) fn receive<R: Read, T>(
        &self,
        archive: bool,
        source: &mut R,
        check: impl FnOnce(&mut R) -> Result<T, String>,
    ) -> Result<(T, bool), ToolError> {
        let place = confine::place(&self.workdir, &self.path, &self.shown)?;
        let mut checked = None;
        let replaced = if archive {
            place.make_dir_with(|dir| {
                unpack(&mut *source, dir).map_err(ToolError::failed)?;
                checked = Some(check(source).map_err(ToolError::failed)?);
                Ok(())
            })?
        } else {
            place.write_with(|file| {
                std::io::copy(source, file)
                    .map_err(|e| ToolError::failed(format!("cannot write {}: {e}", self.shown)))?;
                checked = Some(check(source).map_err(ToolError::failed)?);
                Ok(())
            })?
        };
        let checked = checked.ok_or_else(|| ToolError::failed("the upload was not checked"))?;
        Ok((checked, replaced))
    }
}

/// Bytes moved per read and write of a transfer: a chunk's worth, where
/// `std::io::copy`'s 8 KiB made four times the system calls (measured: 32
/// writes per chunk instead of one).
const COPY_BYTES: usize = crate::protocol::chunk::CHUNK_BYTES;

/// Copies `from` to `to` a chunk at a time.
///
/// # Errors
/// A failed read or write.
pub(crate) fn copy_in_chunks(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<()> {
    let mut buffer = vec![0u8; COPY_BYTES];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
    }
}
