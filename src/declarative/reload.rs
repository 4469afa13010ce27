//! The tools file watched: on a change of the file (or SIGHUP) it is read
//! again and swapped into the executor's [`GROUP`](super::GROUP) while calls
//! run — in-flight calls finish on the old definitions; a bad new file is
//! refused, logged, and the old tools stay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::Watcher;
use tokio::sync::{mpsc, watch as channel};
use tokio_util::task::AbortOnDropHandle;

use super::{Credentials, LoadError, ToolsFile};
use crate::executor::LocalExecutor;
use crate::tools::ToolsConfig;

/// Changes closer together than this are read once.
const SETTLE: Duration = Duration::from_millis(100);

/// What the last (re)load did; `generation` counts loads, the first is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The file was loaded; `tools` are served.
    Loaded {
        /// Which load this was.
        generation: u64,
        /// How many tools are served from the file now.
        tools: usize,
    },
    /// The new file was refused; the previous tools are still served.
    Refused {
        /// Which load this was.
        generation: u64,
        /// Why, naming the document and field.
        error: String,
    },
}

/// What [`watch`] needs to (re)load the tools.
#[derive(Debug, Clone)]
struct Target {
    path: PathBuf,
    executor: Arc<LocalExecutor>,
    config: Arc<ToolsConfig>,
    credentials: Credentials,
    toolset: Option<String>,
}

impl Target {
    fn load(&self) -> Result<usize, LoadError> {
        ToolsFile::load(&self.path)?.register(
            &self.executor,
            &self.config,
            &self.credentials,
            self.toolset.as_deref(),
        )
    }
}

/// Loads the tools file at `path` into `executor` (only `toolset`'s tools
/// when one is named), then watches it. The returned task owns the watcher;
/// dropping it stops watching. The receiver reports every (re)load.
///
/// # Errors
/// [`LoadError`] when the first load fails (nothing is watched then).
pub fn watch(
    path: &Path,
    executor: Arc<LocalExecutor>,
    config: Arc<ToolsConfig>,
    credentials: Credentials,
    toolset: Option<String>,
) -> Result<(AbortOnDropHandle<()>, channel::Receiver<Reload>), LoadError> {
    let target = Target {
        path: path.to_path_buf(),
        executor,
        config,
        credentials,
        toolset,
    };
    let tools = target.load()?;
    let (report, reports) = channel::channel(Reload::Loaded {
        generation: 1,
        tools,
    });
    let (changed, changes) = mpsc::unbounded_channel();
    let name = path.file_name().map(std::ffi::OsStr::to_os_string);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.paths.iter().any(|p| p.file_name() == name.as_deref())
        {
            let _ = changed.send(());
        }
    })
    .map_err(|e| watch_error(path, &e))?;
    // The directory, not the file: editors and `mv` replace the file.
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    watcher
        .watch(directory, notify::RecursiveMode::NonRecursive)
        .map_err(|e| watch_error(path, &e))?;
    let task = tokio::spawn(reload_loop(target, watcher, changes, report));
    Ok((AbortOnDropHandle::new(task), reports))
}

fn watch_error(path: &Path, error: &notify::Error) -> LoadError {
    LoadError {
        file: path.display().to_string(),
        document: None,
        field: String::new(),
        reason: format!("cannot watch it for changes: {error}"),
    }
}

async fn reload_loop(
    target: Target,
    _watcher: notify::RecommendedWatcher,
    mut changes: mpsc::UnboundedReceiver<()>,
    report: channel::Sender<Reload>,
) {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut generation = 1;
    loop {
        let hangup = async {
            match hangups.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            change = changes.recv() => {
                if change.is_none() {
                    return;
                }
                // Let a write in several steps finish.
                while let Ok(Some(())) = tokio::time::timeout(SETTLE, changes.recv()).await {}
            }
            _ = hangup => {}
        }
        generation += 1;
        let outcome = match target.load() {
            Ok(tools) => {
                tracing::info!(file = %target.path.display(), tools, "tools file reloaded");
                Reload::Loaded { generation, tools }
            }
            Err(error) => {
                tracing::error!(%error, "tools file refused; the previous tools stay");
                Reload::Refused {
                    generation,
                    error: error.to_string(),
                }
            }
        };
        let _ = report.send(outcome);
    }
}
