//! Path resolution shared by the file tools.
//!
//! A path from the model is joined to the workdir (when relative) and then
//! resolved component by component: `..` pops, and every existing symlink is
//! replaced by its target before the next component is looked at. The result
//! says where the tool would really act, so a symlink to `/etc` or a
//! `../../x` cannot silently lead outside the workdir: such a path needs the
//! `external_directory` permission.

use std::path::{Component, Path, PathBuf};

use crate::bus::PermissionRequest;
use crate::context::CallContext;
use crate::error::ToolError;

/// Symlinks followed in one resolution before giving up (as Linux's ELOOP).
const MAX_SYMLINKS: usize = 40;

/// Resolves `raw` against `workdir`, following symlinks component by
/// component. Components that do not exist yet are kept as they are.
///
/// `workdir` is taken as already resolved (the server and the CLI
/// canonicalize it at start; a `cd` target the bash check follows is a
/// result of this function): a relative `raw` is resolved from it, without
/// looking its own components up again. An absolute `raw` is resolved from
/// `/`.
///
/// # Errors
/// A [`ToolError::Failed`] for an empty path or a symlink loop.
pub fn resolve(workdir: &Path, raw: &str) -> Result<PathBuf, ToolError> {
    if raw.trim().is_empty() {
        return Err(ToolError::failed("the path is empty"));
    }
    let mut pending: Vec<std::ffi::OsString> = Vec::new();
    push_components(&mut pending, Path::new(raw));
    let mut resolved = if Path::new(raw).is_absolute() {
        PathBuf::from("/")
    } else {
        workdir.to_path_buf()
    };
    let mut links = 0;
    while let Some(component) = pending.pop() {
        match component.to_str() {
            Some("..") => {
                resolved.pop();
                continue;
            }
            Some(".") => continue,
            _ => {}
        }
        let candidate = resolved.join(&component);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ToolError::failed(format!(
                        "too many levels of symbolic links in {raw}"
                    )));
                }
                let target = std::fs::read_link(&candidate).map_err(|e| {
                    ToolError::failed(format!("cannot read link {}: {e}", candidate.display()))
                })?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                push_components(&mut pending, &target);
            }
            _ => resolved = candidate,
        }
    }
    Ok(resolved)
}

/// Pushes `path`'s components onto a stack so that the first one pops first.
fn push_components(stack: &mut Vec<std::ffi::OsString>, path: &Path) {
    let components: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    stack.extend(components.into_iter().rev());
}

/// Whether `path` (already resolved) is the workdir or below it.
pub fn is_inside(workdir: &Path, path: &Path) -> bool {
    path.starts_with(workdir)
}

/// `path` relative to the workdir for display and permission patterns
/// (`.` for the workdir itself), or the absolute path when outside.
pub fn display(workdir: &Path, path: &Path) -> String {
    match path.strip_prefix(workdir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Resolves `raw` for a tool and, when it leads outside the workdir, asks the
/// `external_directory` permission with the resolved path.
///
/// # Errors
/// As [`resolve`] and [`CallContext::ask_permission`].
pub async fn resolve_for_tool(ctx: &CallContext, raw: &str) -> Result<PathBuf, ToolError> {
    let path = resolve(ctx.workdir(), raw)?;
    if !is_inside(ctx.workdir(), &path) {
        let parent = path.parent().unwrap_or(Path::new("/"));
        ctx.ask_permission(PermissionRequest {
            permission: "external_directory".into(),
            patterns: vec![path.display().to_string()],
            opaque: Vec::new(),
            always: vec![format!("{}/*", parent.display())],
            metadata: [("requested".to_owned(), raw.into())].into_iter().collect(),
        })
        .await?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_follows_dotdot_and_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().canonicalize().expect("canonical").join("work");
        std::fs::create_dir_all(work.join("sub")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", work.join("etc-link")).expect("symlink");
        std::os::unix::fs::symlink("sub", work.join("rel-link")).expect("symlink");
        std::os::unix::fs::symlink("../..", work.join("sub/up")).expect("symlink");

        assert_eq!(resolve(&work, "a.txt").expect("ok"), work.join("a.txt"));
        assert_eq!(resolve(&work, "sub/../b").expect("ok"), work.join("b"));
        assert_eq!(
            resolve(&work, "../x").expect("ok"),
            work.parent().expect("parent").join("x")
        );
        assert_eq!(
            resolve(&work, "etc-link/passwd").expect("ok"),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(
            resolve(&work, "rel-link/new/file").expect("ok"),
            work.join("sub/new/file")
        );
        assert_eq!(
            resolve(&work, "sub/up/escape").expect("ok"),
            work.parent().expect("parent").join("escape")
        );
        assert!(!is_inside(
            &work,
            &resolve(&work, "sub/up/escape").expect("ok")
        ));
        assert!(is_inside(&work, &resolve(&work, "sub/./x").expect("ok")));

        std::os::unix::fs::symlink("loop", work.join("loop")).expect("symlink");
        assert!(resolve(&work, "loop/x").is_err());
    }

    #[test]
    fn a_relative_path_starts_at_the_workdir_as_given() {
        // The workdir is taken as resolved: its own components are not
        // looked up again (the bash check resolves every `cd` target and
        // redirection this way), so a workdir named through a link keeps
        // its relative paths inside it, while links below it are followed.
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().canonicalize().expect("canonical").join("real");
        std::fs::create_dir_all(real.join("sub")).expect("mkdir");
        let named = dir.path().canonicalize().expect("canonical").join("named");
        std::os::unix::fs::symlink(&real, &named).expect("symlink");
        std::os::unix::fs::symlink("/etc", real.join("sub/etc-link")).expect("symlink");

        let inside = resolve(&named, "sub/new.txt").expect("ok");
        assert_eq!(inside, named.join("sub/new.txt"));
        assert!(is_inside(&named, &inside));
        assert_eq!(
            resolve(&named, "sub/etc-link/passwd").expect("ok"),
            PathBuf::from("/etc/passwd")
        );
        // An absolute path is resolved from `/`, through the link.
        assert_eq!(
            resolve(&named, named.join("sub/x").to_str().expect("utf-8")).expect("ok"),
            real.join("sub/x")
        );
    }
}
