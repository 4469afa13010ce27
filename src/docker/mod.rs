//! The Docker launcher (bollard): builds the sandbox image when it is missing,
//! creates a hardened container per agent session, waits until its tool
//! server is ready, connects a [`RemoteExecutor`](crate::RemoteExecutor), and
//! removes the container again — on shutdown, on drop, on start-up failure,
//! and (through labels) after the owning process died.
//!
//! - [`image`]: `ensure_image`, offline-capable.
//! - [`sandbox`]: `launch`, the [`Sandbox`] handle and its exit watcher.
//! - [`pool`]: [`SandboxPool`], N warm sandboxes handed out at once.

pub mod image;
pub mod pool;
pub mod sandbox;

pub use pool::SandboxPool;
pub use sandbox::{LaunchConfig, Network, Sandbox};

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};

/// Label on every container (and image) toolwire creates.
pub const LABEL_MANAGED: &str = "toolwire.managed";
/// Label naming the owning process: `<hostname>/<pid>/<process start time>`.
pub const LABEL_OWNER: &str = "toolwire.owner";
/// Label with the caller's session name.
pub const LABEL_SESSION: &str = "toolwire.session";
/// Label with the creation time (Unix seconds).
pub const LABEL_CREATED: &str = "toolwire.created";

/// Why a launcher operation failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// No Docker engine answered.
    #[error("no Docker engine is reachable ({reason}); start the Docker daemon or set DOCKER_HOST")]
    NoEngine {
        /// What bollard said.
        reason: String,
    },
    /// A Docker API call failed.
    #[error("docker {action} failed: {source}")]
    Docker {
        /// What was being done.
        action: &'static str,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The image could not be built.
    #[error("could not build the sandbox image: {0}")]
    Image(String),
    /// The tool server did not become ready; the container was removed.
    #[error("the sandbox did not become ready: {reason}; last log lines:\n{logs}")]
    NotReady {
        /// What went wrong.
        reason: String,
        /// The container's last log lines.
        logs: String,
    },
    /// Connecting to the ready tool server failed.
    #[error("could not connect to the sandbox: {0}")]
    Connect(#[from] crate::transport::ConnectError),
    /// Local I/O (temp dirs, the token file, the lock file).
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl LaunchError {
    pub(crate) fn docker(action: &'static str) -> impl FnOnce(bollard::errors::Error) -> Self {
        move |source| Self::Docker { action, source }
    }

    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}

/// Where the sandbox image comes from. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImageConfig {
    /// Use this image as it is instead of building one (`ensure_image` then
    /// only checks that it exists). Default none.
    pub image: Option<String>,
    /// Repository of built images; the tag is a digest of Dockerfile and
    /// server binary, so a changed server gets a new image. Default `toolwire-sandbox`.
    pub repository: String,
    /// The Dockerfile's `BASE_IMAGE`. Default `toolwire-base:bookworm`.
    pub base_image: String,
    /// Builds `base_image` when it is missing (no registry). Default: this
    /// repository's `container/make-base-image.sh`.
    pub base_script: PathBuf,
    /// The Dockerfile. Default: this repository's `Dockerfile`.
    pub dockerfile: PathBuf,
    /// The `toolwire-server` binary to put in the image. Default: next to
    /// the running executable (as cargo lays out `target/<profile>/`).
    pub server_binary: Option<PathBuf>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Self {
            image: None,
            repository: "toolwire-sandbox".into(),
            base_image: "toolwire-base:bookworm".into(),
            base_script: repo.join("container/make-base-image.sh"),
            dockerfile: repo.join("Dockerfile"),
            server_binary: None,
        }
    }
}

impl ImageConfig {
    /// Sets [`ImageConfig::server_binary`].
    #[must_use]
    pub fn server_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.server_binary = Some(path.into());
        self
    }
}

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

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// Start time of a process in clock ticks since boot (field 22 of
/// /proc/<pid>/stat): with the pid it names a process uniquely, so a reused
/// pid is not mistaken for the owner.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after its ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The owner label value of process `pid`.
pub fn owner_id(pid: u32) -> String {
    format!(
        "{}/{pid}/{}",
        hostname(),
        process_start_time(pid).unwrap_or(0)
    )
}

/// Whether the process an owner label names is still running. Labels of other
/// hosts, or that cannot be read, count as alive (never remove what we cannot judge).
pub fn owner_alive(owner: &str) -> bool {
    let mut parts = owner.split('/');
    let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
        return true;
    };
    if host != hostname() {
        return true;
    }
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return true;
    };
    process_start_time(pid) == Some(start)
}
