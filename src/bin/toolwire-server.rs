//! `toolwire-server`: the tool server that runs inside the sandbox container.
//!
//! Serves the built-in tools at `/ws` (+ `GET /health`) on a TCP address or a
//! Unix socket. The bearer token comes from a file that is read once and
//! deleted; only its digest stays in memory. Prints one `ready` line once it
//! accepts connections and drains gracefully on SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use toolwire::server::{Auth, ServerConfig, TokenDigest, ToolServer};
use toolwire::tools::user::ToolUser;
use toolwire::tools::{self, ToolsConfig};

/// The toolwire tool server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TCP address to listen on, e.g. 0.0.0.0:7000 (port 0 picks a free port).
    #[arg(long, conflicts_with = "unix")]
    listen: Option<String>,
    /// Unix socket to listen on instead of TCP (for containers without a network).
    #[arg(long)]
    unix: Option<PathBuf>,
    /// Directory the tools work in.
    #[arg(long, default_value = "/workspace")]
    workdir: PathBuf,
    /// File holding the bearer token; read once at start and deleted.
    #[arg(long, conflicts_with = "insecure_no_auth")]
    token_file: Option<PathBuf>,
    /// Accept clients without a token (local experiments only).
    #[arg(long)]
    insecure_no_auth: bool,
    /// Calls in flight per connection before `busy` errors.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Default per-call timeout in milliseconds.
    #[arg(long, default_value_t = 600_000)]
    call_timeout_ms: u64,
    /// Bytes of command output kept per call.
    #[arg(long, default_value_t = 50 * 1024)]
    output_cap_bytes: usize,
    /// Also serve the `echo` and `sleep` tools (for benchmarks).
    #[arg(long)]
    bench_tools: bool,
    /// Seconds in-flight calls get to finish on shutdown.
    #[arg(long, default_value_t = 5)]
    shutdown_grace_secs: u64,
    /// Shut down after this many seconds with no client connected and no
    /// call running (0: never).
    #[arg(long, default_value_t = 0)]
    idle_timeout_secs: u64,
    /// Run bash as this UID:GID and let the file tools act as it, so that no
    /// tool can signal, trace or replace the server (needs CAP_SETUID,
    /// CAP_SETGID and CAP_KILL; the Docker launcher passes 1000:1000).
    #[arg(long, value_name = "UID:GID")]
    tool_user: Option<ToolUser>,
    /// Serve the tools of this tools file (HTTP and command tools) beside the
    /// built-ins; it is reloaded when it changes or on SIGHUP.
    #[arg(long, value_name = "FILE")]
    tools_file: Option<PathBuf>,
    /// Serve only this toolset of the tools file.
    #[arg(long, requires = "tools_file")]
    toolset: Option<String>,
    /// Also serve the tools over MCP (streamable HTTP) at `/mcp`, behind the
    /// same bearer token; MCP calls share the rules and state of `/ws`.
    #[arg(long)]
    mcp: bool,
    /// Start a stdio MCP server inside the sandbox and serve its tools as
    /// `NAME__tool` (each under a permission of that name, its inputs as
    /// patterns). Repeatable. COMMAND is split as a shell would, never run by one.
    #[arg(long, value_name = "NAME=COMMAND")]
    mcp_server: Vec<toolwire::mcp::ChildSpec>,
    /// How long an `--mcp-server` may take to answer `initialize`, and then
    /// to list its tools, before the server gives up on it (at start, and at
    /// each restart), e.g. `90s`, `2m`. The default is
    /// `toolwire::mcp::CHILD_START_TIMEOUT`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
    mcp_start_timeout: std::time::Duration,
    /// The initial permission rules: a JSON array of
    /// `{"permission", "pattern", "action"}` (as `set_rules` carries them).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

/// The log filter without `RUST_LOG`: rmcp logs each stateless MCP request
/// (2026-07-28) twice at `info`, with the client's whole description.
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

fn main() -> anyhow::Result<()> {
    make_non_dumpable();
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(user) = &args.tool_user {
        user.check_capabilities()
            .map_err(|e| anyhow::anyhow!("--tool-user: {e}"))?;
    }
    let auth = auth_from(&args)?;
    // One thread: the sandbox gets one CPU by default, and on one thread the
    // hand-offs between a session's reader, its calls and its writer are
    // plain queue pushes instead of cross-thread wake-ups. Blocking file work
    // still runs on tokio's blocking pool.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(args, auth))
}

/// Tools run as the same user; without this they could read the server's
/// memory through `/proc/<pid>/mem` or ptrace.
fn make_non_dumpable() {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes a flag of this process;
    // the remaining arguments are ignored for this option.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc != 0 {
        eprintln!("warning: could not make the process non-dumpable");
    }
}

fn auth_from(args: &Args) -> anyhow::Result<Auth> {
    match (&args.token_file, args.insecure_no_auth) {
        (Some(path), _) => Ok(Auth::Token(read_token_once(path)?)),
        (None, true) => {
            tracing::warn!("--insecure-no-auth: any local client can run tools");
            Ok(Auth::InsecureNoAuth)
        }
        (None, false) => {
            bail!("give --token-file FILE (or --insecure-no-auth for local experiments)")
        }
    }
}

