//! [`RemoteExecutor`]: the [`Executor`] an orchestrator holds when tools run
//! in a sandbox. It forwards every call over a [`Transport`].

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::RwLock;

use crate::executor::{CallError, Executor};
use crate::protocol::PermissionRule;
use crate::tool::{ToolInfo, ToolRequest, ToolResponse};
use crate::transport::Transport;

/// Runs tools through a [`Transport`]. The tool list is fetched once and
/// cached until [`RemoteExecutor::set_active_tools`] changes it.
pub struct RemoteExecutor {
    transport: Arc<dyn Transport>,
    tools: RwLock<Option<Vec<ToolInfo>>>,
}

impl std::fmt::Debug for RemoteExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteExecutor").finish_non_exhaustive()
    }
}

impl RemoteExecutor {
    /// An executor over `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            tools: RwLock::new(None),
        }
    }

    /// The transport, for control calls this type does not wrap.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// Replaces the server's permission rules.
    ///
    /// # Errors
    /// As [`Transport::set_rules`].
    pub async fn set_rules(&self, rules: Vec<PermissionRule>) -> Result<(), CallError> {
        self.transport.set_rules(rules).await
    }

    /// Restricts the server's tools and forgets the cached list.
    ///
    /// # Errors
    /// As [`Transport::set_active_tools`].
    pub async fn set_active_tools(&self, tools: Vec<String>) -> Result<(), CallError> {
        self.transport.set_active_tools(tools).await?;
        *self.tools.write().await = None;
        Ok(())
    }

    /// Queues answers for the next question.
    ///
    /// # Errors
    /// As [`Transport::push_answers`].
    pub async fn push_answers(&self, answers: Vec<Vec<String>>) -> Result<(), CallError> {
        self.transport.push_answers(answers).await
    }

    /// Closes the transport.
    pub async fn close(&self) {
        self.transport.close().await;
    }
}

#[async_trait]
impl Executor for RemoteExecutor {
    async fn execute(&self, request: ToolRequest) -> Result<ToolResponse, CallError> {
        self.transport.send(request).await
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        if let Some(tools) = self.tools.read().await.as_ref() {
            return Ok(tools.clone());
        }
        let tools = self.transport.fetch_tools().await?;
        *self.tools.write().await = Some(tools.clone());
        Ok(tools)
    }
}
