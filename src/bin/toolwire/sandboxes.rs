//! Commands for orchestrators in any language: `up` starts a detached
//! sandbox, `call` and `exec` run calls in it, `down` removes it, `tools`
//! prints the tool definitions in a model API's format. stdout carries only
//! the JSON result; notes and prompts go to stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use toolwire::declarative::{Credentials, ToolsFile};
use toolwire::docker::{LaunchConfig, Network};
use toolwire::providers::{ExportOptions, Format, run_calls};
use toolwire::tools::ToolsConfig;
use toolwire::{CallOptions, Executor, Peer, PeerConfig, RemoteExecutor, ToolRequest, WsConfig};

use crate::ask::TerminalAsker;
use crate::detached::{self, Backend, Detached};
use crate::pods::{self, BackendArgs};

/// `toolwire up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The sandbox's name for later commands (default: a random one).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// The image the cluster pulls (`--backend kubernetes`; default
    /// toolwire-sandbox:latest, see docs/KUBERNETES.md for getting it there).
    #[arg(long)]
    pub image: Option<String>,
    /// `bridge` (the server's port published on 127.0.0.1 only) or `none`
    /// (no network at all; the server listens on a Unix socket).
    #[arg(long, value_enum, default_value_t = NetworkArg::Bridge)]
    pub network: NetworkArg,
    /// A host directory to mount as /workspace (default: the sandbox's own
    /// empty workspace of at most --workspace-limit).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Size limit of the sandbox's own workspace (e.g. 512MiB, 2GiB): a
    /// write past it fails with "No space left on device" in the sandbox.
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "2GiB",
        conflicts_with = "workspace"
    )]
    pub workspace_limit: bytesize::ByteSize,
    /// Remove the sandbox after this long with no client and no call
    /// (e.g. 30s, 10m, 2h), so a forgotten one does not live forever; 0
    /// keeps it until `toolwire down`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub idle_timeout: Duration,
    /// Print `{"name", "url", "token_file", "container"}` as JSON.
    #[arg(long)]
    json: bool,
    /// Serve the tools of this tools file in the sandbox too.
    #[arg(long, value_name = "FILE")]
    pub tools_file: Option<PathBuf>,
}

/// A sandbox's network, as clap reads it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NetworkArg {
    /// Docker's bridge, the server's port published on 127.0.0.1 (on
    /// Kubernetes: the cluster network, reached through a port-forward).
    Bridge,
    /// No network; the WebSocket runs over a Unix socket (on Kubernetes: a
    /// NetworkPolicy denies all egress).
    None,
}

impl From<NetworkArg> for Network {
    fn from(arg: NetworkArg) -> Self {
        match arg {
            NetworkArg::Bridge => Network::Bridge,
            NetworkArg::None => Network::None,
        }
    }
}

/// A model API's tool format, as clap reads it.
pub fn parse_format(text: &str) -> Result<Format, String> {
    text.parse().map_err(|_| {
        format!(
            "unknown format {text:?}; one of: {}",
            <Format as strum::VariantNames>::VARIANTS.join(", ")
        )
    })
}

/// Starts a detached sandbox and records how to reach it.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    args.backend.check()?;
    let dir = detached::state_dir()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("sbx-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    detached::check_name(&name)?;
    if detached::exists(&dir, &name) {
        bail!("a sandbox named {name:?} is up already (toolwire down {name} removes it)");
    }
    if args.workspace_limit.as_u64() < 1 << 20 {
        bail!("the workspace limit must be at least 1 MiB");
    }
    if let Some(file) = &args.tools_file {
        // Refused here, with the document and field, before anything starts.
        served_tools(Some(file), None)?;
    }
    let state = match args.backend.backend {
        Backend::Docker => {
            if args.image.is_some() {
                bail!(
                    "--image is for --backend kubernetes (Docker sandboxes use the image toolwire image build makes)"
                );
            }
            up_container(&args, &name, &dir).await?
        }
        Backend::Kubernetes => pods::up(&args, &name, &dir).await?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&state)?);
    } else {
        println!("{name}");
        eprintln!(
            "sandbox {name} is up ({}); toolwire call {name} TOOL JSON, toolwire down {name}",
            state.url
        );
    }
    Ok(())
}

