//! [`LocalExecutor`]: tools in this process, by name. It admits a call
//! (known and active tool — the one place that check is made), validates
//! its input against the tool's schema, runs it within the call policy and
//! turns a panic into an error response.

use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;

use super::stop::{CallStop, Ended, StopReason, run_bounded};
use super::validate::{ValidatorSlot, compiled_now, input_refusal};
use super::{CallOptions, Executor, Outcome};
use crate::context::{CallContext, SharedState};
use crate::error::CallError;
use crate::protocol::{BusEvent, ToolInfo, ToolRequest, ToolResponse};
use crate::tool::Tool;

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
    /// Built at registration, or at the first call of a tool registered
    /// with [`LocalExecutor::register_deferred`]; `Err` holds why the schema
    /// does not compile.
    validator: ValidatorSlot,
    /// The group it was registered in ([`LocalExecutor::replace_group`]).
    group: Option<String>,
}

/// The registered tools by name. Replaced whole (copy on write), so a
/// call admitted before a replacement finishes on the tool it found.
type Registry = BTreeMap<String, Arc<Registered>>;

/// A call admitted by [`LocalExecutor::admit`]: the tool it will run, found
/// once; [`LocalExecutor::run_admitted`] runs it.
#[derive(Clone)]
pub struct Admitted(Arc<Registered>);

impl Admitted {
    /// The tool's name.
    pub fn tool_name(&self) -> &str {
        &self.0.info.name
    }
}

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Admitted").field(&self.0.info.name).finish()
    }
}

/// Tools in this process, by name. Validates every input against the tool's
/// schema before the tool runs, and turns a panicking tool into an error
/// response.
pub struct LocalExecutor {
    tools: RwLock<Arc<Registry>>,
    workdir: PathBuf,
    shared: SharedState,
    /// `None`: every tool is active.
    active: RwLock<Option<HashSet<String>>>,
    /// After a call is stopped, how long its tool gets to clean up.
    cancel_grace: Duration,
}

/// Default time a stopped call's tool gets to clean up (kill its processes)
/// before it is dropped.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(2);

impl std::fmt::Debug for LocalExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("tools", &self.registry().keys().collect::<Vec<_>>())
            .field("workdir", &self.workdir)
            .finish_non_exhaustive()
    }
}

impl LocalExecutor {
    /// An empty registry whose tools work in `workdir`.
    pub fn new(workdir: impl Into<PathBuf>) -> Self {
        Self {
            tools: RwLock::new(Arc::new(BTreeMap::new())),
            workdir: workdir.into(),
            shared: SharedState::default(),
            active: RwLock::new(None),
            cancel_grace: DEFAULT_CANCEL_GRACE,
        }
    }

    /// Sets how long a stopped call's tool gets to clean up. Default
    /// [`DEFAULT_CANCEL_GRACE`](crate::executor::DEFAULT_CANCEL_GRACE).
    #[must_use]
    pub fn with_cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// The clean-up time a stopped call gets.
    pub fn cancel_grace(&self) -> Duration {
        self.cancel_grace
    }

    /// Restricts which tools are listed and callable (sol's
    /// `set_active_tools`); names of tools that do not exist are kept, so
    /// the list may name tools registered later.
    pub fn set_active_tools(&self, names: impl IntoIterator<Item = String>) {
        *self
            .active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(names.into_iter().collect());
    }

    fn is_active(&self, name: &str) -> bool {
        self.active
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_none_or(|active| active.contains(name))
    }

    /// Whether a call of `tool` would be admitted; the error is the text the
    /// call is refused with (unknown tool, or not among the active tools).
    ///
    /// # Errors
    /// The refusal, as the caller will read it.
    pub fn admit(&self, tool: &str) -> Result<Admitted, String> {
        let Some(registered) = self.registry().get(tool).cloned() else {
            return Err(format!("unknown tool: {tool:?}"));
        };
        if !self.is_active(tool) {
            return Err(format!("tool {tool:?} not available"));
        }
        Ok(Admitted(registered))
    }

