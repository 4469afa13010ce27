//! Directories as tar streams, read and written through a directory handle
//! only: nothing outside the handle is ever opened, whatever a name or a
//! symlink in the tree or in the archive says.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt as _, PermissionsExt as _};

/// Writes the tree under `dir` to `out` as a tar stream: directories,
/// regular files and symlinks (as links, never followed); FIFOs, sockets
/// and devices are left out.
///
/// # Errors
/// A read of the tree or a write to `out` failed.
pub(crate) fn pack(dir: &Dir, out: impl Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    pack_into(dir, Path::new(""), &mut builder)?;
    builder.into_inner()?.flush()
}

fn pack_into<W: Write>(
    dir: &Dir,
    prefix: &Path,
    builder: &mut tar::Builder<W>,
) -> std::io::Result<()> {
    let mut entries = dir.entries()?.collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(cap_std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let path = prefix.join(&name);
        let kind = entry.file_type()?;
        let meta = dir.symlink_metadata(&name)?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(meta.permissions().mode() & 0o7777);
        header.set_mtime(
            meta.modified()
                .ok()
                .and_then(|t| t.into_std().duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        );
        if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, &path, std::io::empty())?;
            pack_into(&dir.open_dir(&name)?, &path, builder)?;
        } else if kind.is_file() {
            let mut options = OpenOptions::new();
            options
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
            let file = dir.open_with(&name, &options)?.into_std();
            let len = file.metadata()?.len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(len);
            // A file that shrinks meanwhile is padded, so the stream stays whole.
            let data = file.take(len).chain(std::io::repeat(0)).take(len);
            builder.append_data(&mut header, &path, data)?;
        } else if kind.is_symlink() {
            let target = dir.read_link_contents(&name)?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, &path, target)?;
        }
    }
    Ok(())
}

/// Unpacks a tar stream into `dir`: directories, regular files (with their
/// permission bits, without set-id bits) and symlinks (made as they are,
/// never followed out of `dir` afterwards by anything here). An entry whose
/// path is absolute or climbs with `..`, a hard link or a device is refused.
///
/// # Errors
/// An unsafe or unsupported entry, a bad archive, or a failed write.
pub(crate) fn unpack(input: impl Read, dir: &Dir) -> Result<(), String> {
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| format!("bad archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("bad archive: {e}"))?;
        let raw = entry
            .path()
            .map_err(|e| format!("bad archive: {e}"))?
            .into_owned();
        let Some(rel) = relative(&raw) else {
            return Err(format!(
                "the archive has an unsafe path: {}",
                crate::protocol::short(&raw.display().to_string())
            ));
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let failed =
            |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", rel.display());
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            dir.create_dir_all(parent)
                .map_err(|e| failed("create the directory of", e))?;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                dir.create_dir_all(&rel).map_err(|e| failed("create", e))?;
                let _ =
                    dir.set_permissions(&rel, cap_std::fs::Permissions::from_mode(mode | 0o700));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut options = OpenOptions::new();
                options
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(mode)
                    .custom_flags(libc::O_NOFOLLOW);
                let mut file = dir
                    .open_with(&rel, &options)
                    .map_err(|e| failed("create", e))?;
                std::io::copy(&mut entry, &mut file).map_err(|e| failed("write", e))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("bad archive: {e}"))?
                    .ok_or_else(|| format!("the symlink {} has no target", rel.display()))?;
                dir.symlink_contents(&target, &rel)
                    .map_err(|e| failed("create the symlink", e))?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(format!(
                    "the archive has an entry of a kind not taken ({other:?}): {}",
                    rel.display()
                ));
            }
        }
    }
    Ok(())
}

/// `path` without `.` components, or `None` when it is absolute or climbs.
fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    #[test]
    fn a_tree_packs_and_unpacks_as_it_was_and_links_stay_links() {
        let from = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(from.path().join("a/b")).expect("mkdir");
        std::fs::write(from.path().join("a/b/file.txt"), b"hello").expect("write");
        std::fs::write(from.path().join("top"), vec![7u8; 100_000]).expect("write");
        std::os::unix::fs::symlink("/etc/passwd", from.path().join("a/etc")).expect("symlink");
        let source = Dir::open_ambient_dir(from.path(), ambient_authority()).expect("open");
        let mut tar = Vec::new();
        pack(&source, &mut tar).expect("pack");

        let to = tempfile::tempdir().expect("tempdir");
        let target = Dir::open_ambient_dir(to.path(), ambient_authority()).expect("open");
        unpack(&tar[..], &target).expect("unpack");
        assert_eq!(
            std::fs::read(to.path().join("a/b/file.txt")).expect("read"),
            b"hello"
        );
        assert_eq!(
            std::fs::read(to.path().join("top")).expect("read").len(),
            100_000
        );
        assert_eq!(
            std::fs::read_link(to.path().join("a/etc")).expect("a link"),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn entries_that_climb_or_go_through_a_link_out_are_refused() {
        let to = tempfile::tempdir().expect("tempdir");
        let target = Dir::open_ambient_dir(to.path(), ambient_authority()).expect("open");
        let outside = tempfile::tempdir().expect("tempdir");

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "out", outside.path())
            .expect("link");
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "out/escaped", &b"bad"[..])
            .expect("file");
        let tar = builder.into_inner().expect("tar");
        assert!(unpack(&tar[..], &target).is_err());
        assert!(!outside.path().join("escaped").exists());

        assert_eq!(relative(Path::new("a/../../x")), None);
        assert_eq!(relative(Path::new("/etc/x")), None);
        assert_eq!(relative(Path::new("./a/b")), Some(PathBuf::from("a/b")));
    }
}
