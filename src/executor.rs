//! Where tool calls run: the [`Executor`] trait the orchestrator's agent loop
//! holds, [`LocalExecutor`] (a registry of [`Tool`]s in this process) and the
//! [`CallError`] every executor reports when a call gets no answer.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;

use crate::context::{CallContext, SharedState};
use crate::protocol::{PermissionNeeded, QuestionNeeded, ResponseFrame};
use crate::tool::{Tool, ToolError, ToolInfo, ToolRequest, ToolResponse};

/// Why a call has no [`ToolResponse`]. A tool that fails is *not* an error
/// here: that is a response with `is_error`.
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
    /// The sandbox container exited; every pending call fails with this.
    #[error(
        "sandbox exited (exit code {exit_code:?}, oom killed: {oom_killed}); last log lines:\n{logs}"
    )]
    SandboxExited {
        /// The container's exit code, when known.
        exit_code: Option<i64>,
        /// The kernel's OOM killer ended it.
        oom_killed: bool,
        /// The last lines of its log.
        logs: String,
    },
    /// No answer within the caller's timeout; the server was told to cancel.
    #[error("no answer within {timeout:?}; the call was cancelled")]
    TimedOut {
        /// The timeout that expired.
        timeout: Duration,
    },
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

/// Runs tool calls. The agent loop holds one and cannot tell whether tools
/// run in this process ([`LocalExecutor`]) or in a sandbox
/// ([`crate::RemoteExecutor`]).
#[async_trait]
pub trait Executor: Send + Sync {
    /// Runs one call.
    ///
    /// # Errors
    /// A [`CallError`] when there is no response (suspension or no answer).
    async fn execute(&self, request: ToolRequest) -> Result<ToolResponse, CallError>;

    /// The tools the model may call.
    ///
    /// # Errors
    /// A [`CallError`] when the list cannot be fetched.
    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError>;
}

/// How one call ended, before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool answered (also a failed or denied call).
    Response(ToolResponse),
    /// The call could not run.
    Error(String),
    /// Suspended for a permission.
    PermissionNeeded(PermissionNeeded),
    /// Suspended for a question.
    QuestionNeeded(QuestionNeeded),
}

impl Outcome {
    /// The wire frame for request `id`.
    pub fn into_frame(self, id: String) -> ResponseFrame {
        match self {
            Self::Response(response) => ResponseFrame::ok(id, response),
            Self::Error(error) => ResponseFrame::error(id, error),
            Self::PermissionNeeded(p) => ResponseFrame {
                id,
                permission_needed: Some(p),
                ..ResponseFrame::default()
            },
            Self::QuestionNeeded(q) => ResponseFrame {
                id,
                question_needed: Some(q),
                ..ResponseFrame::default()
            },
        }
    }

    /// A short word for logs and `tool.completed` events.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Response(r) if r.denied => "denied",
            Self::Response(r) if r.is_error => "error",
            Self::Response(_) => "ok",
            Self::Error(_) => "error",
            Self::PermissionNeeded(_) | Self::QuestionNeeded(_) => "suspended",
        }
    }

    /// The client-side view: a response, or the suspension as an error.
    ///
    /// # Errors
    /// [`CallError::PermissionNeeded`] / [`CallError::QuestionNeeded`].
    pub fn into_result(self) -> Result<ToolResponse, CallError> {
        match self {
            Self::Response(response) => Ok(response),
            Self::Error(error) => Ok(ToolResponse::failure(error)),
            Self::PermissionNeeded(p) => Err(CallError::PermissionNeeded(p)),
            Self::QuestionNeeded(q) => Err(CallError::QuestionNeeded(q)),
        }
    }
}

impl From<ToolError> for Outcome {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::Failed(message) => Self::Response(ToolResponse::failure(message)),
            ToolError::Denied(reason) => Self::Response(ToolResponse::refused(reason)),
            ToolError::PermissionNeeded(p) => Self::PermissionNeeded(p),
            ToolError::QuestionNeeded(q) => Self::QuestionNeeded(q),
            ToolError::Cancelled => Self::Error("tool call cancelled".into()),
        }
    }
}

/// A tool's schema is not a valid JSON Schema, or its name is taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The input schema does not compile.
    #[error("tool `{tool}` has an invalid input schema: {reason}")]
    InvalidSchema {
        /// The tool.
        tool: String,
        /// What the schema compiler said.
        reason: String,
    },
    /// Another tool already has this name.
    #[error("a tool named `{0}` is already registered")]
    Duplicate(String),
}

