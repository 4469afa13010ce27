//! toolwire runs an LLM agent's tools in an isolated Docker container and
//! talks to them over one WebSocket, with a wire protocol compatible with the
//! `executor` package of sol (Go).
//!
//! # Map of the crate
//! - [`protocol`]: wire types, one enum per direction, no I/O.
//! - [`tool`], [`executor`], [`context`]: what a tool is, where it runs
//!   ([`LocalExecutor`]), and what each call gets (cancellation, asks).
//! - [`bus`]: the event bus, permission rules and queued answers of a server.
//! - [`server`]: [`ToolServer`], serving a [`LocalExecutor`] at `/ws` + `/health`.
//! - [`transport`], [`remote`]: the client side, [`WsTransport`] and [`RemoteExecutor`].
//! - [`tools`]: the built-in tools (bash, read, write, edit, ls, glob, grep, question).
//! - `docker` (feature `docker`): the [`docker::DockerLauncher`] and [`docker::SandboxPool`].
//!
//! # Example
//! ```rust,no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use toolwire::{Executor, RemoteExecutor, ToolRequest, WsConfig, WsTransport};
//!
//! let transport = WsTransport::connect("ws://127.0.0.1:7000/ws", Some("token"), WsConfig::default()).await?;
//! let executor = RemoteExecutor::new(Arc::new(transport));
//! let response = executor
//!     .execute(ToolRequest::new("bash", serde_json::json!({"command": "echo hi"})))
//!     .await?;
//! println!("{}", response.output);
//! # Ok(()) }
//! ```

pub mod bus;
pub mod context;
#[cfg(feature = "docker")]
pub mod docker;
pub mod executor;
pub mod protocol;
pub mod remote;
pub mod server;
pub mod tool;
pub mod tools;
pub mod transport;

pub use context::CallContext;
pub use executor::{CallError, Executor, LocalExecutor, Outcome};
pub use protocol::{Action, PermissionRule};
pub use remote::RemoteExecutor;
pub use server::{Auth, ServerConfig, TokenDigest, ToolServer};
pub use tool::{Tool, ToolError, ToolInfo, ToolRequest, ToolResponse, TypedTool, typed};
pub use transport::{Endpoint, Transport, WsConfig, WsTransport};
