//! Where tool calls run: the [`Executor`] trait the orchestrator's agent loop
//! holds, [`LocalExecutor`] (a registry of tools in this process), the one
//! conversion of a call's end into the caller's result ([`Outcome`]), and the
//! call policy (timeout, cancellation, grace) that local calls and the tool
//! server share.
//!
//! - `outcome`: [`Outcome`], to and from the wire, into the caller's result.
//! - `stop`: why a call was stopped, and running a call within its bounds.
//! - `local`: [`LocalExecutor`], registration, admission, running a call.
//! - `validate`: a tool's input validator (built at registration or first
//!   call) and the refusal of an input it rejects.
//! - `router`: [`Router`], several executors behind one tool list.

mod local;
mod outcome;
mod router;
pub(crate) mod stop;
mod validate;

pub use local::{Admitted, DEFAULT_CANCEL_GRACE, LocalExecutor, RegisterError};
pub use outcome::Outcome;
pub use router::{Router, RouterError};
pub(crate) use validate::schema_problem;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::context::{Asker, ProgressSink};
use crate::error::CallError;
use crate::protocol::{ToolInfo, ToolRequest, ToolResponse};

/// How the caller bounds one call. Every field has a documented default.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// The caller gives up after this long with [`CallError::TimedOut`] and
    /// the call is stopped. Default: the executor's own (none for
    /// [`LocalExecutor`], [`crate::PeerConfig::call_timeout`] remotely).
    pub timeout: Option<Duration>,
    /// Cancelling this token stops the call; the caller gets
    /// [`CallError::Cancelled`]. Default none.
    pub cancel: Option<CancellationToken>,
    /// Receives the call's output while it runs (bash's chunks). A remote
    /// call's chunks reach it when its peer announced the `progress`
    /// feature ([`crate::PeerConfig::on_progress`], which receives the
    /// chunks of calls without a sink of their own). Default none.
    pub progress: Option<Arc<dyn ProgressSink>>,
    /// Answers the call's permission asks and questions that no rule
    /// decides (a person behind an MCP client's elicitation, say). A remote
    /// call's asks reach it when its peer announced the `interactive`
    /// feature ([`crate::PeerConfig::interactive`], whose handler answers
    /// the calls without an asker of their own). Default none: the call
    /// ends as `permission_needed` / `question_needed` (or asks the peer's
    /// handler).
    pub asker: Option<Arc<dyn Asker>>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .field("asker", &self.asker.is_some())
            .finish()
    }
}

impl CallOptions {
    /// Sets [`CallOptions::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`CallOptions::cancel`].
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Sets [`CallOptions::progress`].
    #[must_use]
    pub fn progress(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Sets [`CallOptions::asker`].
    #[must_use]
    pub fn asker(mut self, asker: Arc<dyn Asker>) -> Self {
        self.asker = Some(asker);
        self
    }
}

/// Runs tool calls. The agent loop holds one and cannot tell whether tools
/// run in this process ([`LocalExecutor`]) or in a sandbox
/// ([`crate::RemoteExecutor`]): a call gives the same [`ToolResponse`] or
/// the same [`CallError`] either way.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Runs one call with the executor's default bounds.
    ///
    /// # Errors
    /// A [`CallError`] when there is no response (suspension or no answer).
    async fn execute(&self, request: ToolRequest) -> Result<ToolResponse, CallError> {
        self.execute_with(request, CallOptions::default()).await
    }

    /// Runs one call within `options`.
    ///
    /// # Errors
    /// A [`CallError`] when there is no response: suspended, timed out,
    /// cancelled, or the connection was lost.
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError>;

    /// The tools the model may call.
    ///
    /// # Errors
    /// A [`CallError`] when the list cannot be fetched.
    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError>;
}

/// A borrowed executor is one too, so a wrapper (the journal's, say) can
/// take `&executor` while its owner keeps it.
#[async_trait]
impl<E: Executor + ?Sized> Executor for &E {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        (**self).execute_with(request, options).await
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        (**self).tools().await
    }
}

/// A shared executor is one too.
#[async_trait]
impl<E: Executor + ?Sized> Executor for std::sync::Arc<E> {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        (**self).execute_with(request, options).await
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        (**self).tools().await
    }
}
