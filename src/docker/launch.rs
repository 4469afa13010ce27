//! `launch`: one hardened container with a connected executor. The image is
//! ensured once per launcher, the token is copied in as a file before start,
//! `/health` is awaited, the peer connects, and the exit watcher starts. A
//! launch that fails — or is dropped half-way — removes what it created.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use async_trait::async_trait;
use bollard::Docker;
use bollard::query_parameters::{CreateContainerOptions, UploadToContainerOptions};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use super::config::{LaunchConfig, Network};
use super::ready::{published_port, wait_ready};
use super::sandbox::{DockerSandbox, schedule_removal};
use super::spec::{Identity, SOCKET_NAME, TOKEN_DIR, TOOLS_FILE_NAME, container_body};
use super::watch::{Watched, watch};
use super::{DockerLauncher, LaunchError, remove_container};
use crate::launcher::Launcher;
use crate::peer::Peer;
use crate::remote::RemoteExecutor;
use crate::transport::Endpoint;

/// Removes a half-launched container unless defused: at once on an error
/// path, through the launcher's removal tasks when the launch is dropped.
struct CreatedGuard {
    docker: Docker,
    removals: TaskTracker,
    id: Option<String>,
}

impl CreatedGuard {
    async fn remove(&mut self) {
        if let Some(id) = self.id.take() {
            let _ = remove_container(&self.docker, &id).await;
        }
    }
}

impl Drop for CreatedGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            schedule_removal(&self.removals, &self.docker, &id);
        }
    }
}

impl DockerLauncher {
    /// Launches a sandbox: ensures the image, creates the hardened container,
    /// copies the token in, starts it, waits for `/health` with a short
    /// backoff, connects and returns the handle, all within
    /// [`LaunchConfig::launch_timeout`].
    ///
    /// # Errors
    /// [`LaunchError`]: no image, a Docker error, a server that did not
    /// become ready (with its last log lines), or the launch timeout; the
    /// container is removed.
    pub async fn launch(&self, config: LaunchConfig) -> Result<DockerSandbox, LaunchError> {
        let limit = config.launch_timeout;
        tokio::time::timeout(limit, self.launch_unbounded(config))
            .await
            .unwrap_or(Err(LaunchError::Timeout(limit)))
    }

