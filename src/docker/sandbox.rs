//! `launch`: one hardened container with a ready [`RemoteExecutor`], and the
//! [`Sandbox`] handle that owns it.
//!
//! The container is removed on every path: by [`Sandbox::shutdown`], when the
//! handle is dropped, when start-up fails, and when it exits on its own (the
//! watcher first fails every pending call with the exit code, the OOM flag and
//! the last log lines).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, LogsOptions, StopContainerOptions,
    UploadToContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::{
    DockerLauncher, LABEL_CREATED, LABEL_MANAGED, LABEL_OWNER, LABEL_SESSION, LaunchError,
    remove_container,
};
use crate::executor::CallError;
use crate::protocol::PermissionRule;
use crate::remote::RemoteExecutor;
use crate::tool::{ToolInfo, ToolRequest, ToolResponse};
use crate::transport::{Endpoint, Transport, WsConfig, WsTransport};

/// The server's port inside the container.
const SERVER_PORT: &str = "7000/tcp";
/// Where the token file is copied (an anonymous volume; the root is read-only).
const TOKEN_DIR: &str = "/run/toolwire";
/// Where the host directory with the Unix socket is mounted in `none` mode.
const SOCKET_DIR: &str = "/run/toolwire-sock";

/// How the sandbox is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Docker's bridge; the server's port is published on 127.0.0.1 only.
    #[default]
    Bridge,
    /// No network at all (`network_mode: none`); the WebSocket runs over a
    /// Unix socket in a bind-mounted host directory.
    None,
}

/// How to launch one sandbox. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LaunchConfig {
    /// Session name, in the container's name and labels. Default `session`.
    pub session: String,
    /// Network mode. Default [`Network::Bridge`].
    pub network: Network,
    /// Host directory mounted as /workspace. Default none (an empty volume).
    pub workspace: Option<PathBuf>,
    /// Memory limit in bytes; swap is the same (no swap). Default 1 GiB.
    pub memory_bytes: i64,
    /// CPUs. Default 1.0.
    pub cpus: f64,
    /// Processes and threads at most. Default 256.
    pub pids_limit: i64,
    /// Size of the /tmp tmpfs. Default `256m`.
    pub tmp_size: String,
    /// Time for the server to answer /health after start. Default 15 s.
    pub ready_timeout: Duration,
    /// SIGTERM grace on shutdown before SIGKILL. Default 5 s.
    pub stop_grace: Duration,
    /// The client transport's options.
    pub transport: WsConfig,
    /// Extra arguments for `toolwire-server`.
    pub server_args: Vec<String>,
}

impl Default for LaunchConfig {
    fn default() -> Self {
        Self {
            session: "session".into(),
            network: Network::Bridge,
            workspace: None,
            memory_bytes: 1 << 30,
            cpus: 1.0,
            pids_limit: 256,
            tmp_size: "256m".into(),
            ready_timeout: Duration::from_secs(15),
            stop_grace: Duration::from_secs(5),
            transport: WsConfig::default(),
            server_args: Vec::new(),
        }
    }
}

impl LaunchConfig {
    /// Sets [`LaunchConfig::session`].
    #[must_use]
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = session.into();
        self
    }
    /// Sets [`LaunchConfig::network`].
    #[must_use]
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }
    /// Sets [`LaunchConfig::workspace`].
    #[must_use]
    pub fn workspace(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workspace = Some(dir.into());
        self
    }
    /// Sets [`LaunchConfig::pids_limit`].
    #[must_use]
    pub fn pids_limit(mut self, n: i64) -> Self {
        self.pids_limit = n;
        self
    }
    /// Sets [`LaunchConfig::memory_bytes`].
    #[must_use]
    pub fn memory_bytes(mut self, n: i64) -> Self {
        self.memory_bytes = n;
        self
    }
    /// Sets [`LaunchConfig::transport`].
    #[must_use]
    pub fn transport(mut self, config: WsConfig) -> Self {
        self.transport = config;
        self
    }
    /// Sets [`LaunchConfig::server_args`].
    #[must_use]
    pub fn server_args(mut self, args: Vec<String>) -> Self {
        self.server_args = args;
        self
    }
    /// Sets [`LaunchConfig::stop_grace`].
    #[must_use]
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }
}

/// The sandbox's transport: a lost connection is reported as the sandbox's
/// exit when the container is found to have exited (the socket usually
/// notices a killed container a moment before Docker reports it).
struct SandboxTransport {
    inner: Arc<WsTransport>,
    exit: tokio::sync::watch::Receiver<Option<CallError>>,
}

