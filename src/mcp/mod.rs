//! The MCP face: any [`Executor`]'s tools served to MCP clients with the
//! official Rust SDK (rmcp) — over streamable HTTP (`toolwire-server
//! --mcp`, at `/mcp` behind the bearer token) or stdio (`toolwire mcp`).
//!
//! | MCP | toolwire |
//! |---|---|
//! | `tools/list` | the executor's (active) tools with their input schemas |
//! | `tools/call` | one call through the executor: validation, permissions, timeout |
//! | result | the output as text content, `isError` for a failed or refused call, the metadata as `structuredContent` |
//! | `notifications/cancelled` | the call is cancelled (bash's process group dies); no reply is sent |
//! | `_meta.progressToken` | the call's output chunks as `notifications/progress` |
//! | a permission ask or a `question` no rule answers | an elicitation form, when the client supports elicitation; otherwise an error result naming the permission and its patterns |
//!
//! Over HTTP, each answer's event stream can be resumed with
//! `Last-Event-ID` after a dropped connection, also once the call has
//! ended: [`ReplayStore`] keeps the events a while.
//!
//! The other direction — an MCP server someone downloaded, run inside the
//! sandbox, its tools served through toolwire behind the permission rules —
//! is `child` ([`ChildSpec`], [`start_child`]; `toolwire-server --mcp-server`), whose progress `progress` routes to its calls;
//! [`listing`] decides which of the child's listed tools are served.

mod child;
mod elicit;
pub mod listing;
mod progress;
mod replay;
mod rounds;

pub use replay::{
    EVENTS_PER_STREAM, KEPT_AFTER_END, MAX_BYTES, MAX_STREAMS, ReplayError, ReplayStore,
};
pub use rounds::{MAX_SUSPENDED, SUSPENDED_FOR};

pub use child::{CHILD_START_TIMEOUT, ChildSpec, start as start_child};

use std::sync::Arc;

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{Peer, RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServiceExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::context::ProgressSink;
use crate::executor::{CallOptions, Executor};
use crate::protocol::{ToolInfo, ToolRequest};
use crate::providers::ToolResult;

/// Serves an executor's tools to one MCP client.
#[derive(Clone)]
pub struct McpFace {
    executor: Arc<dyn Executor>,
    /// Calls waiting for a person's answer, shared by the faces of one
    /// server (a retry may come in another MCP session).
    suspended: Arc<rounds::Suspended>,
}

impl std::fmt::Debug for McpFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpFace").finish_non_exhaustive()
    }
}

impl McpFace {
    /// A face for `executor`'s tools.
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        Self::sharing(executor, Arc::default())
    }

    fn sharing(executor: Arc<dyn Executor>, suspended: Arc<rounds::Suspended>) -> Self {
        Self {
            executor,
            suspended,
        }
    }
}

/// The MCP shape of a tool.
fn mcp_tool(info: ToolInfo) -> Tool {
    let schema = match info.input_schema {
        Value::Object(object) => object,
        _ => serde_json::Map::new(),
    };
    Tool::new(info.name, info.description, Arc::new(schema))
}

/// The MCP shape of a call's result.
fn mcp_result(result: ToolResult) -> CallToolResult {
    let content = vec![ContentBlock::text(result.text)];
    let mut mcp = if result.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    mcp.structured_content = result.structured;
    mcp
}

/// Chunks waiting for a slow client at most; more are dropped (progress is
/// advisory, the result carries the whole output), so a sandbox that floods
/// progress cannot grow this process.
const PROGRESS_BACKLOG: usize = 256;

/// Forwards a call's output chunks, in order, as progress notifications.
struct ProgressForward {
    chunks: mpsc::Sender<String>,
}

impl ProgressSink for ProgressForward {
    fn chunk(&self, text: &str) {
        let _ = self.chunks.try_send(text.to_owned());
    }
}

/// Sends `chunks` as `notifications/progress` for `token` until the call
/// drops its sender.
async fn forward_progress(
    peer: Peer<RoleServer>,
    token: rmcp::model::ProgressToken,
    mut chunks: mpsc::Receiver<String>,
) {
    let mut count = 0.0;
    while let Some(chunk) = chunks.recv().await {
        count += 1.0;
        let param = ProgressNotificationParam::new(token.clone(), count).with_message(chunk);
        if peer.notify_progress(param).await.is_err() {
            return;
        }
    }
}

