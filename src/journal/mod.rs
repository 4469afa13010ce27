//! The call journal: every call's life, with checked transitions, in a
//! SQLite file, written off the call's path. docs/OPERATIONS.md has the
//! schema and example queries.
//!
//! - `state`: [`CallState`], the transition table, [`Lifecycle`].
//! - `record`: [`CallRecord`], redaction of inputs, permission [`Decision`]s.
//! - `store`: the SQLite schema, the writer's upsert, [`JournalReader`].
//! - `writer`: [`Journal`], its bounded queue and writer thread.
//! - `recorder`: [`Recorder`] and [`JournaledExecutor`], which feed it.
//!
//! ```no_run
//! # async fn demo(remote: toolwire::RemoteExecutor) -> anyhow::Result<()> {
//! use toolwire::journal::{Journal, JournalConfig, Recorder};
//! let journal = Journal::open("/var/lib/agent/journal.sqlite", JournalConfig::default())?;
//! let recorder = Recorder::new(journal.clone());
//! let executor = recorder.executor(remote);
//! // ... run the agent with `executor` ...
//! journal.flush().await;
//! # Ok(()) }
//! ```

mod record;
mod recorder;
mod state;
mod store;
mod writer;

pub use record::{CallRecord, DecidedBy, Decision, REDACTED, redacted};
pub use recorder::{JournaledExecutor, Recorder};
pub use state::{CallState, IllegalTransition, Lifecycle, Transition};
pub use store::{JournalReader, StoredCall};
pub use writer::{Journal, JournalConfig, JournalError, JournalStats};

/// The journal file the CLI uses unless told otherwise:
/// `$XDG_STATE_HOME/toolwire/journal.sqlite`, else
/// `~/.local/state/toolwire/journal.sqlite`.
pub fn default_path() -> Option<std::path::PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| std::path::PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("toolwire").join("journal.sqlite"))
}