impl SandboxTransport {
    /// How long a lost connection waits for the watcher's verdict.
    const VERDICT_WAIT: Duration = Duration::from_secs(1);

    async fn explain<T>(&self, result: Result<T, CallError>) -> Result<T, CallError> {
        match result {
            Err(CallError::ConnectionLost { reason }) => {
                let mut exit = self.exit.clone();
                let verdict =
                    tokio::time::timeout(Self::VERDICT_WAIT, exit.wait_for(Option::is_some)).await;
                match verdict {
                    Ok(Ok(exit)) => {
                        Err(exit.clone().unwrap_or(CallError::ConnectionLost { reason }))
                    }
                    _ => Err(CallError::ConnectionLost { reason }),
                }
            }
            other => other,
        }
    }
}

#[async_trait::async_trait]
impl Transport for SandboxTransport {
    async fn send(&self, request: ToolRequest) -> Result<ToolResponse, CallError> {
        self.explain(self.inner.send(request).await).await
    }
    async fn fetch_tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        self.explain(self.inner.fetch_tools().await).await
    }
    async fn set_rules(&self, rules: Vec<PermissionRule>) -> Result<(), CallError> {
        self.explain(self.inner.set_rules(rules).await).await
    }
    async fn set_active_tools(&self, tools: Vec<String>) -> Result<(), CallError> {
        self.explain(self.inner.set_active_tools(tools).await).await
    }
    async fn push_answers(&self, answers: Vec<Vec<String>>) -> Result<(), CallError> {
        self.explain(self.inner.push_answers(answers).await).await
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

/// A running sandbox: its container and a connected executor.
pub struct Sandbox {
    docker: Docker,
    id: String,
    name: String,
    transport: Arc<WsTransport>,
    executor: RemoteExecutor,
    stopping: CancellationToken,
    removed: Arc<AtomicBool>,
    stop_grace: Duration,
    _watcher: AbortOnDropHandle<()>,
    _socket_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
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
        !self.transport.is_closed() && !self.removed.load(Ordering::SeqCst)
    }

    /// Stops the server (SIGTERM, then SIGKILL after the grace period) and
    /// removes the container with its anonymous volumes.
    ///
    /// # Errors
    /// [`LaunchError::Docker`] when the container cannot be removed.
    pub async fn shutdown(self) -> Result<(), LaunchError> {
        self.stopping.cancel();
        self.transport.abort(CallError::Closed);
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

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.removed.load(Ordering::SeqCst) {
            return;
        }
        self.stopping.cancel();
        self.transport.abort(CallError::Closed);
        // Removal must not depend on a runtime that may itself be shutting
        // down: a short-lived thread with its own runtime does it, and drop
        // waits for it, so the container is gone when drop returns.
        let (docker, id) = (self.docker.clone(), self.id.clone());
        let removal = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(async {
                    // A fresh client: the old one's connections belong to the other runtime.
                    let docker = Docker::connect_with_local_defaults()
                        .ok()
                        .map(|d| d.with_timeout(Duration::from_secs(30)))
                        .unwrap_or(docker);
                    if let Err(e) = remove_container(&docker, &id).await {
                        tracing::warn!(%id, error = %e, "could not remove a dropped sandbox; `toolwire reap` will");
                    }
                }),
                Err(e) => tracing::warn!(%id, error = %e, "no runtime to remove a dropped sandbox; `toolwire reap` will"),
            }
        });
        let _ = removal.join();
    }
}

/// Removes a half-launched container unless defused.
struct CreatedGuard {
    docker: Docker,
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
            let docker = self.docker.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = remove_container(&docker, &id).await;
                });
            }
        }
    }
}

impl DockerLauncher {
    /// Launches a sandbox: ensures the image, creates the hardened container,
    /// copies the token in, starts it, waits for `/health` with a short
    /// backoff, connects and returns the handle.
    ///
    /// # Errors
    /// [`LaunchError`]: no image, a Docker error, or a server that did not
    /// become ready (with its last log lines); the container is removed.
    pub async fn launch(&self, config: LaunchConfig) -> Result<Sandbox, LaunchError> {
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
            Network::None => {
                let dir = tempfile::Builder::new()
                    .prefix("toolwire-sock-")
                    .tempdir()
                    .map_err(LaunchError::io("create the socket directory"))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
                    .map_err(LaunchError::io("open up the socket directory for uid 1000"))?;
                Some(dir)
            }
        };
        let body = self.container_body(
            &config,
            &image,
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
            id: Some(id.clone()),
        };

