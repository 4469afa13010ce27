//! The Docker backend's errors: why a launcher operation failed
//! ([`LaunchError`]) and how a sandbox ended on its own ([`SandboxExit`],
//! carried to callers inside [`CallError::SandboxEnded`](crate::CallError)).

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
    /// The image is not there and could not be built.
    #[error("could not make the sandbox image: {what}")]
    Image {
        /// What is missing or failed, and what to do.
        what: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
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
    /// The launch took longer than [`LaunchConfig::launch_timeout`](super::LaunchConfig).
    #[error("the sandbox was not launched within {0:?}; the container was removed")]
    Timeout(std::time::Duration),
    /// [`DockerSandbox::detach`](super::DockerSandbox::detach) on a sandbox
    /// not launched with [`LaunchConfig::detached`](super::LaunchConfig::detached).
    #[error("only a sandbox launched detached can be detached (LaunchConfig::detached)")]
    NotDetached,
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

    pub(crate) fn image(what: impl Into<String>) -> Self {
        Self::Image {
            what: what.into(),
            source: None,
        }
    }

    pub(crate) fn image_because(
        what: impl Into<String>,
    ) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Self {
        let what = what.into();
        move |source| Self::Image {
            what,
            source: Some(source),
        }
    }

    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}

/// How a sandbox's container ended on its own: every pending call fails
/// with this inside [`CallError::SandboxEnded`](crate::CallError); reach it
/// with [`SandboxEnded::downcast_ref`](crate::SandboxEnded::downcast_ref).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "sandbox exited (exit code {exit_code:?}, oom killed: {oom_killed}); last log lines:\n{logs}"
)]
pub struct SandboxExit {
    /// The container's exit code, when known.
    pub exit_code: Option<i64>,
    /// The kernel's OOM killer ended it.
    pub oom_killed: bool,
    /// The last lines of its log.
    pub logs: String,
}