    async fn launch_unbounded(&self, config: LaunchConfig) -> Result<DockerSandbox, LaunchError> {
        let tools_file = match &config.tools_file {
            Some(path) => Some(std::fs::read(path).map_err(LaunchError::io(format!(
                "read the tools file {}",
                path.display()
            )))?),
            None => None,
        };
        let image = self.image_tag().await?;
        tracing::debug!(%image, "launch: image ready");
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let short = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("toolwire-{}-{}", sanitize(&config.session), &short[..12]);
        let socket_dir = match config.network {
            Network::Bridge => None,
            Network::None => Some(socket_dir()?),
        };
        let created_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let who = Identity {
            owner: &self.owner,
            created_unix,
        };
        let body = container_body(
            &config,
            &image,
            &who,
            socket_dir.as_ref().map(tempfile::TempDir::path),
        );
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    platform: String::new(),
                }),
                body,
            )
            .await
            .map_err(LaunchError::docker("create the sandbox container"))?;
        let id = created.id;
        tracing::debug!(%id, "launch: created");
        let mut guard = CreatedGuard {
            docker: self.docker.clone(),
            removals: self.removals.clone(),
            id: Some(id.clone()),
        };

        let connected = async {
            self.docker
                .upload_to_container(
                    &id,
                    Some(UploadToContainerOptions {
                        path: TOKEN_DIR.into(),
                        ..UploadToContainerOptions::default()
                    }),
                    bollard::body_full(token_archive(&token, tools_file.as_deref())?.into()),
                )
                .await
                .map_err(LaunchError::docker("copy the token into the container"))?;
            self.docker
                .start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
                .map_err(LaunchError::docker("start the sandbox container"))?;
            tracing::debug!(%id, "launch: started");
            let endpoint = match &socket_dir {
                Some(dir) => Endpoint::Unix(dir.path().join(SOCKET_NAME)),
                None => Endpoint::Url(format!(
                    "ws://127.0.0.1:{}/ws",
                    published_port(&self.docker, &id).await?
                )),
            };
            wait_ready(&self.docker, &id, &endpoint, &config).await?;
            let peer =
                Peer::connect(&endpoint, Some(&token), &config.ws, config.peer.clone()).await?;
            Ok::<_, LaunchError>((Arc::new(peer), endpoint))
        }
        .await;
        let (peer, endpoint) = match connected {
            Ok(connected) => connected,
            Err(e) => {
                tracing::debug!(%id, error = %e, "launch failed: removing the container");
                guard.remove().await;
                return Err(e);
            }
        };
        guard.id = None;

        let stopping = CancellationToken::new();
        let removed = Arc::new(AtomicBool::new(false));
        let (verdict, verdict_rx) = watch::channel(None);
        peer.explain_loss_with(verdict_rx.clone());
        let watcher = tokio::spawn(watch(Watched {
            docker: self.docker.clone(),
            id: id.clone(),
            peer: peer.clone(),
            verdict,
            stopping: stopping.clone(),
            removed: removed.clone(),
        }));
        tracing::debug!(%id, %name, "sandbox ready");
        Ok(DockerSandbox {
            docker: self.docker.clone(),
            executor: RemoteExecutor::new(peer.clone()),
            peer,
            verdict: verdict_rx,
            id,
            name,
            stopping,
            removed,
            stop_grace: config.stop_grace,
            removals: self.removals.clone(),
            _watcher: AbortOnDropHandle::new(watcher),
            socket_dir,
            reconnect: config.detached.then_some((endpoint, token)),
        })
    }

    /// The image tag, ensured once per launcher.
    async fn image_tag(&self) -> Result<String, LaunchError> {
        self.image
            .get_or_try_init(|| async {
                self.ensure_image(
                    &|line: &str| tracing::info!(target: "toolwire::docker::image", "{line}"),
                )
                .await
            })
            .await
            .cloned()
    }
}

#[async_trait]
impl Launcher for DockerLauncher {
    type Config = LaunchConfig;
    type Sandbox = DockerSandbox;
    type Error = LaunchError;

    async fn launch(&self, config: LaunchConfig) -> Result<DockerSandbox, LaunchError> {
        DockerLauncher::launch(self, config).await
    }
}

/// A host directory for the Unix socket of a `none` sandbox: writable by
/// anyone, sticky, so the tool user can never remove or replace the
/// server's socket.
fn socket_dir() -> Result<tempfile::TempDir, LaunchError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("toolwire-sock-")
        .tempdir()
        .map_err(LaunchError::io("create the socket directory"))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).map_err(
        LaunchError::io("open up the socket directory for the server"),
    )?;
    Ok(dir)
}

/// A tar with `token` and, when given, the tools file (each mode 0600,
/// owned by the server's uid 0; the tool user cannot read them).
fn token_archive(token: &str, tools_file: Option<&[u8]>) -> Result<Vec<u8>, LaunchError> {
    let mut tar = tar::Builder::new(Vec::new());
    let entries = std::iter::once(("token", token.as_bytes()))
        .chain(tools_file.map(|bytes| (TOOLS_FILE_NAME, bytes)));
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)
            .map_err(LaunchError::io("build the token archive"))?;
    }
    tar.into_inner()
        .map_err(LaunchError::io("build the token archive"))
}

/// Keeps what Docker allows in a name: `[a-zA-Z0-9_.-]`.
fn sanitize(session: &str) -> String {
    let cleaned: String = session
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "session".into()
    } else {
        cleaned
    }
}