        let result = async {
            self.docker
                .upload_to_container(
                    &id,
                    Some(UploadToContainerOptions {
                        path: TOKEN_DIR.into(),
                        ..UploadToContainerOptions::default()
                    }),
                    bollard::body_full(token_archive(&token)?.into()),
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
                Some(dir) => Endpoint::Unix(dir.path().join("tw.sock")),
                None => Endpoint::Url(format!(
                    "ws://127.0.0.1:{}/ws",
                    self.published_port(&id).await?
                )),
            };
            self.wait_ready(&id, &endpoint, config.ready_timeout)
                .await?;
            let transport =
                WsTransport::connect_to(&endpoint, Some(&token), config.transport.clone()).await?;
            Ok::<_, LaunchError>(Arc::new(transport))
        }
        .await;
        let transport = match result {
            Ok(transport) => transport,
            Err(e) => {
                tracing::debug!(%id, error = %e, "launch failed: removing the container");
                guard.remove().await;
                tracing::debug!(%id, "launch failed: container removed");
                return Err(e);
            }
        };
        guard.id = None;

        let stopping = CancellationToken::new();
        let removed = Arc::new(AtomicBool::new(false));
        let (exit_sender, exit) = tokio::sync::watch::channel(None);
        let watcher = tokio::spawn(watch(
            self.docker.clone(),
            id.clone(),
            transport.clone(),
            exit_sender,
            stopping.clone(),
            removed.clone(),
        ));
        tracing::debug!(%id, %name, "sandbox ready");
        Ok(Sandbox {
            docker: self.docker.clone(),
            executor: RemoteExecutor::new(Arc::new(SandboxTransport {
                inner: transport.clone(),
                exit,
            })),
            transport,
            id,
            name,
            stopping,
            removed,
            stop_grace: config.stop_grace,
            _watcher: AbortOnDropHandle::new(watcher),
            _socket_dir: socket_dir,
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

    fn container_body(
        &self,
        config: &LaunchConfig,
        image: &str,
        socket_dir: Option<&std::path::Path>,
    ) -> ContainerCreateBody {
        let created = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let labels = HashMap::from([
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_OWNER.to_owned(), self.owner.clone()),
            (LABEL_SESSION.to_owned(), config.session.clone()),
            (LABEL_CREATED.to_owned(), created.to_string()),
        ]);
        let mut volumes = HashMap::from([(TOKEN_DIR.to_owned(), HashMap::new())]);
        let mut binds = Vec::new();
        match &config.workspace {
            Some(dir) => binds.push(format!("{}:/workspace", dir.display())),
            None => {
                volumes.insert("/workspace".to_owned(), HashMap::new());
            }
        }
        let mut cmd = vec![
            "--workdir".to_owned(),
            "/workspace".to_owned(),
            "--token-file".to_owned(),
            format!("{TOKEN_DIR}/token"),
        ];
        let mut host = HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_owned(),
                format!("rw,nosuid,nodev,size={}", config.tmp_size),
            )])),
            pids_limit: Some(config.pids_limit),
            memory: Some(config.memory_bytes),
            memory_swap: Some(config.memory_bytes),
            nano_cpus: Some((config.cpus * 1e9) as i64),
            init: Some(true),
            ..HostConfig::default()
        };
        let mut exposed = None;
        match socket_dir {
            Some(dir) => {
                host.network_mode = Some("none".into());
                binds.push(format!("{}:{SOCKET_DIR}", dir.display()));
                cmd.extend(["--unix".to_owned(), format!("{SOCKET_DIR}/tw.sock")]);
            }
            None => {
                host.network_mode = Some("bridge".into());
                host.port_bindings = Some(HashMap::from([(
                    SERVER_PORT.to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )]));
                exposed = Some(HashMap::from([(SERVER_PORT.to_owned(), HashMap::new())]));
                cmd.extend(["--listen".to_owned(), "0.0.0.0:7000".to_owned()]);
            }
        }
        if !binds.is_empty() {
            host.binds = Some(binds);
        }
        cmd.extend(config.server_args.iter().cloned());
        ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(cmd),
            user: Some("1000:1000".into()),
            labels: Some(labels),
            volumes: Some(volumes),
            exposed_ports: exposed,
            env: Some(vec!["RUST_LOG=info".into()]),
            host_config: Some(host),
            ..ContainerCreateBody::default()
        }
    }

    /// The host port Docker published for the server. A server that already
    /// exited has no mapping any more: that is reported as the exit it is,
    /// with the container's last log lines.
    async fn published_port(&self, id: &str) -> Result<u16, LaunchError> {
        let info = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(LaunchError::docker("inspect the sandbox container"))?;
        let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        let port = info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|ports| ports.get(SERVER_PORT).cloned().flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .and_then(|port| port.parse().ok());
        match port {
            Some(port) => Ok(port),
            None => Err(LaunchError::NotReady {
                reason: if running {
                    "docker published no host port for the server".into()
                } else {
                    "the tool server exited during start-up".into()
                },
                logs: last_logs(&self.docker, id).await,
            }),
        }
    }

    /// Polls `/health` with a short exponential backoff (1 ms doubling to
    /// 50 ms), racing Docker's own wait for the container to stop: a server
    /// that exits during start-up is reported at once, with its logs.
    async fn wait_ready(
        &self,
        id: &str,
        endpoint: &Endpoint,
        limit: Duration,
    ) -> Result<(), LaunchError> {
        let poll = async {
            let mut delay = Duration::from_millis(1);
            while !health(endpoint).await {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(50));
            }
        };
        let mut stopped = self.docker.wait_container(
            id,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        let reason = tokio::select! {
            () = poll => return Ok(()),
            _ = stopped.next() => "the tool server exited during start-up".to_owned(),
            () = tokio::time::sleep(limit) => format!("no answer on /health within {limit:?}"),
        };
        Err(LaunchError::NotReady {
            reason,
            logs: last_logs(&self.docker, id).await,
        })
    }
}

