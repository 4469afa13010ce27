//! `toolwire mcp`: launches a sandbox and serves its tools to an MCP
//! client over stdio (an agent host lists `toolwire mcp` as a server
//! command); the sandbox goes away when stdin closes. stdout carries only
//! MCP; notes go to stderr.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use toolwire::docker::{LaunchConfig, Network};
use toolwire::{Action, Executor, PeerConfig, PermissionRule, RemoteExecutor};

/// `toolwire mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve the tools of this tools file too.
    #[arg(long, value_name = "FILE")]
    tools_file: Option<PathBuf>,
    /// `none` (default: no network at all) or `bridge`.
    #[arg(long, value_enum, default_value_t = McpNetwork::None)]
    network: McpNetwork,
    /// The permission rules: a JSON array of `{"permission", "pattern", "action"}`.
    #[arg(long, value_name = "FILE", conflicts_with = "allow_all")]
    rules: Option<PathBuf>,
    /// Allow every permission (without rules, every call that needs one is
    /// refused with an error result naming it).
    #[arg(long)]
    allow_all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum McpNetwork {
    None,
    Bridge,
}

/// Launches the sandbox, serves MCP on stdio until stdin closes, removes it.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let rules = match (&args.rules, args.allow_all) {
        (Some(path), _) => PermissionRule::read_file(path)?,
        (None, true) => vec![PermissionRule::new("*", "*", Action::Allow)],
        (None, false) => Vec::new(),
    };
    // Asks go to the MCP client's person through elicitation and progress to
    // its progress token, call by call (CallOptions::asker, ::progress); a
    // call whose client cannot elicit is refused, chunks of a call without a
    // token are dropped.
    let peer = PeerConfig::default()
        .interactive(Arc::new(crate::ask::TerminalAsker::refusing()))
        .on_progress(|_, _| {});
    let mut config =
        LaunchConfig::default()
            .session("mcp")
            .peer(peer)
            .network(match args.network {
                McpNetwork::None => Network::None,
                McpNetwork::Bridge => Network::Bridge,
            });
    if let Some(file) = &args.tools_file {
        toolwire::declarative::ToolsFile::load(file)?;
        config = config.tools_file(file);
    }
    let launcher = crate::connect().await?;
    crate::ensure_image(&launcher).await?;
    let sandbox = launcher.launch(config).await?;
    eprintln!(
        "toolwire mcp: sandbox {} ready; serving MCP on stdio",
        sandbox.name()
    );
    let served = async {
        sandbox.executor().set_rules(rules).await?;
        let executor: Arc<dyn Executor> =
            Arc::new(RemoteExecutor::new(sandbox.executor().peer().clone()));
        toolwire::mcp::serve_stdio(executor).await
    }
    .await;
    sandbox.shutdown().await?;
    launcher.drain().await;
    eprintln!("toolwire mcp: stdin closed; sandbox removed");
    served
}
