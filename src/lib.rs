//! toolwire runs an LLM agent's tools in an isolated sandbox and talks to
//! them over one WebSocket, with a wire protocol compatible with the
//! `executor` package of sol (Go).
//!
//! # Layers (imports point down only; `tests/layers.rs` checks it)
//! 1. [`protocol`]: wire data, one enum per direction, no I/O; [`metrics`]:
//!    the Prometheus series both ends keep; [`shell`]: what a bash script
//!    runs and touches, read with a real parser.
//! 2. [`bus`], `error`: events, permission rules, queued answers;
//!    [`ToolError`] and [`CallError`].
//! 3. [`context`]: what each call gets (cancellation, asks, progress).
//! 4. [`tool`]: the [`Tool`] trait and [`TypedTool`].
//! 5. [`executor`]: [`Executor`], [`LocalExecutor`], the one conversion of
//!    a call's end ([`Outcome`]) and the call policy both ends share.
//! 6. [`transport`] (frames over a stream: [`WsTransport`], [`channel_pair`]),
//!    [`tools`] (the built-ins) and [`providers`] (the model APIs' tool
//!    formats).
//! 7. `wire`: the one frame writer and the one pending table;
//!    [`declarative`]: tools declared in a tools file (HTTP, command);
//!    [`mcp`]: any executor's tools served to MCP clients.
//! 8. [`server`] ([`ToolServer`]) and [`peer`] ([`Peer`]: ids, timeouts,
//!    hello, asks).
//! 9. [`RemoteExecutor`]; `journal` (feature `journal`): every call's life
//!    in SQLite.
//! 10. [`launcher`] ([`Launcher`], [`SandboxPool`]), and 11. its backends:
//!     `docker` (feature `docker`) and `kubernetes` (feature `kubernetes`).
//!
//! `docs/ARCHITECTURE.md` follows one call through all of them.
//!
//! # Example
//! ```rust,no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use toolwire::{Endpoint, Executor, Peer, PeerConfig, RemoteExecutor, ToolRequest, WsConfig};
//!
//! let endpoint = Endpoint::Url("ws://127.0.0.1:7000/ws".into());
//! let peer = Peer::connect(&endpoint, Some("token"), &WsConfig::default(), PeerConfig::default()).await?;
//! let executor = RemoteExecutor::new(Arc::new(peer));
//! let response = executor
//!     .execute(ToolRequest::new("bash", serde_json::json!({"command": "echo hi"})))
//!     .await?;
//! println!("{}", response.output);
//! # Ok(()) }
//! ```

pub mod bus;
pub mod context;
pub mod declarative;
#[cfg(feature = "docker")]
pub mod docker;
mod error;
pub mod executor;
#[cfg(feature = "journal")]
pub mod journal;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod launcher;
pub mod mcp;
pub mod metrics;
pub mod peer;
pub mod protocol;
pub mod providers;
mod remote;
pub mod server;
pub mod shell;
pub mod tool;
pub mod tools;
pub mod transport;
mod wire;

pub use context::CallContext;
pub use error::{CallError, SandboxEnded, ToolError};
pub use executor::{CallOptions, Executor, LocalExecutor, Outcome, Router};
pub use launcher::{Launcher, Sandbox, SandboxPool};
pub use peer::{InteractiveHandler, Peer, PeerConfig, TransferError, TransferOptions, Transferred};
pub use protocol::{Action, PermissionRule, ToolInfo, ToolRequest, ToolResponse};
pub use remote::RemoteExecutor;
pub use server::{Auth, ServerConfig, TokenDigest, ToolServer};
pub use tool::{Tool, TypedTool, typed};
pub use transport::{Endpoint, FrameTransport, WsConfig, WsTransport, channel_pair};