/// Waits for the container to exit; unless the handle is stopping it, fails
/// every pending call with the exit code, OOM flag and last logs, then removes it.
async fn watch(
    docker: Docker,
    id: String,
    transport: Arc<WsTransport>,
    verdict: tokio::sync::watch::Sender<Option<CallError>>,
    stopping: CancellationToken,
    removed: Arc<AtomicBool>,
) {
    let mut wait = docker.wait_container(
        &id,
        Some(WaitContainerOptions {
            condition: "not-running".into(),
        }),
    );
    let exit = tokio::select! {
        exit = wait.next() => exit,
        () = stopping.cancelled() => return,
    };
    if stopping.is_cancelled() {
        return;
    }
    let mut exit_code = match exit {
        Some(Ok(response)) => Some(response.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(code),
        _ => None,
    };
    let state = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|i| i.state);
    let oom_killed = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
    if let Some(code) = state.and_then(|s| s.exit_code) {
        exit_code = Some(code);
    }
    let logs = last_logs(&docker, &id).await;
    tracing::warn!(%id, ?exit_code, oom_killed, "sandbox exited on its own");
    let exited = CallError::SandboxExited {
        exit_code,
        oom_killed,
        logs,
    };
    verdict.send_replace(Some(exited.clone()));
    transport.abort(exited);
    if remove_container(&docker, &id).await.is_ok() {
        removed.store(true, Ordering::SeqCst);
    }
}

/// The container's last 20 log lines (stdout and stderr).
async fn last_logs(docker: &Docker, id: &str) -> String {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: "20".into(),
        ..LogsOptions::default()
    };
    let mut stream = docker.logs(id, Some(options));
    let mut out = String::new();
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_secs(2), stream.next()).await
    {
        out.push_str(&chunk.to_string());
    }
    out
}

/// Whether `GET /health` answers 200.
async fn health(endpoint: &Endpoint) -> bool {
    const REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut response = [0u8; 16];
    let exchange = async {
        let n = match endpoint {
            Endpoint::Url(url) => {
                let authority = url
                    .trim_start_matches("ws://")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
                stream.write_all(REQUEST).await.ok()?;
                stream.read(&mut response).await.ok()?
            }
            Endpoint::Unix(path) => {
                let mut stream = tokio::net::UnixStream::connect(path).await.ok()?;
                stream.write_all(REQUEST).await.ok()?;
                stream.read(&mut response).await.ok()?
            }
        };
        Some(response[..n].starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(500), exchange).await,
        Ok(Some(true))
    )
}

/// A tar with one entry, `token` (mode 0600, owned by uid/gid 1000).
fn token_archive(token: &str) -> Result<Vec<u8>, LaunchError> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(token.len() as u64);
    header.set_mode(0o600);
    header.set_uid(1000);
    header.set_gid(1000);
    header.set_cksum();
    tar.append_data(&mut header, "token", token.as_bytes())
        .map_err(LaunchError::io("build the token archive"))?;
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