    /// Adds a tool.
    ///
    /// # Errors
    /// [`RegisterError`] when the schema is invalid or the name is taken.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<&mut Self, RegisterError> {
        let registered = compile(tool, None)?;
        self.insert(registered)
    }

    /// Adds a tool whose input validator is built at its first call rather
    /// than now, so a process that never calls it never runs the schema
    /// compiler. The built-in tools, whose schemas this crate's tests
    /// compile, are registered so: the compiler's code and tables are about
    /// 1.5 MiB of an idle tool server's resident memory. A schema that does
    /// not compile fails each call of the tool, naming the reason.
    ///
    /// # Errors
    /// [`RegisterError::Duplicate`] when the name is taken.
    pub fn register_deferred(&mut self, tool: Arc<dyn Tool>) -> Result<&mut Self, RegisterError> {
        let info = tool.info();
        self.insert(Registered {
            tool,
            info,
            validator: OnceLock::new(),
            group: None,
        })
    }

    fn insert(&mut self, registered: Registered) -> Result<&mut Self, RegisterError> {
        let registry = Arc::make_mut(self.tools.get_mut().unwrap_or_else(PoisonError::into_inner));
        if registry.contains_key(&registered.info.name) {
            return Err(RegisterError::Duplicate(registered.info.name));
        }
        registry.insert(registered.info.name.clone(), Arc::new(registered));
        Ok(self)
    }

    /// Replaces every tool registered in `group` by `tools`, at once and
    /// while calls run: a call admitted before finishes on the tool it
    /// found, later calls see the new set. Declarative tools reloaded from
    /// their file use it.
    ///
    /// # Errors
    /// [`RegisterError`] when a new schema is invalid or a new name is
    /// taken by a tool outside the group (or twice in `tools`); then
    /// nothing changes.
    pub fn replace_group(
        &self,
        group: &str,
        tools: Vec<Arc<dyn Tool>>,
    ) -> Result<(), RegisterError> {
        let compiled = tools
            .into_iter()
            .map(|tool| compile(tool, Some(group.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut current = self.tools.write().unwrap_or_else(PoisonError::into_inner);
        let mut next: Registry = current
            .iter()
            .filter(|(_, r)| r.group.as_deref() != Some(group))
            .map(|(name, r)| (name.clone(), r.clone()))
            .collect();
        for registered in compiled {
            if next.contains_key(&registered.info.name) {
                return Err(RegisterError::Duplicate(registered.info.name));
            }
            next.insert(registered.info.name.clone(), Arc::new(registered));
        }
        *current = Arc::new(next);
        Ok(())
    }

    /// The registry as it is now.
    fn registry(&self) -> Arc<Registry> {
        self.tools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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

    /// The active tools, sorted by name.
    pub fn tool_infos(&self) -> Vec<ToolInfo> {
        self.registry()
            .values()
            .filter(|r| self.is_active(&r.info.name))
            .map(|r| r.info.clone())
            .collect()
    }

    /// Runs `request` with `ctx`: a call that is not admitted and invalid
    /// input are answered without running anything; a panic becomes an
    /// error response. Takes the request by value so the input reaches the
    /// tool without a copy. Bounds (timeout, cancellation) are the caller's:
    /// see [`Executor::execute_with`].
    pub async fn run(&self, request: ToolRequest, ctx: CallContext) -> Outcome {
        match self.admit(&request.tool_name) {
            Ok(admitted) => Self::run_admitted(admitted, request, ctx).await,
            Err(refusal) => Outcome::Error(refusal),
        }
    }

    /// Runs a call [`LocalExecutor::admit`] admitted (the server admits
    /// before it counts the call, and does not look the tool up twice).
    pub async fn run_admitted(
        Admitted(registered): Admitted,
        request: ToolRequest,
        ctx: CallContext,
    ) -> Outcome {
        let refusal = input_refusal(
            &registered.validator,
            &registered.info.input_schema,
            &request.tool_name,
            &request.input,
        );
        if let Some(refusal) = refusal {
            return Outcome::Response(ToolResponse::failure(refusal));
        }
        // Published here, after validation: `tool.started` means the input
        // was valid and the tool begins (the journal reads it that way).
        ctx.bus().publish_with(|| BusEvent::ToolStarted {
            tool_call_id: request.tool_call_id.clone(),
            tool: request.tool_name.clone(),
            session_id: request.session_id.clone(),
        });
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

/// A tool with its compiled input validator.
fn compile(tool: Arc<dyn Tool>, group: Option<String>) -> Result<Registered, RegisterError> {
    let info = tool.info();
    let validator =
        compiled_now(&info.input_schema).map_err(|reason| RegisterError::InvalidSchema {
            tool: info.name.clone(),
            reason,
        })?;
    Ok(Registered {
        tool,
        info,
        validator,
        group,
    })
}

#[async_trait]
impl Executor for LocalExecutor {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        let parent = options.cancel.unwrap_or_default();
        let stop = CallStop::child_of(&parent);
        let mut ctx = CallContext::new(self.workdir.clone(), self.shared.clone())
            .for_call(&request.tool_call_id, &request.session_id)
            .with_cancel(stop.cancel.clone());
        if let Some(progress) = options.progress {
            ctx = ctx.with_progress(progress);
        }
        if let Some(asker) = options.asker {
            ctx = ctx.with_asker(asker);
        }
        let call = self.run(request, ctx);
        match run_bounded(call, &stop, options.timeout, self.cancel_grace).await {
            Ended::Done(outcome) => outcome.into_result(),
            Ended::Stopped(StopReason::TimedOut(timeout)) => Err(CallError::TimedOut { timeout }),
            Ended::Stopped(_) => Err(CallError::Cancelled),
        }
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        Ok(self.tool_infos())
    }
}
