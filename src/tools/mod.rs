//! The built-in tools an LLM coding agent expects, one file each:
//! [`bash`], [`read`], [`write`](mod@write), [`edit`], [`ls`], [`glob`], [`grep`], [`question`].
//!
//! Every file tool resolves its paths with [`paths`]: a path that leads outside
//! the workdir asks `external_directory`; `write` and `edit` ask `edit` with the
//! workdir-relative path; `bash` asks `bash` with the command.

pub mod bash;
pub mod bench;
mod confine;
pub mod edit;
pub mod glob;
pub mod grep;
pub mod ls;
pub mod paths;
pub(crate) mod process;
pub mod question;
pub mod read;
pub(crate) mod transfer;
pub mod user;
pub mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::bus::PermissionRequest;
use crate::context::CallContext;
use crate::error::ToolError;
use crate::executor::{LocalExecutor, RegisterError};
use crate::tool::{Tool, typed};

/// Limits of the built-in tools. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ToolsConfig {
    /// Bytes of output kept per call (bash, read); the rest is counted and
    /// marked as truncated. Default 50 KiB.
    pub output_cap_bytes: usize,
    /// bash timeout when the call sets none. Default 120 000 ms.
    pub bash_default_timeout_ms: u64,
    /// Largest bash timeout a call may ask for. Default 600 000 ms.
    pub bash_max_timeout_ms: u64,
    /// After the shell exits, how long its pipes may still drain. Default 100 ms.
    pub pipe_drain: Duration,
    /// The shell, as an absolute path. Default: `bash` looked up once in the
    /// default PATH. (A bare name with a custom PATH makes std fall back from
    /// posix_spawn to fork + exec, which copies the server's page tables on
    /// every call.)
    pub shell: PathBuf,
    /// The whole environment of bash commands. Default: a fixed PATH, HOME
    /// (/tmp), LANG=C.UTF-8 and TERM=dumb; nothing of the server's.
    pub env: Vec<(String, String)>,
    /// Lines read returns when the call sets no limit. Default 2000.
    pub read_default_lines: u64,
    /// Characters of one line read shows before cutting it. Default 2000.
    pub read_max_line_bytes: usize,
    /// Entries ls and glob return at most. Default 1000.
    pub max_results: usize,
    /// Matching lines grep returns at most. Default 500.
    pub max_grep_matches: usize,
    /// The user bash runs as and the file tools act as, when not the
    /// server's own ([`user`]). Default: none (the server's user).
    pub tool_user: Option<user::ToolUser>,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        let env = [
            ("PATH", path),
            ("HOME", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("TERM", "dumb"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            output_cap_bytes: 50 * 1024,
            bash_default_timeout_ms: 120_000,
            bash_max_timeout_ms: 600_000,
            pipe_drain: Duration::from_millis(100),
            shell: find_in_path("bash", path).unwrap_or_else(|| PathBuf::from("/bin/bash")),
            env,
            read_default_lines: 2000,
            read_max_line_bytes: 2000,
            max_results: 1000,
            max_grep_matches: 500,
            tool_user: None,
        }
    }
}

impl ToolsConfig {
    /// Sets [`ToolsConfig::output_cap_bytes`].
    #[must_use]
    pub fn output_cap_bytes(mut self, bytes: usize) -> Self {
        self.output_cap_bytes = bytes;
        self
    }
}

/// The first executable file called `name` in the `:`-separated `path`.
pub fn find_in_path(name: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Every built-in tool.
pub fn builtin(config: ToolsConfig) -> Vec<Arc<dyn Tool>> {
    let config = Arc::new(config);
    vec![
        typed(bash::Bash::new(config.clone())),
        typed(read::Read::new(config.clone())),
        typed(write::Write::new(config.clone())),
        typed(edit::Edit::new(config.clone())),
        typed(ls::Ls::new(config.clone())),
        typed(glob::Glob::new(config.clone())),
        typed(grep::Grep::new(config)),
        typed(question::Question),
    ]
}

/// A [`LocalExecutor`] with every built-in tool, working in `workdir`. Their
/// validators are built at each tool's first call
/// ([`LocalExecutor::register_deferred`]); a test compiles every schema.
///
/// # Errors
/// [`RegisterError`] only if two built-ins had one name (a bug).
pub fn executor(
    workdir: impl Into<PathBuf>,
    config: ToolsConfig,
) -> Result<LocalExecutor, RegisterError> {
    let mut executor = LocalExecutor::new(workdir);
    for tool in builtin(config) {
        executor.register_deferred(tool)?;
    }
    Ok(executor)
}

/// Runs blocking file work on `path` off the async threads, as the tool
/// user, through a confined handle opened there (so the open, too, is
/// blocking work done as the tool user).
async fn at_place<T: Send + 'static>(
    config: &ToolsConfig,
    ctx: &CallContext,
    path: &Path,
    shown: &str,
    work: impl FnOnce(&confine::Place) -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    let user = config.tool_user;
    let (workdir, path, shown) = (
        ctx.workdir().to_path_buf(),
        path.to_path_buf(),
        shown.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let _acting = user::ActingAs::enter(user)?;
        work(&confine::place(&workdir, &path, &shown)?)
    })
    .await
    .map_err(|e| ToolError::failed(format!("the file operation failed: {e}")))?
}

/// Asks `edit` for a workdir-relative path.
async fn ask_edit(
    ctx: &CallContext,
    shown: &str,
    diff: Option<serde_json::Value>,
) -> Result<(), ToolError> {
    let mut metadata = crate::protocol::Metadata::new();
    metadata.insert("path".into(), shown.into());
    if let Some(diff) = diff {
        metadata.insert("diff".into(), diff);
    }
    ctx.ask_permission(PermissionRequest {
        permission: "edit".into(),
        patterns: vec![shown.to_owned()],
        opaque: Vec::new(),
        always: vec!["*".to_owned()],
        metadata,
    })
    .await
}