struct Registered {
    tool: Arc<dyn Tool>,
    info: ToolInfo,
    validator: jsonschema::Validator,
}

/// Tools in this process, by name. Validates every input against the tool's
/// schema before the tool runs, and turns a panicking tool into an error
/// response.
pub struct LocalExecutor {
    tools: BTreeMap<String, Registered>,
    workdir: PathBuf,
    shared: SharedState,
}

impl std::fmt::Debug for LocalExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("workdir", &self.workdir)
            .finish_non_exhaustive()
    }
}

impl LocalExecutor {
    /// An empty registry whose tools work in `workdir`.
    pub fn new(workdir: impl Into<PathBuf>) -> Self {
        Self {
            tools: BTreeMap::new(),
            workdir: workdir.into(),
            shared: SharedState::default(),
        }
    }

    /// Adds a tool.
    ///
    /// # Errors
    /// [`RegisterError`] when the schema is invalid or the name is taken.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<&mut Self, RegisterError> {
        let info = tool.info();
        if self.tools.contains_key(&info.name) {
            return Err(RegisterError::Duplicate(info.name));
        }
        // Draft 7: tool schemas need nothing newer, and compiling against the
        // 2020-12 meta-schema costs ~3 MiB of resident memory per tool.
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&info.input_schema)
            .map_err(|e| RegisterError::InvalidSchema {
                tool: info.name.clone(),
                reason: e.to_string(),
            })?;
        self.tools.insert(
            info.name.clone(),
            Registered {
                tool,
                info,
                validator,
            },
        );
        Ok(self)
    }

    /// Adds a tool, builder style.
    ///
    /// # Errors
    /// As [`LocalExecutor::register`].
    pub fn with_tool(mut self, tool: Arc<dyn Tool>) -> Result<Self, RegisterError> {
        self.register(tool)?;
        Ok(self)
    }

    /// The workdir tools run in.
    pub fn workdir(&self) -> &std::path::Path {
        &self.workdir
    }

    /// The bus, rules and answers calls made through [`Executor::execute`] use.
    pub fn shared(&self) -> &SharedState {
        &self.shared
    }

    /// Every registered tool, sorted by name.
    pub fn tool_infos(&self) -> Vec<ToolInfo> {
        self.tools.values().map(|r| r.info.clone()).collect()
    }

    /// Whether a tool of this name is registered.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    /// Runs `request` with `ctx`: unknown tool and invalid input are answered
    /// without running anything; a panic becomes an error response. Takes the
    /// request by value so the input reaches the tool without a copy.
    pub async fn run(&self, request: ToolRequest, ctx: CallContext) -> Outcome {
        let Some(registered) = self.tools.get(&request.tool_name) else {
            return Outcome::Error(format!("unknown tool: {:?}", request.tool_name));
        };
        if let Some(problem) = input_problem(&registered.validator, &request.input) {
            return Outcome::Response(ToolResponse::failure(format!(
                "invalid input for tool `{}`: {problem}",
                request.tool_name
            )));
        }
        let call = registered.tool.call(request.input, ctx);
        match AssertUnwindSafe(call).catch_unwind().await {
            Ok(Ok(response)) => Outcome::Response(response),
            Ok(Err(error)) => Outcome::from(error),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                tracing::error!(tool = %request.tool_name, %message, "tool panicked");
                Outcome::Response(ToolResponse::failure(format!(
                    "tool `{}` panicked: {message}",
                    request.tool_name
                )))
            }
        }
    }
}

/// The first schema violation, naming the offending field.
fn input_problem(validator: &jsonschema::Validator, input: &serde_json::Value) -> Option<String> {
    if validator.is_valid(input) {
        return None;
    }
    let error = validator.iter_errors(input).next()?;
    let path = error.instance_path.to_string();
    Some(if path.is_empty() {
        error.to_string()
    } else {
        format!(
            "field `{}`: {error}",
            path.trim_start_matches('/').replace('/', ".")
        )
    })
}

#[async_trait]
impl Executor for LocalExecutor {
    async fn execute(&self, request: ToolRequest) -> Result<ToolResponse, CallError> {
        let ctx = CallContext::new(self.workdir.clone(), self.shared.clone())
            .for_call(&request.tool_call_id, &request.session_id);
        self.run(request, ctx).await.into_result()
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        Ok(self.tool_infos())
    }
}