/// Reads the token, checks it, deletes the file, keeps only the digest. A
/// token that cannot be used is refused before the file is deleted, so the
/// file is still there to fix.
fn read_token_once(path: &Path) -> anyhow::Result<TokenDigest> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let digest =
        TokenDigest::of(&token).with_context(|| format!("token file {}", path.display()))?;
    drop(token);
    std::fs::remove_file(path)
        .with_context(|| format!("cannot delete the token file {}", path.display()))?;
    Ok(digest)
}

async fn serve(args: Args, auth: Auth) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.workdir)
        .with_context(|| format!("cannot create the workdir {}", args.workdir.display()))?;
    let workdir = args
        .workdir
        .canonicalize()
        .context("cannot resolve the workdir")?;
    let tools_config = {
        let mut tools = ToolsConfig::default().output_cap_bytes(args.output_cap_bytes);
        tools.tool_user = args.tool_user;
        std::sync::Arc::new(tools)
    };
    let mut executor = tools::executor(&workdir, (*tools_config).clone())?;
    if args.bench_tools {
        executor.register_deferred(toolwire::typed(tools::bench::Echo))?;
        executor.register_deferred(toolwire::typed(tools::bench::Sleep))?;
    }
    let config = ServerConfig::default()
        .max_in_flight(args.max_in_flight)
        .call_timeout(Duration::from_millis(args.call_timeout_ms))
        .shutdown_grace(Duration::from_secs(args.shutdown_grace_secs))
        .tool_user(args.tool_user);
    let config = if args.idle_timeout_secs > 0 {
        config.idle_timeout(Duration::from_secs(args.idle_timeout_secs))
    } else {
        config
    };
    if let Some(path) = &args.rules {
        executor
            .shared()
            .permissions
            .set_rules(toolwire::PermissionRule::read_file(path)?);
    }
    let executor = std::sync::Arc::new(executor);
    // Owns the watcher: the file is watched while the server runs.
    let _tools_file = match &args.tools_file {
        Some(path) => {
            let (watcher, _reloads) = toolwire::declarative::watch(
                path,
                executor.clone(),
                tools_config.clone(),
                toolwire::declarative::Credentials::default(),
                args.toolset.clone(),
            )?;
            Some(watcher)
        }
        None => None,
    };
    // Own the MCP servers' supervisors: they restart them while we run.
    // Those of the tools file (`kind: mcpServer`) are read once, here.
    let mut children = args.mcp_server.clone();
    if let Some(path) = &args.tools_file {
        let file = toolwire::declarative::ToolsFile::load(path)?;
        for def in file.mcp_servers() {
            if children.iter().any(|c| c.name == def.name) {
                anyhow::bail!(
                    "the MCP server `{}` is named twice (--mcp-server and {})",
                    def.name,
                    path.display()
                );
            }
            children.push(toolwire::mcp::ChildSpec {
                name: def.name.clone(),
                argv: def.argv.clone(),
            });
        }
    }
    let mut _mcp_children = Vec::new();
    for spec in &children {
        let (tools, supervisor) = toolwire::mcp::start_child(
            spec.clone(),
            tools_config.clone(),
            workdir.clone(),
            args.mcp_start_timeout,
        )
        .await?;
        tracing::info!(server = %spec.name, tools = tools.len(), "MCP server started");
        executor.replace_group(&format!("mcp-server:{}", spec.name), tools)?;
        _mcp_children.push(supervisor);
    }
    let mut server = ToolServer::new(executor, auth, config);
    // Ends the MCP sessions when the server stops.
    let mcp_sessions = tokio_util::sync::CancellationToken::new();
    let _mcp_sessions_end = mcp_sessions.clone().drop_guard();
    if args.mcp {
        let executor: std::sync::Arc<dyn toolwire::Executor> = std::sync::Arc::new(server.clone());
        server = server.with_service("/mcp", toolwire::mcp::http_service(executor, mcp_sessions));
    }
    release_startup_memory();
    match (&args.unix, &args.listen) {
        (Some(path), _) => {
            let _ = std::fs::remove_file(path);
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            // The orchestrator may run as another user; the token guards access.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
                .with_context(|| format!("cannot open up {}", path.display()))?;
            println!("toolwire-server ready on unix:{}", path.display());
            server.serve_unix(listener, shutdown_signal()).await;
            let _ = std::fs::remove_file(path);
        }
        (None, listen) => {
            let addr = listen.as_deref().unwrap_or("127.0.0.1:7000");
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            println!("toolwire-server ready on {}", listener.local_addr()?);
            server.serve_tcp(listener, shutdown_signal()).await;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Compiling the tool schemas allocates and frees a few MiB; glibc keeps
/// freed memory for reuse. Hand it back so an idle server stays small.
fn release_startup_memory() {
    // SAFETY: malloc_trim only releases free heap memory; no pointers are involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
