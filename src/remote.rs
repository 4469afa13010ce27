//! [`RemoteExecutor`]: the [`Executor`] an orchestrator holds when tools run
//! in a sandbox. It forwards every call over a [`Peer`].

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::RwLock;

use crate::error::CallError;
use crate::executor::{CallOptions, Executor};
use crate::peer::Peer;
use crate::protocol::{PermissionRule, ToolInfo, ToolRequest, ToolResponse};

/// Runs tools through a [`Peer`]. The tool list is fetched once and cached
/// until [`RemoteExecutor::set_active_tools`] changes it.
pub struct RemoteExecutor {
    peer: Arc<Peer>,
    tools: RwLock<Option<Vec<ToolInfo>>>,
}

impl std::fmt::Debug for RemoteExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteExecutor")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl RemoteExecutor {
    /// An executor over `peer`.
    pub fn new(peer: Arc<Peer>) -> Self {
        Self {
            peer,
            tools: RwLock::new(None),
        }
    }

    /// The peer, for what this type does not wrap.
    pub fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }

    /// Replaces the server's permission rules.
    ///
    /// # Errors
    /// As [`Peer::set_rules`].
    pub async fn set_rules(&self, rules: Vec<PermissionRule>) -> Result<(), CallError> {
        self.peer.set_rules(rules).await
    }

    /// Restricts the server's tools and forgets the cached list.
    ///
    /// # Errors
    /// As [`Peer::set_active_tools`].
    pub async fn set_active_tools(&self, tools: Vec<String>) -> Result<(), CallError> {
        self.peer.set_active_tools(tools).await?;
        *self.tools.write().await = None;
        Ok(())
    }

    /// Queues answers for the next question.
    ///
    /// # Errors
    /// As [`Peer::push_answers`].
    pub async fn push_answers(&self, answers: Vec<Vec<String>>) -> Result<(), CallError> {
        self.peer.push_answers(answers).await
    }

    /// Closes the connection.
    pub async fn close(&self) {
        self.peer.close().await;
    }
}

#[async_trait]
impl Executor for RemoteExecutor {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        self.peer.send_with(request, options).await
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        if let Some(tools) = self.tools.read().await.as_ref() {
            return Ok(tools.clone());
        }
        let tools = self.peer.fetch_tools().await?;
        *self.tools.write().await = Some(tools.clone());
        Ok(tools)
    }
}
