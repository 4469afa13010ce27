//! The exit watcher of one sandbox: waits for its container to stop; unless
//! the handle is stopping it, records how it ended ([`SandboxExit`]), fails
//! every pending call with that, and removes the container.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bollard::Docker;
use bollard::query_parameters::{InspectContainerOptions, WaitContainerOptions};
use futures::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ready::last_logs;
use super::{SandboxExit, remove_container};
use crate::error::{CallError, SandboxEnded};
use crate::peer::Peer;

/// What the watcher shares with the sandbox handle.
pub(super) struct Watched {
    pub(super) docker: Docker,
    pub(super) id: String,
    pub(super) peer: Arc<Peer>,
    /// How it ended, for the peer's loss explanation and for `ended()`.
    pub(super) verdict: watch::Sender<Option<CallError>>,
    /// Fires when the handle stops the container itself.
    pub(super) stopping: CancellationToken,
    pub(super) removed: Arc<AtomicBool>,
}

/// Runs until the container stops or the handle stops it.
pub(super) async fn watch(w: Watched) {
    let mut wait = w.docker.wait_container(
        &w.id,
        Some(WaitContainerOptions {
            condition: "not-running".into(),
        }),
    );
    let exit = tokio::select! {
        exit = wait.next() => exit,
        () = w.stopping.cancelled() => return,
    };
    if w.stopping.is_cancelled() {
        return;
    }
    let mut exit_code = match exit {
        Some(Ok(response)) => Some(response.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(code),
        _ => None,
    };
    let state = w
        .docker
        .inspect_container(&w.id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|i| i.state);
    let oom_killed = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
    if let Some(code) = state.and_then(|s| s.exit_code) {
        exit_code = Some(code);
    }
    let logs = last_logs(&w.docker, &w.id).await;
    tracing::warn!(id = %w.id, ?exit_code, oom_killed, "sandbox exited on its own");
    let ended = CallError::SandboxEnded(SandboxEnded::new(SandboxExit {
        exit_code,
        oom_killed,
        logs,
    }));
    w.verdict.send_replace(Some(ended.clone()));
    w.peer.abort(ended);
    if remove_container(&w.docker, &w.id).await.is_ok() {
        w.removed.store(true, Ordering::SeqCst);
    }
}
