//! How a tool call can end other than with a response ([`ToolError`], what
//! a tool returns) and why a caller got no response at all ([`CallError`]).

use crate::metrics::CallOutcome;
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::{PermissionNeeded, QuestionNeeded};

/// How a tool call can end other than with a normal response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The tool failed; becomes an `is_error` response the model reads.
    #[error("{0}")]
    Failed(String),
    /// The call was refused (permission denied); becomes a `denied` response.
    #[error("denied: {0}")]
    Denied(String),
    /// No rule decided and nobody could be asked: the orchestrator must ask
    /// the user and retry (`permission_needed` on the wire).
    #[error("permission needed: {}", .0.permission)]
    PermissionNeeded(PermissionNeeded),
    /// No pre-loaded answer and nobody could be asked (`question_needed`).
    #[error("question needs an answer")]
    QuestionNeeded(QuestionNeeded),
    /// The call's cancellation token fired (cancel, timeout, disconnect).
    #[error("cancelled")]
    Cancelled,
}

impl ToolError {
    /// A [`ToolError::Failed`] from anything printable.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }
}

/// Why a call has no [`ToolResponse`](crate::ToolResponse). A tool that fails
/// is *not* an error here: that is a response with `is_error`, the same
/// whether the tool ran in this process or in a sandbox.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No rule decided: ask the user, add a rule (or answer), and call again.
    #[error("permission needed: {} for {:?}", .0.permission, .0.patterns)]
    PermissionNeeded(PermissionNeeded),
    /// A question has no answer: push answers and call again.
    #[error("question needs an answer")]
    QuestionNeeded(QuestionNeeded),
    /// The connection to the tool server ended before the answer came.
    #[error("connection to the tool server lost: {reason}")]
    ConnectionLost {
        /// What ended it.
        reason: String,
    },
    /// The sandbox behind the connection ended; every pending call fails with
    /// this. The launcher's error says how (for Docker, a
    /// `docker::SandboxExit` with the exit code, the OOM flag and the last
    /// log lines): reach it with [`SandboxEnded::downcast_ref`].
    #[error("{0}")]
    SandboxEnded(SandboxEnded),
    /// No answer within the caller's timeout; the server was told to cancel.
    #[error("no answer within {timeout:?}; the call was cancelled")]
    TimedOut {
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The caller cancelled the call; the server was told to stop it.
    #[error("the call was cancelled by its caller")]
    Cancelled,
    /// The transport was closed by its owner.
    #[error("transport closed")]
    Closed,
    /// The server refused a control message.
    #[error("refused by the tool server: {0}")]
    Refused(String),
    /// The peer sent something this client cannot understand.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl CallError {
    /// How a call that got no response ended, as metrics and the journal
    /// label it.
    pub fn outcome(&self) -> CallOutcome {
        match self {
            Self::PermissionNeeded(_) | Self::QuestionNeeded(_) => CallOutcome::Suspended,
            Self::TimedOut { .. } => CallOutcome::TimedOut,
            Self::Cancelled => CallOutcome::Cancelled,
            Self::ConnectionLost { .. } | Self::SandboxEnded(_) | Self::Closed => CallOutcome::Lost,
            Self::Refused(_) | Self::Protocol(_) => CallOutcome::Error,
        }
    }
}

/// How a sandbox ended, as its launcher reports it: a shared, type-erased
/// error so the core enum does not name any backend.
#[derive(Debug, Clone)]
pub struct SandboxEnded(Arc<dyn std::error::Error + Send + Sync>);

impl SandboxEnded {
    /// Wraps a launcher's description of how its sandbox ended.
    pub fn new(reason: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(reason))
    }

    /// The launcher's own error, when it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }
}

impl std::fmt::Display for SandboxEnded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SandboxEnded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Two ends are equal when they say the same: the launcher's error is
/// compared by its message.
impl PartialEq for SandboxEnded {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}
