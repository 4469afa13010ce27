//! MCP servers inside the sandbox: `toolwire-server --mcp-server
//! NAME=COMMAND` starts a stdio MCP server as a child — clean environment,
//! its own process group, the tool user, the workdir — lists its tools as
//! `NAME__tool` beside the built-ins, forwards calls, their cancellation
//! and the child's progress (as the call's output chunks, to a client that
//! asked for progress), and restarts it with backoff when it dies. Each of its
//! tools asks a permission named after it (`NAME__tool`) with its inputs as
//! patterns, so rules decide which third-party tools run with what inputs.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ContentBlock, NumberOrString, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use crate::bus::PermissionRequest;
use crate::context::CallContext;
use crate::error::ToolError;
use crate::executor::schema_problem;
use crate::protocol::{ToolInfo, ToolResponse};
use crate::tool::Tool;
use crate::tools::ToolsConfig;

use super::listing;
use super::progress::ChildClient;

/// Restarts back off from this, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a child may take to start (its `initialize`) and to list its
/// tools, unless the caller says otherwise: long enough for `npx` or `uvx`
/// to fetch a server, short enough that a child that never answers cannot
/// stall the server's start for good.
pub const CHILD_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A child that ran this long before it died restarts at once-ish again.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// `NAME=COMMAND ARGS…`: the name its tools are listed under, and the
/// command (split as a POSIX shell would, but never run by one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// The prefix of its tools' names.
    pub name: String,
    /// Program and arguments.
    pub argv: Vec<String>,
}

impl FromStr for ChildSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, command) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected NAME=COMMAND"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "{name:?}: an MCP server's name is letters, digits, '-' and '_'"
            ));
        }
        let argv = shlex::split(command)
            .filter(|argv| !argv.is_empty())
            .ok_or_else(|| format!("{command:?}: not a command (unbalanced quotes?)"))?;
        Ok(Self {
            name: name.to_owned(),
            argv,
        })
    }
}

/// How the child runs.
#[derive(Clone)]
struct Launch {
    spec: ChildSpec,
    config: Arc<ToolsConfig>,
    workdir: PathBuf,
    client: ChildClient,
    /// The bound on [`Launch::start`].
    timeout: Duration,
}

impl Launch {
    /// Starts the child and waits, [`Launch::timeout`] at most, for its
    /// `initialize` answer (the child is killed when it does not come).
    async fn start(&self) -> anyhow::Result<RunningService<RoleClient, ChildClient>> {
        tokio::time::timeout(self.timeout, self.spawn())
            .await
            .map_err(|_| {
                anyhow::anyhow!("it did not answer `initialize` within {:?}", self.timeout)
            })?
    }

