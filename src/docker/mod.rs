//! The Docker backend of [`Launcher`](crate::Launcher) (bollard): builds the
//! sandbox image when it is missing, creates a hardened container per agent
//! session, waits until its tool server is ready, connects a
//! [`RemoteExecutor`](crate::RemoteExecutor), and removes the container
//! again — on shutdown, on drop, on start-up failure, and (through labels)
//! after the owning process died.
//!
//! - `config`: [`ImageConfig`], [`LaunchConfig`], [`Network`].
//! - `error`: [`LaunchError`], [`SandboxExit`].
//! - `image`: `ensure_image`, offline-capable.
//! - `spec`: the container body, a pure function with a test per hardening flag.
//! - `launch`: create, token, start, ready, connect.
//! - `ready`: the published port, `/health`, the last log lines.
//! - `watch`: the exit watcher.
//! - `sandbox`: the [`DockerSandbox`] handle.
//! - owner labels: [`crate::launcher::owner`].

mod config;
mod error;
mod image;
mod launch;
mod ready;
mod sandbox;
mod spec;
mod watch;

pub use crate::launcher::owner::{owner_alive, owner_id};
pub use config::{ImageConfig, LaunchConfig, Network};
pub use error::{LaunchError, SandboxExit};
pub use image::Progress;
pub use sandbox::{DetachedSandbox, DockerSandbox};

/// The sandbox pool over Docker.
pub type SandboxPool = crate::launcher::SandboxPool<DockerLauncher>;

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};

/// Label on every container (and image) toolwire creates.
pub const LABEL_MANAGED: &str = "toolwire.managed";
/// Label naming the owning process: `<hostname>/<pid>/<process start time>`.
pub const LABEL_OWNER: &str = "toolwire.owner";
/// The owner label of a detached sandbox ([`LaunchConfig::detached`]):
/// no process owns it, `reap` leaves it, `toolwire down` removes it.
pub const OWNER_DETACHED: &str = "detached";
/// Label with the caller's session name.
pub const LABEL_SESSION: &str = "toolwire.session";
/// Label with the creation time (Unix seconds).
pub const LABEL_CREATED: &str = "toolwire.created";

/// One toolwire container, as `toolwire ps` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSummary {
    /// Container id.
    pub id: String,
    /// Container name.
    pub name: String,
    /// Docker's state (`running`, `exited`, ...).
    pub state: String,
    /// The owner label.
    pub owner: String,
    /// The session label.
    pub session: String,
}

/// Launches sandboxes on one Docker engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DockerLauncher {
    docker: Docker,
    images: ImageConfig,
    owner: String,
    /// The ensured image tag, shared by clones.
    image: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Removals of dropped sandboxes and cut launches, shared by clones.
    removals: tokio_util::task::TaskTracker,
}

impl DockerLauncher {
    /// Connects to the local engine (DOCKER_HOST or the default socket),
    /// negotiates the API version, and removes orphans of dead owners ([`DockerLauncher::reap`]).
    ///
    /// # Errors
    /// [`LaunchError::NoEngine`] when no engine answers.
    pub async fn connect(images: ImageConfig) -> Result<Self, LaunchError> {
        let no_engine = |e: bollard::errors::Error| LaunchError::NoEngine {
            reason: e.to_string(),
        };
        let docker = Docker::connect_with_local_defaults().map_err(no_engine)?;
        let docker = docker.negotiate_version().await.map_err(no_engine)?;
        docker.ping().await.map_err(no_engine)?;
        let launcher = Self {
            docker,
            images,
            owner: owner_id(std::process::id()),
            image: std::sync::Arc::default(),
            removals: tokio_util::task::TaskTracker::new(),
        };
        match launcher.reap().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "removed toolwire containers left by dead processes"
            ),
            Err(e) => tracing::warn!(error = %e, "could not reap orphaned containers"),
        }
        Ok(launcher)
    }

    /// Waits until every removal of a dropped sandbox (or of a launch cut
    /// half-way) has finished. Call it before the runtime ends, so nothing
    /// is left for `reap`.
    pub async fn drain(&self) {
        self.removals.close();
        self.removals.wait().await;
        self.removals.reopen();
    }

    /// The bollard client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// This process's owner label value.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Every toolwire container on the engine, running or not.
    ///
    /// # Errors
    /// [`LaunchError::Docker`] when the engine call fails.
    pub async fn list(&self) -> Result<Vec<SandboxSummary>, LaunchError> {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{LABEL_MANAGED}=true")])]);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..ListContainersOptions::default()
            }))
            .await
            .map_err(LaunchError::docker("list containers"))?;
        Ok(containers
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                SandboxSummary {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.first().cloned())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_owned(),
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    owner: labels.get(LABEL_OWNER).cloned().unwrap_or_default(),
                    session: labels.get(LABEL_SESSION).cloned().unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Removes toolwire containers whose owning process is gone (this host's
    /// processes only; containers of other hosts are left alone). Returns how
    /// many were removed.
    ///
    /// # Errors
    /// [`LaunchError::Docker`] when listing fails; a container that cannot be
    /// removed is logged and skipped.
    pub async fn reap(&self) -> Result<usize, LaunchError> {
        let mut removed = 0;
        for sandbox in self.list().await? {
            if owner_alive(&sandbox.owner) {
                continue;
            }
            match remove_container(&self.docker, &sandbox.id).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(id = %sandbox.id, error = %e, "could not remove an orphaned container")
                }
            }
        }
        Ok(removed)
    }

    /// Removes one container (a detached sandbox, say) with its anonymous
    /// volumes; one that is already gone counts as removed.
    ///
    /// # Errors
    /// [`LaunchError::Docker`] when the engine refuses.
    pub async fn remove(&self, id: &str) -> Result<(), LaunchError> {
        remove_container(&self.docker, id)
            .await
            .map_err(LaunchError::docker("remove the sandbox container"))
    }

    /// Removes every toolwire container of this engine, whoever owns it.
    ///
    /// # Errors
    /// [`LaunchError::Docker`] when listing fails.
    pub async fn remove_all(&self) -> Result<usize, LaunchError> {
        let mut removed = 0;
        for sandbox in self.list().await? {
            if remove_container(&self.docker, &sandbox.id).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Force-removes a container with its anonymous volumes; a container that is
/// already gone counts as removed.
pub(crate) async fn remove_container(
    docker: &Docker,
    id: &str,
) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..RemoveContainerOptions::default()
    };
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        // "removal already in progress"
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}