/// A detached container, recorded in `dir`.
async fn up_container(args: &UpArgs, name: &str, dir: &Path) -> anyhow::Result<Detached> {
    let mut config = LaunchConfig::default()
        .session(name)
        .detached(true)
        .network(args.network.into());
    if let Some(workspace) = &args.workspace {
        let workspace = workspace
            .canonicalize()
            .with_context(|| format!("the workspace {} does not exist", workspace.display()))?;
        config = config.workspace(workspace);
    }
    if !args.idle_timeout.is_zero() {
        config = config.idle_timeout(args.idle_timeout);
    }
    let limit =
        i64::try_from(args.workspace_limit.as_u64()).context("the workspace limit is too large")?;
    config = config.workspace_limit_bytes(limit);
    if let Some(file) = &args.tools_file {
        config = config.tools_file(file);
    }
    let launcher = crate::connect().await?;
    crate::ensure_image(&launcher).await?;
    let sandbox = launcher.launch(config).await?;
    let handle = sandbox.detach().await?;
    let state = Detached {
        name: name.to_owned(),
        backend: Backend::Docker,
        url: Detached::url_of(&handle.endpoint),
        token_file: detached::token_file(dir, name),
        container: handle.id.clone(),
        namespace: None,
        socket_dir: handle.socket_dir.clone(),
    };
    if let Err(e) = detached::save(dir, &state, &handle.token) {
        let _ = launcher.remove(&handle.id).await;
        detached::forget(dir, &state);
        return Err(e.context("could not record the sandbox; it was removed"));
    }
    Ok(state)
}

/// Connects to the detached sandbox `name`; asks are answered by
/// [`TerminalAsker`] (approved with `allow_all`, refused without a terminal).
pub async fn connect_to(name: &str, allow_all: bool) -> anyhow::Result<RemoteExecutor> {
    let state = detached::load(&detached::state_dir()?, name)?;
    let peer_config = PeerConfig::default().interactive(Arc::new(TerminalAsker::new(allow_all)));
    let peer = match state.backend {
        Backend::Docker => Peer::connect(
            &state.endpoint(),
            Some(&state.token()?),
            &WsConfig::default(),
            peer_config,
        )
        .await
        .with_context(|| {
            format!("could not reach sandbox {name:?} (is it still up? toolwire ps)")
        })?,
        Backend::Kubernetes => pods::reconnect(&state, peer_config).await?,
    };
    Ok(RemoteExecutor::new(Arc::new(peer)))
}

/// `toolwire call NAME TOOL JSON`: one call, the response as JSON.
pub async fn call(name: &str, tool: &str, input: &str, allow_all: bool) -> anyhow::Result<()> {
    let input: serde_json::Value =
        serde_json::from_str(input).context("the input is not valid JSON")?;
    let executor = connect_to(name, allow_all).await?;
    let mut request = ToolRequest::new(tool, input);
    request.session_id = name.to_owned();
    let response = executor.execute(request).await;
    executor.close().await;
    println!("{}", serde_json::to_string_pretty(&response?)?);
    Ok(())
}

/// `toolwire exec NAME --format F`: every tool call of the model's answer on
/// stdin, the result message(s) in that format on stdout.
pub async fn exec(name: &str, format: Format, allow_all: bool) -> anyhow::Result<()> {
    detached::load(&detached::state_dir()?, name)?;
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("read the model's answer from stdin")?;
    let answer: serde_json::Value =
        serde_json::from_str(&text).context("stdin is not valid JSON")?;
    let calls = format.parse_calls(&answer)?;
    let results = if calls.is_empty() {
        Vec::new()
    } else {
        let executor = connect_to(name, allow_all).await?;
        let results = run_calls(&executor, &calls, name, &CallOptions::default()).await;
        executor.close().await;
        results
    };
    eprintln!("{} call(s) run in {name}", calls.len());
    let messages = format.result_messages(&calls, &results);
    println!("{}", serde_json::to_string_pretty(&messages)?);
    Ok(())
}

