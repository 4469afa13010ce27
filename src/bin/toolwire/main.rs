//! `toolwire`: build the sandbox image, launch sandboxes, call tools,
//! benchmark, clean up. Thin: the work is done by the library.

mod ask;
mod bench;
mod copy;
mod demo;
mod detached;
mod journal;
mod local;
mod mcp;
mod pods;
mod sandboxes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use toolwire::docker::{DockerLauncher, ImageConfig, LaunchConfig};
use toolwire::{Executor, PeerConfig, ToolRequest};

/// Run an LLM agent's tools in a hardened Docker sandbox over one WebSocket.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the image if needed, launch a sandbox and run a short agent session in it.
    Demo {
        /// Answer permission questions with "once" instead of asking on the terminal.
        #[arg(long)]
        yes: bool,
        /// Run the tools on THIS machine, unisolated, in a temporary directory
        /// (only when you mean it: nothing is sandboxed).
        #[arg(long)]
        local: bool,
        #[command(flatten)]
        journal: journal::JournalArgs,
    },
    /// Sandbox image commands.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Run one tool call in a fresh sandbox and print the response as JSON.
    Run {
        /// The tool, e.g. bash.
        tool: String,
        /// The input as JSON, e.g. '{"command":"ls -la"}'.
        input: String,
        /// Allow every permission instead of asking on the terminal.
        #[arg(long)]
        allow_all: bool,
        /// Run the tool on THIS machine, unisolated, in a temporary directory
        /// (only when you mean it: nothing is sandboxed).
        #[arg(long)]
        local: bool,
        #[command(flatten)]
        journal: journal::JournalArgs,
    },
    /// List the calls the journal recorded (`calls show ID` for one).
    Calls(journal::CallsArgs),
    /// Print the tools' definitions in a model API's format (no sandbox
    /// needed); `tools validate FILE` checks a tools file.
    Tools(sandboxes::ToolsArgs),
    /// Start a detached sandbox that later commands reach by name, and return.
    Up(sandboxes::UpArgs),
    /// Run one call in a detached sandbox and print the response as JSON.
    Call {
        /// The sandbox's name (from `toolwire up`).
        name: String,
        /// The tool, e.g. bash.
        tool: String,
        /// The input as JSON, e.g. '{"command":"ls -la"}'.
        input: String,
        /// Approve every permission ask (without it, an ask is asked on the
        /// terminal, or refused when there is none).
        #[arg(long)]
        allow_all: bool,
    },
    /// Run every tool call of a model's answer (read from stdin) in a
    /// detached sandbox and print the result message(s) in that API's format.
    Exec {
        /// The sandbox's name (from `toolwire up`).
        name: String,
        /// openai, openai-responses, anthropic, gemini or mcp.
        #[arg(long, value_parser = sandboxes::parse_format)]
        format: toolwire::providers::Format,
        /// Approve every permission ask (without it, an ask is asked on the
        /// terminal, or refused when there is none).
        #[arg(long)]
        allow_all: bool,
    },
    /// Launch a sandbox and serve its tools to an MCP client over stdio
    /// (until stdin closes).
    Mcp(mcp::McpArgs),
    /// Copy a file or directory into or out of a detached sandbox
    /// (NAME:path on the sandbox's side), with a progress bar.
    Cp(copy::CopyArgs),
    /// Remove a detached sandbox.
    Down {
        /// The sandbox's name (from `toolwire up`).
        name: String,
    },
    /// List toolwire containers or Pods (detached sandboxes by their name).
    Ps(pods::BackendArgs),
    /// Remove toolwire containers or Pods whose owning process is gone.
    Reap {
        /// Remove every toolwire container (Pod), also those of live processes.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        backend: pods::BackendArgs,
    },
    /// Measure toolwire against the floor (raw WebSocket echo, bare spawn, bare container start).
    Bench(bench::BenchArgs),
    /// (internal) A raw tokio-tungstenite JSON echo server: the benchmark's floor.
    #[command(hide = true)]
    EchoFloor {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Build the sandbox image (and its base image) if missing, and print its tag.
    Build,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The floor echo server runs on one thread, as toolwire-server does: for
    // one connection that is the fastest a raw echo can be.
    let mut runtime = match &cli.command {
        Command::EchoFloor { .. } => tokio::runtime::Builder::new_current_thread(),
        Command::Bench(args) if args.current_thread => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = runtime.enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Demo {
                yes,
                local,
                journal,
            } => demo::run(yes, local, &journal).await,
            Command::Calls(args) => journal::calls(&args),
            Command::Image {
                command: ImageCommand::Build,
            } => {
                let launcher = connect().await?;
                let tag = ensure_image(&launcher).await?;
                println!("{tag}");
                Ok(())
            }
            Command::Run {
                tool,
                input,
                allow_all,
                local,
                journal,
            } => run_one(&tool, &input, allow_all, local, &journal).await,
            Command::Tools(args) => sandboxes::tools(&args),
            Command::Up(args) => sandboxes::up(args).await,
            Command::Call {
                name,
                tool,
                input,
                allow_all,
            } => sandboxes::call(&name, &tool, &input, allow_all).await,
            Command::Exec {
                name,
                format,
                allow_all,
            } => sandboxes::exec(&name, format, allow_all).await,
            Command::Down { name } => sandboxes::down(&name).await,
            Command::Cp(args) => copy::run(&args).await,
            Command::Mcp(args) => mcp::run(args).await,
            Command::Ps(args) => sandboxes::ps(&args).await,
            Command::Reap { all, backend } => {
                backend.check()?;
                if backend.backend == detached::Backend::Kubernetes {
                    let removed = pods::reap(backend.namespace.as_deref(), all).await?;
                    println!("removed {removed} Pod(s)");
                    return Ok(());
                }
                let launcher = connect().await?;
                let removed = if all {
                    launcher.remove_all().await?
                } else {
                    launcher.reap().await?
                };
                println!("removed {removed} container(s)");
                Ok(())
            }
            Command::Bench(args) => bench::run(args).await,
            Command::EchoFloor { listen } => bench::echo_floor_server(&listen).await,
        }
    })
}

