//! What a bash command needs permission for, read from the script by
//! [`crate::shell`]: `bash` for every simple command in it (opaque ones always
//! ask), then `external_directory` for every path it writes, deletes,
//! enters or redirects to outside the workdir.

use std::path::{Path, PathBuf};

use crate::bus::PermissionRequest;
use crate::context::CallContext;
use crate::error::ToolError;
use crate::shell::{self, Cwd, Script};
use crate::tools::paths;

/// Devices a command may redirect to or `tee` into wherever the workdir is.
const HARMLESS_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
];

/// The permission requests for running `command` in `workdir`, in the order
/// they are asked: `bash` (when the script runs any command), then
/// `external_directory` (when it touches a path outside the workdir).
pub fn permission_requests(workdir: &Path, command: &str) -> Vec<PermissionRequest> {
    let script = shell::analyze(command);
    let mut requests = Vec::with_capacity(2);
    requests.extend(bash_request(command, &script));
    requests.extend(outside_request(workdir, command, &script));
    requests
}

/// Asks every permission `command` needs, stopping at the first refusal.
///
/// # Errors
/// As [`CallContext::ask_permission`].
pub(super) async fn check(ctx: &CallContext, command: &str) -> Result<(), ToolError> {
    for request in permission_requests(ctx.workdir(), command) {
        ctx.ask_permission(request).await?;
    }
    Ok(())
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// An empty request for `permission`, showing the whole command.
fn request_for(permission: &str, command: &str) -> PermissionRequest {
    PermissionRequest {
        permission: permission.into(),
        metadata: [("command".to_owned(), command.into())]
            .into_iter()
            .collect(),
        ..PermissionRequest::default()
    }
}

/// The request, unless it has nothing to ask about.
fn unless_empty(request: PermissionRequest) -> Option<PermissionRequest> {
    (!request.patterns.is_empty() || !request.opaque.is_empty()).then_some(request)
}

fn bash_request(command: &str, script: &Script) -> Option<PermissionRequest> {
    let mut request = request_for("bash", command);
    for simple in &script.commands {
        if simple.opaque.is_some() {
            push_unique(&mut request.opaque, simple.pattern());
            continue;
        }
        push_unique(&mut request.patterns, simple.pattern());
        if let Some(always) = simple.always() {
            push_unique(&mut request.always, always);
        }
    }
    let reasons: Vec<serde_json::Value> = script
        .commands
        .iter()
        .filter_map(|c| c.opaque)
        .map(Into::into)
        .collect();
    if !reasons.is_empty() {
        request.metadata.insert("opaque".to_owned(), reasons.into());
    }
    unless_empty(request)
}

fn outside_request(workdir: &Path, command: &str, script: &Script) -> Option<PermissionRequest> {
    let mut request = request_for("external_directory", command);
    for use_ in &script.paths {
        let harmless_target = use_.by == "a redirection" || use_.by == "tee" || use_.by == "dd";
        if harmless_target
            && use_
                .word
                .value()
                .is_some_and(|v| is_harmless_device(Path::new(v)))
        {
            // Named exactly: nothing to resolve.
            continue;
        }
        match where_it_leads(workdir, use_.word.value(), &use_.cwd) {
            Some(path) if paths::is_inside(workdir, &path) => {}
            Some(path) if harmless_target && is_harmless_device(&path) => {}
            Some(path) => {
                let parent = path.parent().unwrap_or(Path::new("/"));
                push_unique(&mut request.always, format!("{}/*", parent.display()));
                push_unique(&mut request.patterns, path.display().to_string());
            }
            None => push_unique(&mut request.opaque, use_.word.text.clone()),
        }
    }
    unless_empty(request)
}

/// Where a path leads, or `None` when that cannot be known before the
/// script runs (not literal, after a `cd` to somewhere unknown, a link loop).
fn where_it_leads(workdir: &Path, value: Option<&str>, cwd: &Cwd) -> Option<PathBuf> {
    let value = value?;
    if value.is_empty() {
        // `rm ''` acts on nothing.
        return Some(workdir.to_path_buf());
    }
    let mut base = workdir.to_path_buf();
    match cwd {
        Cwd::Unknown if !Path::new(value).is_absolute() => return None,
        Cwd::Unknown => {}
        Cwd::Known(dirs) => {
            for dir in dirs {
                base = paths::resolve(&base, dir).ok()?;
            }
        }
    }
    paths::resolve(&base, value).ok()
}

fn is_harmless_device(path: &Path) -> bool {
    HARMLESS_DEVICES.iter().any(|d| path == Path::new(d))
        || path.starts_with("/dev/fd")
        || path.starts_with("/proc/self/fd")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(command: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
        permission_requests(Path::new("/work"), command)
            .into_iter()
            .map(|r| (r.permission, r.patterns, r.opaque))
            .collect()
    }

    #[test]
    fn commands_and_outside_paths_become_requests() {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            requests("echo hi > /outside/file 2>/dev/null"),
            [
                ("bash".to_owned(), strings(&["echo hi"]), vec![]),
                (
                    "external_directory".to_owned(),
                    strings(&["/outside/file"]),
                    vec![]
                )
            ]
        );
        assert_eq!(
            requests("cd sub && rm -rf ../../etc"),
            [
                (
                    "bash".to_owned(),
                    strings(&["cd sub", "rm -rf ../../etc"]),
                    vec![]
                ),
                ("external_directory".to_owned(), strings(&["/etc"]), vec![])
            ]
        );
        assert_eq!(
            requests("rm -rf \"$HOME\""),
            [
                ("bash".to_owned(), strings(&["rm -rf \"$HOME\""]), vec![]),
                (
                    "external_directory".to_owned(),
                    vec![],
                    strings(&["\"$HOME\""])
                )
            ]
        );
        assert_eq!(requests("X=1 # nothing runs"), []);
    }
}
