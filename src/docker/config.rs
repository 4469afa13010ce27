//! What a Docker sandbox is made from: the image ([`ImageConfig`]), the
//! launch ([`LaunchConfig`]) and its network mode ([`Network`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::peer::PeerConfig;
use crate::transport::WsConfig;

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
    /// Host directory mounted as /workspace. Default none: an empty
    /// workspace of at most [`LaunchConfig::workspace_limit_bytes`].
    pub workspace: Option<PathBuf>,
    /// Size limit of the sandbox's own workspace (when no host directory is
    /// mounted): a write past it fails with "No space left on device" inside
    /// the sandbox, so a runaway command cannot fill the host's disk. The
    /// workspace is a tmpfs (Docker's storage drivers have no quota on most
    /// hosts, this one included); its files are memory charged to the
    /// container, so the container's memory limit is
    /// [`LaunchConfig::memory_bytes`] plus this. Default 2 GiB.
    pub workspace_limit_bytes: i64,
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
    /// One `/health` probe at most; a slower answer counts as not ready yet.
    /// Default 500 ms.
    pub probe_timeout: Duration,
    /// Probes back off from 1 ms, doubling, to at most this. Default 50 ms.
    pub probe_interval_max: Duration,
    /// SIGTERM grace on shutdown before SIGKILL. Default 5 s.
    pub stop_grace: Duration,
    /// The whole launch (create, start, ready, connect) at most; past it the
    /// container is removed and [`LaunchError::Timeout`](super::LaunchError)
    /// returned. Default 5 min (a first launch may build the image).
    pub launch_timeout: Duration,
    /// How to open the WebSocket to the server.
    pub ws: WsConfig,
    /// How the executor calls (timeouts, progress, events, interactive asks).
    pub peer: PeerConfig,
    /// The sandbox shuts itself down (and its container is removed) after
    /// this long with no client connected and no call running, so one its
    /// orchestrator forgot does not live forever. Whole seconds, at least
    /// one. Default none.
    pub idle_timeout: Option<Duration>,
    /// Extra arguments for `toolwire-server`.
    pub server_args: Vec<String>,
    /// The container outlives this process: its owner label is
    /// [`OWNER_DETACHED`](super::OWNER_DETACHED) instead of this process (so
    /// `reap` leaves it), Docker removes it when its server exits (after
    /// the idle timeout, say), and [`DockerSandbox::detach`](super::DockerSandbox::detach)
    /// hands out what a later process needs to connect. Default false.
    pub detached: bool,
    /// A tools file (declarative tools) the server serves beside the
    /// built-ins. It is copied into the container before start, readable by
    /// the server only. Default none.
    pub tools_file: Option<PathBuf>,
}

impl Default for LaunchConfig {
    fn default() -> Self {
        Self {
            session: "session".into(),
            network: Network::Bridge,
            workspace: None,
            workspace_limit_bytes: 2 << 30,
            memory_bytes: 1 << 30,
            cpus: 1.0,
            pids_limit: 256,
            tmp_size: "256m".into(),
            ready_timeout: Duration::from_secs(15),
            probe_timeout: Duration::from_millis(500),
            probe_interval_max: Duration::from_millis(50),
            stop_grace: Duration::from_secs(5),
            launch_timeout: Duration::from_secs(300),
            ws: WsConfig::default(),
            peer: PeerConfig::default(),
            idle_timeout: None,
            server_args: Vec::new(),
            detached: false,
            tools_file: None,
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
    /// Sets [`LaunchConfig::workspace_limit_bytes`].
    #[must_use]
    pub fn workspace_limit_bytes(mut self, n: i64) -> Self {
        self.workspace_limit_bytes = n;
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
    /// Sets [`LaunchConfig::peer`].
    #[must_use]
    pub fn peer(mut self, config: PeerConfig) -> Self {
        self.peer = config;
        self
    }
    /// Sets [`LaunchConfig::ws`].
    #[must_use]
    pub fn ws(mut self, config: WsConfig) -> Self {
        self.ws = config;
        self
    }
    /// Sets [`LaunchConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Sets [`LaunchConfig::server_args`].
    #[must_use]
    pub fn server_args(mut self, args: Vec<String>) -> Self {
        self.server_args = args;
        self
    }
    /// Sets [`LaunchConfig::detached`].
    #[must_use]
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }
    /// Sets [`LaunchConfig::tools_file`].
    #[must_use]
    pub fn tools_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tools_file = Some(path.into());
        self
    }
    /// Sets [`LaunchConfig::stop_grace`].
    #[must_use]
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
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