/// Connects to the Docker engine (reaping orphans on the way). Without one
/// nothing runs: running unisolated takes `--local`, said by name.
async fn connect() -> anyhow::Result<DockerLauncher> {
    DockerLauncher::connect(ImageConfig::default())
        .await
        .context("no sandbox can be launched; to run tools on this machine without isolation, pass --local")
}

/// Ensures the image, showing progress on a spinner.
async fn ensure_image(launcher: &DockerLauncher) -> anyhow::Result<String> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("checking the sandbox image");
    let progress = {
        let spinner = spinner.clone();
        move |line: &str| spinner.set_message(line.chars().take(100).collect::<String>())
    };
    let tag = launcher.ensure_image(&progress).await;
    spinner.finish_and_clear();
    Ok(tag?)
}

async fn run_one(
    tool: &str,
    input: &str,
    allow_all: bool,
    local: bool,
    journal: &journal::JournalArgs,
) -> anyhow::Result<()> {
    let input: serde_json::Value =
        serde_json::from_str(input).context("the input is not valid JSON")?;
    let recorder = journal.recorder()?;
    let mut peer = PeerConfig::default().interactive(Arc::new(ask::TerminalAsker::new(allow_all)));
    if let Some(recorder) = &recorder {
        peer = recorder.peer_config(peer, true);
    }
    let mut request = ToolRequest::new(tool, input);
    request.session_id = journal::session_id("run");
    let session = request.session_id.clone();
    let rules = if allow_all {
        vec![toolwire::PermissionRule::new(
            "*",
            "*",
            toolwire::Action::Allow,
        )]
    } else {
        Vec::new()
    };
    let response = if local {
        let local = local::LocalSandbox::start(peer).await?;
        local.executor.set_rules(rules).await?;
        let response = journaled(recorder.as_ref(), &local.executor, request).await;
        local.stop().await;
        response
    } else {
        let launcher = connect().await?;
        ensure_image(&launcher).await?;
        let sandbox = launcher
            .launch(LaunchConfig::default().session("run").peer(peer))
            .await?;
        sandbox.executor().set_rules(rules).await?;
        let response = journaled(recorder.as_ref(), sandbox.executor(), request).await;
        sandbox.shutdown().await?;
        response
    };
    if let Some(recorder) = &recorder {
        recorder.journal().flush().await;
        eprintln!(
            "journaled as session {session} in {} (toolwire calls --session {session})",
            recorder.journal().path().display()
        );
    }
    println!("{}", serde_json::to_string_pretty(&response?)?);
    Ok(())
}

/// Runs `request` through `executor`, journaled when there is a recorder.
pub async fn journaled(
    recorder: Option<&toolwire::journal::Recorder>,
    executor: &toolwire::RemoteExecutor,
    request: ToolRequest,
) -> Result<toolwire::ToolResponse, toolwire::CallError> {
    match recorder {
        Some(recorder) => recorder.executor(executor).execute(request).await,
        None => executor.execute(request).await,
    }
}