impl ServerHandler for McpFace {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("toolwire", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools of a toolwire sandbox: bash, read, write, edit, ls, glob, grep and any \
                 declared tools. Calls are checked against the sandbox's permission rules.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = self
            .executor
            .tools()
            .await
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(ListToolsResult::with_all_items(
            tools.into_iter().map(mcp_tool).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let route = rounds::FormRoute::for_request(&context, &self.suspended);
        let running = match &request.request_state {
            // A retry with a person's answer: drive the suspended call on.
            Some(state) => self
                .suspended
                .resume(state, request.input_responses.as_ref())
                .ok_or_else(|| {
                    McpError::invalid_params(
                        "unknown or expired requestState (the suspended call is gone)",
                        None,
                    )
                })?,
            None => self.start(request, &context, route.is_some()),
        };
        Ok(
            match rounds::drive(running, route.as_ref(), &context.ct).await {
                rounds::Driven::Done(result) => mcp_result(ToolResult::from_call(result)).into(),
                rounds::Driven::InputRequired(response) => response,
            },
        )
    }
}

impl McpFace {
    /// Starts one call (not yet polled): its progress goes to the client
    /// when it sent a progress token, its asks to the driver when `asks`.
    fn start(
        &self,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
        asks: bool,
    ) -> rounds::RunningCall {
        let input = request
            .arguments
            .map_or_else(|| Value::Object(serde_json::Map::new()), Value::Object);
        let mut call = ToolRequest::new(request.name.to_string(), input);
        call.session_id = "mcp".to_owned();
        let cancel = CancellationToken::new();
        let mut options = CallOptions::default().cancel(cancel.clone());
        let (form_sender, forms) = mpsc::channel(1);
        if asks {
            options = options.asker(Arc::new(elicit::FormAsker { forms: form_sender }));
        }
        let mut progress = None;
        if let Some(token) = context.meta.get_progress_token() {
            let (chunks, receiver) = mpsc::channel(PROGRESS_BACKLOG);
            options = options.progress(Arc::new(ProgressForward { chunks }));
            progress = Some(forward_progress(context.peer.clone(), token, receiver));
        }
        let executor = self.executor.clone();
        let call = Box::pin(async move {
            let Some(progress) = progress else {
                return executor.execute_with(call, options).await;
            };
            // Every chunk is sent before the result: the forwarder ends when
            // the call drops its sink.
            let (result, ()) = tokio::join!(executor.execute_with(call, options), progress);
            result
        });
        rounds::RunningCall {
            call,
            forms,
            cancel,
        }
    }
}

/// The streamable HTTP service of the MCP face (one [`McpFace`] per MCP
/// session), to mount at `/mcp`; `cancel` ends its sessions.
pub fn http_service(
    executor: Arc<dyn Executor>,
    cancel: CancellationToken,
) -> StreamableHttpService<McpFace, LocalSessionManager> {
    let suspended = Arc::<rounds::Suspended>::default();
    // Every event is kept a while, so a client whose connection dropped
    // resumes its stream with `Last-Event-ID` — also after the call ended.
    let sessions =
        LocalSessionManager::default().with_event_store(Arc::new(ReplayStore::default()));
    StreamableHttpService::new(
        move || Ok(McpFace::sharing(executor.clone(), suspended.clone())),
        sessions.into(),
        // A stateless (2026-07-28) call that sends nothing before its
        // result is answered with one JSON body instead of an event stream;
        // sessions (earlier versions) are unchanged.
        StreamableHttpServerConfig::default()
            .with_json_response(true)
            .with_cancellation_token(cancel),
    )
}

/// Serves the MCP face over this process's stdin and stdout until the
/// client closes stdin.
///
/// # Errors
/// When the MCP session cannot start or ends with an error.
pub async fn serve_stdio(executor: Arc<dyn Executor>) -> anyhow::Result<()> {
    let running = McpFace::new(executor)
        .serve(rmcp::transport::stdio())
        .await?;
    running.waiting().await?;
    Ok(())
}
