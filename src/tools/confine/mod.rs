//! Resolve and open in one step: the file tools act through a directory
//! handle ([`cap_std::fs::Dir`]) of the workdir, and every open, create,
//! rename and listing is relative to it and never follows a symlink out of
//! it (openat2 `RESOLVE_BENEATH` where the kernel has it, cap-std's own
//! component-by-component walk otherwise). A path checked once and swapped
//! for a symlink before it is opened — `renameat2(RENAME_EXCHANGE)` of a
//! directory with a link to `/etc` — then fails instead of leading out.
//!
//! A path outside the workdir that the user allowed (`external_directory`)
//! is acted on through a handle of its own resolved parent directory.

mod walk;

pub(super) use walk::walk;

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt as _};

use crate::error::ToolError;

/// Where a tool acts: a directory handle and a path beneath it.
#[derive(Debug)]
pub(super) struct Place {
    /// The handle every access goes through.
    pub(super) base: Dir,
    /// The path below `base` (empty for `base` itself).
    pub(super) rel: PathBuf,
    /// The path as the user sees it (workdir-relative, or absolute outside).
    pub(super) shown: String,
}

/// The place of `resolved` (a path [`super::paths::resolve`] returned and the
/// permissions allowed).
///
/// # Errors
/// A [`ToolError::Failed`] when the base directory cannot be opened.
pub(super) fn place(workdir: &Path, resolved: &Path, shown: &str) -> Result<Place, ToolError> {
    let (base, rel) = match resolved.strip_prefix(workdir) {
        Ok(rel) => (workdir, rel.to_path_buf()),
        Err(_) => match (resolved.parent(), resolved.file_name()) {
            (Some(parent), Some(name)) => (parent, PathBuf::from(name)),
            _ => (resolved, PathBuf::new()),
        },
    };
    let base = Dir::open_ambient_dir(base, ambient_authority())
        .map_err(|e| ToolError::failed(format!("cannot open the directory of {shown}: {e}")))?;
    Ok(Place {
        base,
        rel,
        shown: shown.to_owned(),
    })
}

