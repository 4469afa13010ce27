//! What a Kubernetes sandbox is made from: the launcher's cluster-wide
//! settings ([`KubernetesConfig`]: namespace, image, scheduling, how to
//! connect, who owns the Pods) and one launch ([`PodConfig`]: session,
//! network, limits, timeouts).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Toleration;

use crate::peer::PeerConfig;
use crate::transport::WsConfig;

/// How the orchestrator reaches a sandbox's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectMode {
    /// Through the API server's port-forward of the Pod (no Service, no
    /// open port on any network the Pod is on). Works from anywhere the
    /// API server is reachable.
    #[default]
    PortForward,
    /// Straight to the Pod IP: for an orchestrator that runs in the same
    /// cluster and says so (one hop less; the Pod's port is reachable
    /// inside the cluster network, as NetworkPolicy allows).
    PodIp,
}

/// How the sandbox is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The cluster's Pod network, as the namespace's policies allow.
    #[default]
    Cluster,
    /// No egress: a NetworkPolicy selecting only this Pod denies all
    /// egress (the cluster's network plugin must enforce NetworkPolicy).
    /// Ingress stays open to the port-forward and the orchestrator.
    None,
}

/// The Pod that owns the sandboxes, when the orchestrator runs in one:
/// each sandbox Pod carries an ownerReference to it, so Kubernetes deletes
/// the sandboxes when the orchestrator's Pod is deleted. Both must be in
/// the same namespace (an ownerReference cannot cross namespaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerPod {
    /// The orchestrator Pod's name.
    pub name: String,
    /// Its uid (`metadata.uid`).
    pub uid: String,
}

impl OwnerPod {
    /// Environment variable with the orchestrator Pod's name (set it with
    /// the downward API, `fieldRef: metadata.name`).
    pub const NAME_ENV: &'static str = "TOOLWIRE_POD_NAME";
    /// Environment variable with the orchestrator Pod's uid (`fieldRef: metadata.uid`).
    pub const UID_ENV: &'static str = "TOOLWIRE_POD_UID";

    /// The owner Pod the environment names, when both variables are set.
    pub fn from_env() -> Option<Self> {
        let name = std::env::var(Self::NAME_ENV)
            .ok()
            .filter(|s| !s.is_empty())?;
        let uid = std::env::var(Self::UID_ENV)
            .ok()
            .filter(|s| !s.is_empty())?;
        Some(Self { name, uid })
    }
}

/// The launcher's settings for every sandbox it creates. Every field has a
/// documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KubernetesConfig {
    /// Namespace of the sandboxes. Default: the kubeconfig's (or the
    /// in-cluster service account's) namespace.
    pub namespace: Option<String>,
    /// The sandbox image (toolwire-server at `/usr/local/bin`, `sh`, a user
    /// 1000). Default `toolwire-sandbox:latest`.
    pub image: String,
    /// `imagePullPolicy`. Default `IfNotPresent`.
    pub image_pull_policy: String,
    /// `imagePullSecrets` by name. Default none.
    pub image_pull_secrets: Vec<String>,
    /// Extra labels on every Pod (the toolwire labels always win). Default none.
    pub labels: BTreeMap<String, String>,
    /// `nodeSelector`. Default none.
    pub node_selector: BTreeMap<String, String>,
    /// `tolerations`. Default none.
    pub tolerations: Vec<Toleration>,
    /// `runtimeClassName`, e.g. `gvisor` or `kata` for a stronger boundary
    /// than runc. Default none (the cluster's default runtime).
    pub runtime_class: Option<String>,
    /// How to reach the server. Default [`ConnectMode::PortForward`].
    pub connect: ConnectMode,
    /// The orchestrator's Pod, for ownerReferences. Default
    /// [`OwnerPod::from_env`].
    pub owner_pod: Option<OwnerPod>,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            image: "toolwire-sandbox:latest".into(),
            image_pull_policy: "IfNotPresent".into(),
            image_pull_secrets: Vec::new(),
            labels: BTreeMap::new(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            runtime_class: None,
            connect: ConnectMode::PortForward,
            owner_pod: OwnerPod::from_env(),
        }
    }
}

