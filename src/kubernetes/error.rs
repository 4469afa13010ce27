//! The Kubernetes backend's errors: why a launcher operation failed
//! ([`KubernetesError`]) and how a sandbox Pod ended on its own
//! ([`PodExit`], carried to callers inside
//! [`CallError::SandboxEnded`](crate::CallError)).

/// Why a launcher operation failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubernetesError {
    /// No kubeconfig and no in-cluster configuration could be loaded.
    #[error(
        "no Kubernetes configuration ({reason}); set KUBECONFIG, or run in a Pod with a service account"
    )]
    NoConfig {
        /// What kube-rs said.
        reason: String,
    },
    /// An API server call failed.
    #[error("kubernetes {action} failed: {source}")]
    Api {
        /// What was being done.
        action: &'static str,
        /// kube-rs's error.
        #[source]
        source: kube::Error,
    },
    /// The Pod did not become Ready; everything created was deleted.
    #[error(
        "the sandbox Pod {pod} did not become ready: {reason}\nevents:\n{events}\nlast log lines:\n{logs}"
    )]
    NotReady {
        /// The Pod's name.
        pod: String,
        /// Why: the image pull error, unschedulable, the crash, or the bound.
        reason: String,
        /// The Pod's events, oldest first.
        events: String,
        /// The server's last log lines.
        logs: String,
    },
    /// The port-forward to the Pod could not be opened.
    #[error("could not forward to the sandbox Pod {pod}: {reason}")]
    PortForward {
        /// The Pod's name.
        pod: String,
        /// What failed.
        reason: String,
    },
    /// Connecting to the ready server failed.
    #[error("could not connect to the sandbox: {0}")]
    Connect(#[from] crate::transport::ConnectError),
    /// The launch took longer than [`PodConfig::launch_timeout`](super::PodConfig).
    #[error("the sandbox was not launched within {0:?}; its objects were deleted")]
    Timeout(std::time::Duration),
    /// [`KubernetesSandbox::detach`](super::KubernetesSandbox::detach) on a
    /// sandbox not launched with [`PodConfig::detached`](super::PodConfig::detached).
    #[error("only a sandbox launched detached can be detached (PodConfig::detached)")]
    NotDetached,
    /// A manifest the launcher built does not read as its Kubernetes type
    /// (a bug of the launcher, reported instead of a panic).
    #[error("the sandbox {object} manifest is not a valid {object}: {source}")]
    Manifest {
        /// The kind of object.
        object: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// Local I/O (the tools file).
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl KubernetesError {
    pub(crate) fn api(action: &'static str) -> impl FnOnce(kube::Error) -> Self {
        move |source| Self::Api { action, source }
    }

    pub(crate) fn manifest(object: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Self::Manifest { object, source }
    }
}

/// How a sandbox Pod ended on its own: every pending call fails with this
/// inside [`CallError::SandboxEnded`](crate::CallError); reach it with
/// [`SandboxEnded::downcast_ref`](crate::SandboxEnded::downcast_ref).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "sandbox Pod ended ({reason}, exit code {exit_code:?}, oom killed: {oom_killed}); last log lines:\n{logs}"
)]
pub struct PodExit {
    /// The server container's exit code, when known.
    pub exit_code: Option<i32>,
    /// The kernel's OOM killer ended it (`reason: OOMKilled`).
    pub oom_killed: bool,
    /// Why, in Kubernetes' words: the container's termination reason, the
    /// Pod's (`Evicted`, say), or `deleted`.
    pub reason: String,
    /// The last lines of its log.
    pub logs: String,
}