impl Place {
    fn target(&self) -> &Path {
        if self.rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.rel
        }
    }

    fn failed(&self, what: &str, e: &std::io::Error) -> ToolError {
        match e.kind() {
            std::io::ErrorKind::NotFound => ToolError::failed(format!("not found: {}", self.shown)),
            _ => ToolError::failed(format!("cannot {what} {}: {e}", self.shown)),
        }
    }

    /// Opens a regular file for reading. A FIFO or device is refused without
    /// blocking (opened non-blocking, then checked on the handle).
    ///
    /// # Errors
    /// Not found, not a regular file, or a path that leads out of the base.
    pub(super) fn open_file(&self) -> Result<std::fs::File, ToolError> {
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(libc::O_NONBLOCK);
        let file = self
            .base
            .open_with(self.target(), &options)
            .map_err(|e| self.failed("open", &e))?
            .into_std();
        let meta = file.metadata().map_err(|e| self.failed("inspect", &e))?;
        if !meta.is_file() {
            return Err(ToolError::failed(format!(
                "{} is {}, not a regular file",
                self.shown,
                kind_of(&meta)
            )));
        }
        Ok(file)
    }

    /// The whole content of a regular file.
    ///
    /// # Errors
    /// As [`Place::open_file`], or a read error.
    pub(super) fn read(&self) -> Result<Vec<u8>, ToolError> {
        let mut file = self.open_file()?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| self.failed("read", &e))?;
        Ok(bytes)
    }

    /// Opens the place as a directory.
    ///
    /// # Errors
    /// Not found, not a directory, or a path that leads out of the base.
    pub(super) fn open_dir(&self) -> Result<Dir, ToolError> {
        self.base
            .open_dir(self.target())
            .map_err(|e| self.failed("open the directory", &e))
    }

    /// Writes `content` atomically: a temporary file in the target's own
    /// directory (opened once, through the handle), flushed, renamed over
    /// the target within that directory. Parents are created. An existing
    /// file keeps its permission bits. The temporary file never outlives a
    /// failure. Returns whether a file was replaced (`false`: created).
    ///
    /// # Errors
    /// A [`ToolError::Failed`] naming the step that failed.
    pub(super) fn write_atomic(&self, content: &[u8]) -> Result<bool, ToolError> {
        self.write_with(|file| {
            file.write_all(content)
                .map_err(|e| self.failed("write", &e))
        })
    }

    /// As [`Place::write_atomic`], with the content written by `fill` into
    /// the temporary file; an error from `fill` leaves nothing behind and
    /// the target as it was.
    ///
    /// # Errors
    /// `fill`'s error, or a [`ToolError::Failed`] naming the step that failed.
    pub(super) fn write_with(
        &self,
        fill: impl FnOnce(&mut std::fs::File) -> Result<(), ToolError>,
    ) -> Result<bool, ToolError> {
        let (dir, name) = self.parent_dir()?;
        let existing = dir.symlink_metadata(&name).ok();
        if let Some(meta) = &existing
            && !meta.is_file()
        {
            return Err(ToolError::failed(format!(
                "{} exists and is not a regular file",
                self.shown
            )));
        }
        let temp =
            TempFile::create(&dir).map_err(|e| self.failed("create a temporary file for", &e))?;
        let mut file = temp
            .file
            .try_clone()
            .map_err(|e| self.failed("write", &e))?;
        fill(&mut file)?;
        file.sync_data().map_err(|e| self.failed("write", &e))?;
        if let Some(meta) = &existing {
            let _ = file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
                cap_std::fs::PermissionsExt::mode(&meta.permissions()),
            ));
        }
        temp.persist(&name)
            .map_err(|e| self.failed("replace", &e))?;
        Ok(existing.is_some())
    }

    /// Makes a new directory at the place from `fill`, which gets the handle
    /// of a temporary directory beside the target to fill; it is then
    /// renamed to the target. The target must not exist or be an empty
    /// directory. Nothing is left behind on an error.
    ///
    /// # Errors
    /// `fill`'s error, a target that is in the way, or a failed step.
    pub(super) fn make_dir_with(
        &self,
        fill: impl FnOnce(&Dir) -> Result<(), ToolError>,
    ) -> Result<bool, ToolError> {
        let (dir, name) = self.parent_dir()?;
        let existing = dir.symlink_metadata(&name).ok();
        if let Some(meta) = &existing
            && !meta.is_dir()
        {
            return Err(ToolError::failed(format!(
                "{} exists and is not a directory",
                self.shown
            )));
        }
        let temp = format!(".toolwire-{}", uuid::Uuid::new_v4().simple());
        dir.create_dir(&temp)
            .map_err(|e| self.failed("create a temporary directory for", &e))?;
        let result = dir
            .open_dir(&temp)
            .map_err(|e| self.failed("open a temporary directory for", &e))
            .and_then(|inside| fill(&inside))
            .and_then(|()| {
                dir.rename(&temp, &dir, &name).map_err(|e| {
                    if e.raw_os_error() == Some(libc::ENOTEMPTY)
                        || e.raw_os_error() == Some(libc::EEXIST)
                    {
                        ToolError::failed(format!("{} exists and is not empty", self.shown))
                    } else {
                        self.failed("rename into", &e)
                    }
                })
            });
        if result.is_err() {
            let _ = dir.remove_dir_all(&temp);
        }
        result.map(|()| existing.is_some())
    }

    /// The handle of the target's own directory (created if missing) and
    /// the target's name in it.
    fn parent_dir(&self) -> Result<(Dir, OsString), ToolError> {
        let name: OsString = self
            .rel
            .file_name()
            .ok_or_else(|| ToolError::failed(format!("{} is not a file path", self.shown)))?
            .to_owned();
        let parent = self.rel.parent().unwrap_or(Path::new(""));
        let dir = if parent.as_os_str().is_empty() {
            self.base
                .try_clone()
                .map_err(|e| self.failed("open the directory of", &e))?
        } else {
            self.base
                .create_dir_all(parent)
                .map_err(|e| self.failed("create the directory of", &e))?;
            self.base
                .open_dir(parent)
                .map_err(|e| self.failed("open the directory of", &e))?
        };
        Ok((dir, name))
    }
}

/// A `.toolwire-*` file in one directory handle, removed unless persisted.
struct TempFile<'d> {
    dir: &'d Dir,
    name: String,
    file: std::fs::File,
    persisted: bool,
}

impl<'d> TempFile<'d> {
    fn create(dir: &'d Dir) -> std::io::Result<Self> {
        let name = format!(".toolwire-{}", uuid::Uuid::new_v4().simple());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o644);
        let file = dir.open_with(&name, &options)?.into_std();
        Ok(Self {
            dir,
            name,
            file,
            persisted: false,
        })
    }

    fn persist(mut self, name: &std::ffi::OsStr) -> std::io::Result<()> {
        self.dir.rename(&self.name, self.dir, name)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = self.dir.remove_file(&self.name);
        }
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory (use the ls tool)"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}