impl KubernetesConfig {
    /// Sets [`KubernetesConfig::namespace`].
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// Sets [`KubernetesConfig::image`].
    #[must_use]
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }
    /// Sets [`KubernetesConfig::runtime_class`].
    #[must_use]
    pub fn runtime_class(mut self, class: impl Into<String>) -> Self {
        self.runtime_class = Some(class.into());
        self
    }
    /// Sets [`KubernetesConfig::connect`].
    #[must_use]
    pub fn connect(mut self, mode: ConnectMode) -> Self {
        self.connect = mode;
        self
    }
    /// Sets [`KubernetesConfig::owner_pod`].
    #[must_use]
    pub fn owner_pod(mut self, owner: Option<OwnerPod>) -> Self {
        self.owner_pod = owner;
        self
    }
}

/// How to launch one sandbox Pod. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PodConfig {
    /// Session name, in the Pod's name and labels. Default `session`.
    pub session: String,
    /// Network mode. Default [`Network::Cluster`].
    pub network: Network,
    /// CPU limit (and request), Kubernetes quantity. Default `1`.
    pub cpu: String,
    /// Memory limit (and request). Default `1Gi`.
    pub memory: String,
    /// Ephemeral-storage limit: the container's writable layers, logs and
    /// the disk-backed workspace together; past it the kubelet evicts the
    /// Pod. Default `3Gi`.
    pub ephemeral_storage: String,
    /// Size limit of the `/workspace` emptyDir. Default `2Gi`.
    pub workspace_size: String,
    /// Size limit of the `/tmp` emptyDir (in memory, charged to the Pod's
    /// memory). Default `256Mi`.
    pub tmp_size: String,
    /// Time for the Pod to become Ready once created (scheduling, image
    /// pull, start, `/health`). Default 120 s.
    pub ready_timeout: Duration,
    /// The whole launch at most; past it everything created is deleted.
    /// Default 180 s.
    pub launch_timeout: Duration,
    /// Grace before the kubelet kills the server on delete. Default 5 s.
    pub stop_grace: Duration,
    /// How to open the WebSocket to the server.
    pub ws: WsConfig,
    /// How the executor calls.
    pub peer: PeerConfig,
    /// The server exits after this long with no client and no call; the
    /// Pod then ends (restartPolicy Never) and is deleted. Whole seconds,
    /// at least one. Default none.
    pub idle_timeout: Option<Duration>,
    /// Extra arguments for `toolwire-server`.
    pub server_args: Vec<String>,
    /// A tools file the server serves beside the built-ins; it travels in
    /// the sandbox's Secret, beside the token. Default none.
    pub tools_file: Option<PathBuf>,
    /// The Pod outlives this process: its owner annotation is `detached`
    /// (so `reap` leaves it) and it carries no ownerReference. Default false.
    pub detached: bool,
}

impl Default for PodConfig {
    fn default() -> Self {
        Self {
            session: "session".into(),
            network: Network::Cluster,
            cpu: "1".into(),
            memory: "1Gi".into(),
            ephemeral_storage: "3Gi".into(),
            workspace_size: "2Gi".into(),
            tmp_size: "256Mi".into(),
            ready_timeout: Duration::from_secs(120),
            launch_timeout: Duration::from_secs(180),
            stop_grace: Duration::from_secs(5),
            ws: WsConfig::default(),
            peer: PeerConfig::default(),
            idle_timeout: None,
            server_args: Vec::new(),
            tools_file: None,
            detached: false,
        }
    }
}

impl PodConfig {
    /// Sets [`PodConfig::session`].
    #[must_use]
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = session.into();
        self
    }
    /// Sets [`PodConfig::network`].
    #[must_use]
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }
    /// Sets [`PodConfig::memory`].
    #[must_use]
    pub fn memory(mut self, quantity: impl Into<String>) -> Self {
        self.memory = quantity.into();
        self
    }
    /// Sets [`PodConfig::ready_timeout`].
    #[must_use]
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }
    /// Sets [`PodConfig::peer`].
    #[must_use]
    pub fn peer(mut self, config: PeerConfig) -> Self {
        self.peer = config;
        self
    }
    /// Sets [`PodConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
    /// Sets [`PodConfig::server_args`].
    #[must_use]
    pub fn server_args(mut self, args: Vec<String>) -> Self {
        self.server_args = args;
        self
    }
    /// Sets [`PodConfig::tools_file`].
    #[must_use]
    pub fn tools_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tools_file = Some(path.into());
        self
    }
    /// Sets [`PodConfig::detached`].
    #[must_use]
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }
}
