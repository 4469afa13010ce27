//! Calls that come through another face than a WebSocket session — MCP,
//! or any caller holding the server as an [`Executor`] — take the same path
//! as a session's: refused while shutting down, admitted (known, active),
//! validated, asked for permissions, bounded by the server's call timeout,
//! counted in the metrics. Extra HTTP services (the MCP endpoint) are
//! mounted beside `/ws`, behind the same bearer token.

use std::convert::Infallible;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::call::execute;
use super::{Inner, ToolServer};
use crate::context::CallContext;
use crate::error::CallError;
use crate::executor::stop::{CallStop, StopReason};
use crate::executor::{CallOptions, Executor, Outcome};
use crate::protocol::{ToolInfo, ToolRequest, ToolResponse};

impl ToolServer {
    /// Runs one call as a session would, without a session: `options`
    /// may cancel it, bound it (default: the server's call timeout) and
    /// receive its progress. A call the server cannot run (shutting down,
    /// unknown or inactive tool) is an [`Outcome::Error`]; `Err` is why a
    /// call was stopped.
    pub async fn call(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<Outcome, CallError> {
        let inner = &self.inner;
        let admitted = if inner.shutting_down.is_cancelled() {
            Err("the tool server is shutting down".to_owned())
        } else {
            inner.executor.admit(&request.tool_name)
        };
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(refusal) => {
                inner.metrics().call_refused();
                return Ok(Outcome::Error(refusal));
            }
        };
        let parent = options.cancel.unwrap_or_default();
        let stop = CallStop::child_of(&parent);
        let mut ctx = CallContext::new(
            inner.executor.workdir().to_path_buf(),
            inner.executor.shared().clone(),
        )
        .for_call(&request.tool_call_id, &request.session_id)
        .with_cancel(stop.cancel.clone());
        if let Some(progress) = options.progress {
            ctx = ctx.with_progress(progress);
        }
        if let Some(asker) = options.asker {
            ctx = ctx.with_asker(asker);
        }
        let timeout = options.timeout.unwrap_or(inner.config.call_timeout);
        execute(inner, admitted, request, ctx, &stop, timeout)
            .await
            .map_err(|reason| match reason {
                StopReason::TimedOut(timeout) => CallError::TimedOut { timeout },
                _ => CallError::Cancelled,
            })
    }

    /// Serves `service` at `path` beside `/ws`, behind the same bearer
    /// token (the MCP endpoint, say).
    #[must_use]
    pub fn with_service<S>(mut self, path: &str, service: S) -> Self
    where
        S: tower::Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        let guarded = axum::Router::new().nest_service(path, service).layer(
            axum::middleware::from_fn_with_state(self.inner.clone(), require_token),
        );
        self.extra = self.extra.merge(guarded);
        self
    }
}

async fn require_token(State(inner): State<Arc<Inner>>, request: Request, next: Next) -> Response {
    if !inner.auth.allows(request.headers()) {
        return super::http::unauthorized();
    }
    next.run(request).await.into_response()
}

/// The server is an executor: its calls take the session's path.
#[async_trait]
impl Executor for ToolServer {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        self.call(request, options).await?.into_result()
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        Ok(self.inner.executor.tool_infos())
    }
}