/// `toolwire down NAME`: removes the container (or Pod) and forgets the sandbox.
pub async fn down(name: &str) -> anyhow::Result<()> {
    let dir = detached::state_dir()?;
    let state = detached::load(&dir, name)?;
    match state.backend {
        Backend::Docker => crate::connect().await?.remove(&state.container).await?,
        Backend::Kubernetes => pods::down(&state).await?,
    }
    detached::forget(&dir, &state);
    eprintln!("sandbox {name} removed");
    Ok(())
}

/// `toolwire tools`.
#[derive(Debug, Args)]
pub struct ToolsArgs {
    #[command(subcommand)]
    command: Option<ToolsCommand>,
    /// openai, openai-responses, anthropic, gemini or mcp.
    #[arg(long, default_value = "openai", value_parser = parse_format)]
    format: Format,
    /// OpenAI strict mode (every object closed, optional properties nullable).
    #[arg(long)]
    strict: bool,
    /// Also the tools of this tools file, as `toolwire-server --tools-file` serves them.
    #[arg(long, value_name = "FILE")]
    tools_file: Option<PathBuf>,
    /// Only this toolset of the tools file.
    #[arg(long, requires = "tools_file")]
    toolset: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum ToolsCommand {
    /// Check a tools file: exit 0, or the error naming the document and field.
    Validate {
        /// The tools file.
        file: PathBuf,
    },
}

/// The built-ins with the tools of `file` (of `toolset`), as the server
/// would serve them: a name clash with a built-in is an error here too.
fn served_tools(
    file: Option<&std::path::Path>,
    toolset: Option<&str>,
) -> anyhow::Result<Vec<toolwire::ToolInfo>> {
    let config = Arc::new(ToolsConfig::default());
    let executor = toolwire::tools::executor(std::env::temp_dir(), (*config).clone())?;
    if let Some(path) = file {
        let tools = ToolsFile::load(path)?;
        tools.register(&executor, &config, &Credentials::default(), toolset)?;
    }
    Ok(executor.tool_infos())
}

/// `toolwire tools [validate FILE]`.
pub fn tools(args: &ToolsArgs) -> anyhow::Result<()> {
    if let Some(ToolsCommand::Validate { file }) = &args.command {
        let loaded = ToolsFile::load(file)?;
        served_tools(Some(file), None)?;
        println!(
            "{}: {} tool(s), toolsets: {}",
            file.display(),
            loaded.tool_infos().len(),
            loaded.toolsets().collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    let infos = served_tools(args.tools_file.as_deref(), args.toolset.as_deref())?;
    let options = ExportOptions::default().strict(args.strict);
    let definitions = args.format.tool_definitions(&infos, options)?;
    println!("{}", serde_json::to_string_pretty(&definitions)?);
    Ok(())
}

/// `toolwire ps`: every toolwire container (or Pod); a detached sandbox
/// shows the name `up` gave it, and one whose container is gone is said so.
pub async fn ps(args: &BackendArgs) -> anyhow::Result<()> {
    args.check()?;
    if args.backend == Backend::Kubernetes {
        return pods::ps(args.namespace.as_deref()).await;
    }
    let launcher = crate::connect().await?;
    let containers = launcher.list().await?;
    let recorded: Vec<Detached> = detached::all(&detached::state_dir()?)
        .into_iter()
        .filter(|d| d.backend == Backend::Docker)
        .collect();
    println!(
        "{:<16} {:<14} {:<44} {:<10} OWNER",
        "SANDBOX", "ID", "CONTAINER", "STATE"
    );
    for c in &containers {
        println!(
            "{:<16} {:<14} {:<44} {:<10} {}",
            detached::name_of(&recorded, &c.id),
            &c.id[..12.min(c.id.len())],
            c.name,
            c.state,
            c.owner
        );
    }
    detached::report_gone(
        &recorded,
        containers.iter().map(|c| c.id.as_str()),
        "container",
    );
    Ok(())
}
