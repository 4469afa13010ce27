//! [`Router`]: several executors behind one tool list — the sandbox's tools
//! and the tools the orchestrator runs itself — so the agent loop holds one
//! [`Executor`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{CallOptions, Executor, Outcome};
use crate::error::CallError;
use crate::protocol::{ToolInfo, ToolRequest, ToolResponse};

/// Why a [`Router`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// Two executors offer a tool of the same name.
    #[error("tool `{tool}` is offered by both `{first}` and `{second}`")]
    Clash {
        /// The tool's name.
        tool: String,
        /// The executor added first.
        first: String,
        /// The executor added later.
        second: String,
    },
    /// Two executors were given the same label.
    #[error("two executors are both called `{0}`")]
    DuplicateLabel(String),
    /// An executor's tool list could not be fetched.
    #[error("the tools of `{label}` could not be listed: {error}")]
    Tools {
        /// The executor's label.
        label: String,
        /// Why.
        error: CallError,
    },
}

struct Route {
    label: String,
    executor: Arc<dyn Executor>,
}

/// Merges executors into one: [`Executor::tools`] lists the tools of all of
/// them, a call goes to the executor that offers the tool. Tool names are
/// fixed when the router is built, so a name offered twice is an error
/// then, not a surprise at call time. [`Router::set_active_tools`] applies
/// across all of them; a call of an unknown or inactive tool is answered as
/// [`LocalExecutor`](super::LocalExecutor) answers it.
pub struct Router {
    routes: Vec<Route>,
    /// Tool name -> index into `routes`.
    owner: HashMap<String, usize>,
    /// Every tool, in the executors' order.
    tools: Vec<ToolInfo>,
    active: RwLock<Option<BTreeSet<String>>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field(
                "executors",
                &self.routes.iter().map(|r| &r.label).collect::<Vec<_>>(),
            )
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router over `executors`, each with a label that names it in
    /// errors. Lists every executor's tools once.
    ///
    /// # Errors
    /// [`RouterError`]: a tool offered twice (naming both executors), a
    /// label used twice, or a tool list that could not be fetched.
    pub async fn new(
        executors: impl IntoIterator<Item = (String, Arc<dyn Executor>)>,
    ) -> Result<Self, RouterError> {
        let mut router = Self {
            routes: Vec::new(),
            owner: HashMap::new(),
            tools: Vec::new(),
            active: RwLock::new(None),
        };
        for (label, executor) in executors {
            if router.routes.iter().any(|r| r.label == label) {
                return Err(RouterError::DuplicateLabel(label));
            }
            let tools = executor.tools().await.map_err(|error| RouterError::Tools {
                label: label.clone(),
                error,
            })?;
            let index = router.routes.len();
            for tool in tools {
                if let Some(&first) = router.owner.get(&tool.name) {
                    return Err(RouterError::Clash {
                        tool: tool.name,
                        first: router.routes[first].label.clone(),
                        second: label,
                    });
                }
                router.owner.insert(tool.name.clone(), index);
                router.tools.push(tool);
            }
            router.routes.push(Route { label, executor });
        }
        Ok(router)
    }

    /// Restricts which tools are listed and callable, across every
    /// executor (`None` lifts the restriction).
    pub fn set_active_tools(&self, names: Option<impl IntoIterator<Item = String>>) {
        *self
            .active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            names.map(|names| names.into_iter().collect());
    }

    fn is_active(&self, name: &str) -> bool {
        self.active
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_none_or(|active| active.contains(name))
    }

    /// The label of the executor that runs `tool`.
    pub fn owner_of(&self, tool: &str) -> Option<&str> {
        self.owner
            .get(tool)
            .map(|&index| self.routes[index].label.as_str())
    }
}

#[async_trait]
impl Executor for Router {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        let Some(&index) = self.owner.get(&request.tool_name) else {
            return Outcome::Error(format!("unknown tool: {:?}", request.tool_name)).into_result();
        };
        if !self.is_active(&request.tool_name) {
            return Outcome::Error(format!("tool {:?} not available", request.tool_name))
                .into_result();
        }
        self.routes[index]
            .executor
            .execute_with(request, options)
            .await
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        Ok(self
            .tools
            .iter()
            .filter(|tool| self.is_active(&tool.name))
            .cloned()
            .collect())
    }
}
