//! A tree walk through directory handles: each directory is opened relative
//! to its parent's handle and never through a symlink, so a directory swapped
//! for a link while the walk runs is skipped, not followed. `.gitignore`
//! files are honoured (read through the same handles); `.git` is never
//! entered; hidden files are included.

use std::ffi::OsString;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use cap_std::fs::Dir;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use tokio_util::sync::CancellationToken;

use crate::error::ToolError;

/// Bytes of a `.gitignore` read; a longer one is read up to here.
const MAX_GITIGNORE_BYTES: u64 = 1 << 20;

/// A regular file the walk found.
#[derive(Debug)]
pub(in crate::tools) struct WalkEntry<'a> {
    /// Its path relative to the walk's root.
    pub(in crate::tools) rel: &'a Path,
    /// The handle of the directory it is in.
    pub(in crate::tools) dir: &'a Dir,
    /// Its name in that directory.
    pub(in crate::tools) name: &'a std::ffi::OsStr,
    /// When it was last modified, if known.
    pub(in crate::tools) modified: Option<SystemTime>,
}

impl WalkEntry<'_> {
    /// Opens the file for reading through its directory's handle.
    ///
    /// # Errors
    /// The file is gone, was swapped for a link, or cannot be opened.
    pub(in crate::tools) fn open(&self) -> std::io::Result<std::fs::File> {
        let mut options = cap_std::fs::OpenOptions::new();
        cap_std::fs::OpenOptionsExt::custom_flags(options.read(true), libc::O_NONBLOCK);
        let file = self.dir.open_with(self.name, &options)?.into_std();
        if file.metadata()?.is_file() {
            Ok(file)
        } else {
            Err(std::io::Error::other("not a regular file"))
        }
    }
}

/// A directory waiting to be read.
struct Pending {
    parent: Option<Arc<Dir>>,
    name: OsString,
    rel: PathBuf,
    ignores: Arc<Vec<Gitignore>>,
}

/// Calls `visit` with every regular file under `root` until it breaks.
///
/// # Errors
/// [`ToolError::Cancelled`] when `cancel` fires.
pub(in crate::tools) fn walk(
    root: Dir,
    cancel: &CancellationToken,
    mut visit: impl FnMut(&WalkEntry<'_>) -> ControlFlow<()>,
) -> Result<(), ToolError> {
    let mut root = Some(root);
    let mut stack = vec![Pending {
        parent: None,
        name: OsString::new(),
        rel: PathBuf::new(),
        ignores: Arc::new(Vec::new()),
    }];
    while let Some(pending) = stack.pop() {
        if cancel.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        let dir = match (&pending.parent, root.take()) {
            (None, Some(root)) => root,
            (Some(parent), _) => match parent.open_dir(&pending.name) {
                Ok(dir) => dir,
                // Gone, unreadable, or swapped for a link: skip it.
                Err(_) => continue,
            },
            (None, None) => continue,
        };
        let ignores = with_gitignore(&dir, &pending.rel, &pending.ignores);
        let Ok(entries) = dir.entries() else { continue };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(cap_std::fs::DirEntry::file_name);
        let dir = Arc::new(dir);
        let mut subdirs = Vec::new();
        for entry in entries {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            let rel = pending.rel.join(&name);
            if ignored(&ignores, &rel, kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                if name != ".git" {
                    subdirs.push(Pending {
                        parent: Some(dir.clone()),
                        name,
                        rel,
                        ignores: ignores.clone(),
                    });
                }
            } else if kind.is_file() {
                let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
                let found = WalkEntry {
                    rel: &rel,
                    dir: &dir,
                    name: &name,
                    modified: modified.map(cap_std::time::SystemTime::into_std),
                };
                if visit(&found).is_break() {
                    return Ok(());
                }
            }
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// The ignore rules in force below `dir`: its parent's plus its own
/// `.gitignore`, if it has one.
fn with_gitignore(dir: &Dir, rel: &Path, inherited: &Arc<Vec<Gitignore>>) -> Arc<Vec<Gitignore>> {
    let Ok(file) = dir.open(".gitignore") else {
        return inherited.clone();
    };
    let mut text = String::new();
    let mut limited = std::io::Read::take(file.into_std(), MAX_GITIGNORE_BYTES);
    if std::io::Read::read_to_string(&mut limited, &mut text).is_err() {
        return inherited.clone();
    }
    let root = Path::new("/").join(rel);
    let mut builder = GitignoreBuilder::new(&root);
    for line in text.lines() {
        let _ = builder.add_line(None, line);
    }
    match builder.build() {
        Ok(gitignore) => {
            let mut all = Vec::clone(inherited);
            all.push(gitignore);
            Arc::new(all)
        }
        Err(_) => inherited.clone(),
    }
}

/// Whether the deepest `.gitignore` with an opinion ignores `rel`.
fn ignored(ignores: &[Gitignore], rel: &Path, is_dir: bool) -> bool {
    let path = Path::new("/").join(rel);
    for gitignore in ignores.iter().rev() {
        let matched = gitignore.matched(&path, is_dir);
        if matched.is_ignore() {
            return true;
        }
        if matched.is_whitelist() {
            return false;
        }
    }
    false
}
