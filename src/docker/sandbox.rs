//! [`DockerSandbox`]: the handle of one running sandbox — its container, its
//! connected executor and its exit watcher. [`DockerSandbox::shutdown`]
//! stops and removes the container and waits; dropping the handle only
//! signals: the removal runs in a task the launcher owns
//! ([`DockerLauncher::drain`](super::DockerLauncher::drain) waits for it),
//! and `reap` stays the backstop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::query_parameters::StopContainerOptions;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use super::{LaunchError, remove_container};
use crate::error::{CallError, SandboxEnded};
use crate::launcher::Sandbox;
use crate::peer::Peer;
use crate::remote::RemoteExecutor;
use crate::transport::Endpoint;

/// A running Docker sandbox: its container and a connected executor.
pub struct DockerSandbox {
    pub(super) docker: Docker,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) peer: Arc<Peer>,
    pub(super) executor: RemoteExecutor,
    pub(super) verdict: watch::Receiver<Option<CallError>>,
    pub(super) stopping: CancellationToken,
    pub(super) removed: Arc<AtomicBool>,
    pub(super) stop_grace: Duration,
    /// The launcher's removal tasks, where a dropped handle's removal runs.
    pub(super) removals: TaskTracker,
    pub(super) _watcher: AbortOnDropHandle<()>,
    pub(super) socket_dir: Option<tempfile::TempDir>,
    /// Where the server listens and its token, kept for
    /// [`DockerSandbox::detach`] (only a detached launch keeps them).
    pub(super) reconnect: Option<(Endpoint, String)>,
}

/// What a later process needs to reach a detached sandbox
/// ([`DockerSandbox::detach`]). Holds the bearer token: store it as a
/// secret (a file of mode 0600), never log it.
pub struct DetachedSandbox {
    /// The container id.
    pub id: String,
    /// The container name.
    pub name: String,
    /// Where the server listens.
    pub endpoint: Endpoint,
    /// The bearer token.
    pub token: String,
    /// The host directory of the Unix socket (`Network::None`), now the
    /// caller's to remove after the container.
    pub socket_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for DetachedSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedSandbox")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("token", &"<redacted>")
            .field("socket_dir", &self.socket_dir)
            .finish()
    }
}

impl std::fmt::Debug for DockerSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerSandbox")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DockerSandbox {
    /// The executor to give the agent loop.
    pub fn executor(&self) -> &RemoteExecutor {
        &self.executor
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the connection to the sandbox still stands.
    pub fn is_alive(&self) -> bool {
        !self.peer.is_closed() && !self.removed.load(Ordering::SeqCst)
    }

    /// How the container ended, once it ended on its own.
    pub fn ended(&self) -> Option<SandboxEnded> {
        match self.verdict.borrow().clone() {
            Some(CallError::SandboxEnded(ended)) => Some(ended),
            _ => None,
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after the grace period) and
    /// removes the container with its anonymous volumes.
    ///
    /// # Errors
    /// [`LaunchError::Docker`] when the container cannot be removed.
    pub async fn shutdown(self) -> Result<(), LaunchError> {
        self.stopping.cancel();
        self.peer.abort(CallError::Closed);
        let grace = i32::try_from(self.stop_grace.as_secs()).unwrap_or(i32::MAX);
        let _ = self
            .docker
            .stop_container(
                &self.id,
                Some(StopContainerOptions {
                    t: Some(grace),
                    signal: None,
                }),
            )
            .await;
        remove_container(&self.docker, &self.id)
            .await
            .map_err(LaunchError::docker("remove the sandbox container"))?;
        self.removed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl DockerSandbox {
    /// Lets the sandbox outlive this handle and this process: closes the
    /// connection (the server keeps running) and returns what a later
    /// process needs to connect. Only a sandbox launched with
    /// [`LaunchConfig::detached`](super::LaunchConfig::detached) can be
    /// detached — any other belongs to this process and `reap` would remove it.
    ///
    /// # Errors
    /// [`LaunchError::NotDetached`] for a sandbox not launched detached
    /// (it is shut down as a dropped handle is).
    pub async fn detach(mut self) -> Result<DetachedSandbox, LaunchError> {
        let Some((endpoint, token)) = self.reconnect.take() else {
            return Err(LaunchError::NotDetached);
        };
        self.stopping.cancel();
        self.peer.close().await;
        self.removed.store(true, Ordering::SeqCst);
        Ok(DetachedSandbox {
            id: self.id.clone(),
            name: self.name.clone(),
            endpoint,
            token,
            socket_dir: self.socket_dir.take().map(tempfile::TempDir::keep),
        })
    }
}

impl Drop for DockerSandbox {
    /// Signals only: pending calls fail, and the container's removal is
    /// handed to the launcher's removal tasks (without a runtime to run it,
    /// `toolwire reap` removes it later).
    fn drop(&mut self) {
        if self.removed.load(Ordering::SeqCst) {
            return;
        }
        self.stopping.cancel();
        self.peer.abort(CallError::Closed);
        schedule_removal(&self.removals, &self.docker, &self.id);
    }
}

/// Removes container `id` in a task of `removals`, if a runtime is there to run it.
pub(super) fn schedule_removal(removals: &TaskTracker, docker: &Docker, id: &str) {
    let (docker, id) = (docker.clone(), id.to_owned());
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            removals.spawn_on(
                async move {
                    if let Err(e) = remove_container(&docker, &id).await {
                        tracing::warn!(%id, error = %e, "could not remove a dropped sandbox; `toolwire reap` will");
                    }
                },
                &runtime,
            );
        }
        Err(_) => {
            tracing::warn!(%id, "no runtime to remove a dropped sandbox; `toolwire reap` will");
        }
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    type Error = LaunchError;

    fn executor(&self) -> &RemoteExecutor {
        DockerSandbox::executor(self)
    }

    fn name(&self) -> &str {
        DockerSandbox::name(self)
    }

    fn is_alive(&self) -> bool {
        DockerSandbox::is_alive(self)
    }

    fn ended(&self) -> Option<SandboxEnded> {
        DockerSandbox::ended(self)
    }

    async fn shutdown(self) -> Result<(), LaunchError> {
        DockerSandbox::shutdown(self).await
    }
}
