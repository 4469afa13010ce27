//! The client side of the wire: the [`Transport`] trait and its WebSocket
//! implementation [`WsTransport`].

mod ws;

pub use ws::{ConnectError, Endpoint, InteractiveHandler, WsConfig, WsTransport};

use async_trait::async_trait;

use crate::executor::CallError;
use crate::protocol::PermissionRule;
use crate::tool::{ToolInfo, ToolRequest, ToolResponse};

/// Carries tool calls and control messages to a tool server.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends one call and waits for its final answer.
    ///
    /// # Errors
    /// A [`CallError`] when there is no response: the call suspended, timed
    /// out, or the connection was lost.
    async fn send(&self, request: ToolRequest) -> Result<ToolResponse, CallError>;

    /// Fetches the active tools.
    ///
    /// # Errors
    /// A [`CallError`] when no answer comes.
    async fn fetch_tools(&self) -> Result<Vec<ToolInfo>, CallError>;

    /// Replaces the server's permission rules; returns once acknowledged.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    async fn set_rules(&self, rules: Vec<PermissionRule>) -> Result<(), CallError>;

    /// Restricts which tools the server lists and accepts; returns once acknowledged.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    async fn set_active_tools(&self, tools: Vec<String>) -> Result<(), CallError>;

    /// Queues one batch of answers for the next question; returns once acknowledged.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the server refuses, or no answer.
    async fn push_answers(&self, answers: Vec<Vec<String>>) -> Result<(), CallError>;

    /// Closes the connection; pending calls fail with [`CallError::Closed`].
    async fn close(&self);
}