    async fn spawn(&self) -> anyhow::Result<RunningService<RoleClient, ChildClient>> {
        let mut command = tokio::process::Command::new(&self.spec.argv[0]);
        command
            .args(&self.spec.argv[1..])
            .current_dir(&self.workdir)
            .env_clear()
            .envs(
                self.config
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .process_group(0)
            .kill_on_drop(true);
        if let Some(user) = self.config.tool_user {
            command.uid(user.uid).gid(user.gid);
        }
        let transport = TokioChildProcess::new(command)?;
        Ok(self.client.clone().serve(transport).await?)
    }
}

/// Starts the MCP server of `spec` and returns its tools, ready to register,
/// with the task that restarts it when it dies (dropping it stops that).
/// Starting and listing each wait `timeout` at most (see
/// [`CHILD_START_TIMEOUT`]); the tools served are those [`listing::list`]
/// keeps, and each one left out is logged with why.
///
/// # Errors
/// When the server cannot be started or its tools listed in time.
pub async fn start(
    spec: ChildSpec,
    config: Arc<ToolsConfig>,
    workdir: PathBuf,
    timeout: Duration,
) -> anyhow::Result<(Vec<Arc<dyn Tool>>, AbortOnDropHandle<()>)> {
    let launch = Launch {
        spec,
        config,
        workdir,
        client: ChildClient::default(),
        timeout,
    };
    let name = launch.spec.name.clone();
    let first = launch.start().await.map_err(|e| {
        anyhow::anyhow!(
            "MCP server `{name}` ({}) did not start: {e}",
            launch.spec.argv.join(" ")
        )
    })?;
    let listed = tokio::time::timeout(timeout, listing::list(first.peer(), schema_problem))
        .await
        .map_err(|_| {
            anyhow::anyhow!("MCP server `{name}` did not list its tools within {timeout:?}")
        })?
        .map_err(|e| anyhow::anyhow!("MCP server `{name}` did not list its tools: {e}"))?;
    for skipped in &listed.skipped {
        tracing::warn!(server = %name, "a tool of the MCP server is not served: {skipped}");
    }
    if listed.truncated {
        tracing::warn!(
            server = %name,
            "the MCP server lists more than {} tools or {} pages; the rest are not served",
            listing::MAX_CHILD_TOOLS,
            listing::MAX_LIST_PAGES
        );
    }
    let (current, peer) = watch::channel(Some(first.peer().clone()));
    let client = launch.client.clone();
    let supervisor = tokio::spawn(supervise(launch, first, current));
    let tools = listed
        .tools
        .into_iter()
        .map(|tool| {
            let info = ToolInfo {
                name: format!("{name}__{}", tool.name),
                description: tool.description.map(|d| d.to_string()).unwrap_or_default(),
                input_schema: Value::Object((*tool.input_schema).clone()),
            };
            Arc::new(ChildTool {
                server: name.clone(),
                remote: tool.name.to_string(),
                info,
                peer: peer.clone(),
                client: client.clone(),
            }) as Arc<dyn Tool>
        })
        .collect();
    Ok((tools, AbortOnDropHandle::new(supervisor)))
}

/// Waits for the child to end and starts it again, with backoff.
async fn supervise(
    launch: Launch,
    first: RunningService<RoleClient, ChildClient>,
    current: watch::Sender<Option<Peer<RoleClient>>>,
) {
    let name = &launch.spec.name;
    let mut running = Some(first);
    let mut backoff = FIRST_BACKOFF;
    loop {
        if let Some(service) = running.take() {
            let started = Instant::now();
            let _ = service.waiting().await;
            let _ = current.send(None);
            if started.elapsed() > STABLE_AFTER {
                backoff = FIRST_BACKOFF;
            }
            tracing::warn!(server = %name, ?backoff, "MCP server ended; restarting it");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        match launch.start().await {
            Ok(service) => {
                let _ = current.send(Some(service.peer().clone()));
                tracing::info!(server = %name, "MCP server restarted");
                running = Some(service);
            }
            Err(e) => tracing::warn!(server = %name, error = %e, "MCP server did not restart"),
        }
    }
}

/// One tool of a child MCP server.
struct ChildTool {
    server: String,
    remote: String,
    info: ToolInfo,
    peer: watch::Receiver<Option<Peer<RoleClient>>>,
    client: ChildClient,
}

/// A child's result as a response.
fn response(result: CallToolResult) -> ToolResponse {
    let text: String = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut response = if result.is_error == Some(true) {
        ToolResponse::failure(text)
    } else {
        ToolResponse::text(text)
    };
    if let Some(structured) = result.structured_content {
        response = response.with_metadata("structured", structured);
    }
    response
}

#[async_trait]
impl Tool for ChildTool {
    fn info(&self) -> ToolInfo {
        self.info.clone()
    }

    async fn call(&self, input: Value, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        ctx.ask_permission(PermissionRequest::for_inputs(&self.info.name, &input))
            .await?;
        let peer = self.peer.borrow().clone().ok_or_else(|| {
            ToolError::failed(format!(
                "MCP server `{}` is restarting; try again shortly",
                self.server
            ))
        })?;
        let mut params = CallToolRequestParams::new(self.remote.clone());
        if let Value::Object(arguments) = input {
            params = params.with_arguments(arguments);
        }
        let failed =
            |e: rmcp::ServiceError| ToolError::failed(format!("MCP server `{}`: {e}", self.server));
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
            .map_err(failed)?;
        let id = handle.id.clone();
        let _route = match (&handle.progress_token.0, ctx.wants_progress()) {
            (NumberOrString::Number(token), true) => Some(self.client.route(*token, ctx.clone())),
            _ => None,
        };
        // The request is sent by hand, not with `call_tool`, because only
        // its handle tells the progress token rmcp gave it.
        tokio::select! {
            result = handle.await_response() => match result.map_err(failed)? {
                ServerResult::CallToolResult(result) => Ok(response(result)),
                ServerResult::InputRequiredResult(_) => Err(ToolError::failed(format!(
                    "MCP server `{}` asked for input in the middle of a call (input_required), which toolwire does not answer",
                    self.server
                ))),
                _ => Err(ToolError::failed(format!(
                    "MCP server `{}` answered a tool call with something else",
                    self.server
                ))),
            },
            // Within the call's cancel grace: the child is told, as the spec says.
            () = ctx.cancel.cancelled() => {
                let cancelled = CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the caller".into()),
                );
                let _ = peer.notify_cancelled(cancelled).await;
                Err(ToolError::Cancelled)
            }
        }
    }
}
