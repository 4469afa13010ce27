//! `toolwire bench`: toolwire measured against the floor it cannot go below,
//! in the same run, reported as ratios (these machines are noisy).
//!
//! - echo: a raw tokio-tungstenite JSON echo server (a separate process, the
//!   floor) vs the `echo` tool through RemoteExecutor -> WsTransport ->
//!   toolwire-server (a separate process) -> LocalExecutor, with the same
//!   request frames; one call in flight (latency) and 64 in flight (rate).
//! - spawn: a bare `bash -c true` vs the `bash` tool running `true`.
//! - 64 concurrent 200 ms calls on one connection.
//! - containers: create+start of the same image running `true` until it
//!   exits vs `launch()` until the first tool response; a warm pool acquire.
//! - the server's resident memory, idle and under the 64-in-flight load.
//! - the echo rate again with every call journaled (SQLite), vs without.
//! - echo over MCP (`/mcp`, rmcp's client) vs the native WebSocket path.
//!
//! With `--scale` (`scale`): how costs grow — bulk transfer (`transfer`)
//! against a raw WebSocket binary stream.

mod containers;
mod fleet;
mod floor;
mod growth;
mod mcp;
mod measure;
mod permission;
mod report;
mod scale;
mod transfer;

use containers::containers;
pub use floor::echo_floor_server;
use floor::{FloorClient, FloorSocket, floor_config, floor_latency, floor_rate, spawn_floor};
use measure::{
    bash_tool, concurrent_sleeps, echo_frame, median_ms, percentile, rss_kib, tool_latency,
    tool_rate,
};
use report::print_table;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{FutureExt, SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use toolwire::docker::{DockerLauncher, ImageConfig, LaunchConfig, SandboxPool};
use toolwire::journal::{Journal, JournalConfig, Recorder};
use toolwire::launcher::PoolConfig;
use toolwire::protocol::ClientMessage;
use toolwire::{
    Action, Endpoint, Executor, Peer, PeerConfig, PermissionRule, RemoteExecutor, ToolRequest,
    WsConfig,
};

/// Options of `toolwire bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Round trips measured for the latency figures.
    #[arg(long, default_value_t = 3000)]
    echo_iterations: usize,
    /// Calls per rate measurement (64 in flight), split over 10 alternating rounds.
    #[arg(long, default_value_t = 100_000)]
    rps_calls: usize,
    /// Spawns measured for the spawn figures.
    #[arg(long, default_value_t = 300)]
    spawn_iterations: usize,
    /// Container launches measured (medians).
    #[arg(long, default_value_t = 7)]
    launches: usize,
    /// Skip the container measurements.
    #[arg(long)]
    no_docker: bool,
    /// Measure how costs grow instead (`scale`): bulk transfer against a
    /// raw WebSocket stream, many sandboxes at once.
    #[arg(long)]
    scale: bool,
    /// Sandboxes launched at once, measured idle and under load by `--scale`.
    #[arg(long, default_value_t = 50)]
    parallel: usize,
    /// The network of the sandboxes `--scale` launches.
    #[arg(long, value_enum, default_value_t = crate::sandboxes::NetworkArg::Bridge)]
    network: crate::sandboxes::NetworkArg,
    /// Sandboxes brought up at once by `--scale` (the host's capacity).
    #[arg(long, default_value_t = 200)]
    many: usize,
    /// Warm sandboxes of the pool `--scale` acquires from at 20 per second.
    #[arg(long, default_value_t = 150)]
    pool_size: usize,
    /// MiB moved each way by the transfer measurement of `--scale`.
    #[arg(long, default_value_t = 256)]
    transfer_mib: usize,
    /// Run the client side (floor client and toolwire client alike) on a
    /// current-thread runtime instead of a multi-thread one.
    #[arg(long)]
    pub current_thread: bool,
}

const PAYLOAD: usize = 256;
const IN_FLIGHT: usize = 64;
/// Alternating floor/toolwire rounds of the latency measurement.
const LATENCY_ROUNDS: usize = 30;
/// Alternating floor/toolwire rounds of the spawn measurement.
const SPAWN_ROUNDS: usize = 10;
/// Alternating floor/toolwire rounds of the rate measurement.
const RATE_ROUNDS: usize = 10;

/// A child process killed on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program args`, waits for its "ready on ADDR" line, returns ADDR.
fn spawn_ready(program: &PathBuf, args: &[&str]) -> anyhow::Result<(Child, String)> {
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let child = Child(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    if addr.is_empty() {
        bail!("{} printed no ready line", program.display());
    }
    Ok((child, addr))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let server_binary = exe.with_file_name("toolwire-server");
    if args.scale {
        return scale::run(&args, &exe, &server_binary).await;
    }
    let dir = tempfile::tempdir()?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token)?;
    let workdir = dir.path().join("workspace");
    let (floor_child, floor_addr) = spawn_ready(&exe, &["echo-floor", "--listen", "127.0.0.1:0"])?;
    let (server_child, server_addr) = spawn_ready(
        &server_binary,
        &[
            "--listen",
            "127.0.0.1:0",
            "--workdir",
            workdir.to_str().context("utf-8 path")?,
            "--token-file",
            token_file.to_str().context("utf-8 path")?,
            "--bench-tools",
            "--mcp",
        ],
    )?;
    let server_pid = server_child.0.id();

    let (floor_socket, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{floor_addr}/"),
        Some(floor_config()),
        true,
    )
    .await?;
    let mut floor = FloorClient::new(floor_socket);
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{server_addr}/ws")),
        Some(&token),
        &WsConfig::default(),
        PeerConfig::default(),
    )
    .await?;
    let executor = Arc::new(RemoteExecutor::new(Arc::new(peer)));
    executor
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await?;
    let server_rss_idle_kib = rss_kib(server_pid);

    // Warm both paths up, then interleave the measurements in rounds so that
    // drift of the machine hits floor and toolwire alike.
    floor_latency(&mut floor, 300).await?;
    tool_latency(&executor, 300).await?;
    // Short rounds: these VMs switch between a fast and a slow mode (p50
    // ~30 us or ~90 us) every few hundred milliseconds, and both sides must
    // sample both modes alike.
    let (mut floor_samples, mut echo_samples) = (Vec::new(), Vec::new());
    let per_round = (args.echo_iterations / LATENCY_ROUNDS).max(1);
    for _ in 0..LATENCY_ROUNDS {
        floor_samples.extend(floor_latency(&mut floor, per_round).await?);
        echo_samples.extend(tool_latency(&executor, per_round).await?);
    }
    // MCP echo, a session's and a stateless client's, alternating with the
    // native path on the same server.
    let mcp = mcp::McpClient::connect(&server_addr, &token).await?;
    let mcp_stateless = mcp::McpClient::connect_stateless(&server_addr, &token).await?;
    mcp.latency(100).await?;
    mcp_stateless.latency(100).await?;
    let (mut native_samples, mut mcp_samples, mut stateless_samples) =
        (Vec::new(), Vec::new(), Vec::new());
    let per_mcp_round = (args.echo_iterations / 3 / LATENCY_ROUNDS).max(1);
    for _ in 0..LATENCY_ROUNDS {
        native_samples.extend(tool_latency(&executor, per_mcp_round).await?);
        mcp_samples.extend(mcp.latency(per_mcp_round).await?);
        stateless_samples.extend(mcp_stateless.latency(per_mcp_round).await?);
    }
    mcp.close().await;
    mcp_stateless.close().await;
    let native_echo_p50_us = percentile(&mut native_samples, 0.5);
    let mcp_echo_p50_us = percentile(&mut mcp_samples, 0.5);
    let mcp_stateless_echo_p50_us = percentile(&mut stateless_samples, 0.5);
    let floor_echo_p50_us = percentile(&mut floor_samples, 0.5);
    let floor_echo_p99_us = percentile(&mut floor_samples, 0.99);
    let echo_p50_us = percentile(&mut echo_samples, 0.5);
    let echo_p99_us = percentile(&mut echo_samples, 0.99);

    drop(floor);
    // The rate, too, alternates floor and toolwire rounds; each side's rate
    // is its calls over its summed time.
    // A third side: the same executor with every call journaled (a SQLite
    // file in the temporary directory), measured alternately too.
    let journal = Journal::open(dir.path().join("journal.sqlite"), JournalConfig::default())?;
    let journaled = Arc::new(Recorder::new(journal.clone()).executor(executor.clone()));
    let per_round = (args.rps_calls / RATE_ROUNDS).max(IN_FLIGHT);
    let (mut floor_time, mut tool_time, mut journaled_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut server_rss_loaded_kib = 0;
    for _ in 0..RATE_ROUNDS {
        let (rate_socket, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{floor_addr}/"),
            Some(floor_config()),
            true,
        )
        .await?;
        floor_time += floor_rate(rate_socket, per_round).await?;
        let (elapsed, peak) = tool_rate(executor.clone(), per_round, server_pid).await?;
        tool_time += elapsed;
        server_rss_loaded_kib = server_rss_loaded_kib.max(peak);
        journaled_time += tool_rate(journaled.clone(), per_round, server_pid).await?.0;
    }
    let rate_calls = (per_round * RATE_ROUNDS) as f64;
    let floor_echo_rps = rate_calls / floor_time.as_secs_f64();
    let echo_rps = rate_calls / tool_time.as_secs_f64();
    let echo_rps_journal = rate_calls / journaled_time.as_secs_f64();
    journal.flush().await;
    let journal_stats = journal.stats();
    drop(journaled);

    spawn_floor(30).await?;
    bash_tool(&executor, 30).await?;
    let (mut spawn_samples, mut bash_samples) = (Vec::new(), Vec::new());
    let per_round = (args.spawn_iterations / SPAWN_ROUNDS).max(1);
    for _ in 0..SPAWN_ROUNDS {
        spawn_samples.extend(spawn_floor(per_round).await?);
        bash_samples.extend(bash_tool(&executor, per_round).await?);
    }
    let spawn_p50_us = percentile(&mut spawn_samples, 0.5);
    let bash_true_p50_us = percentile(&mut bash_samples, 0.5);
    let concurrent_64x200ms_wall_ms = concurrent_sleeps(executor.clone()).await?;
    let bash_permission_check_us = permission::bash_permission_check_us(2000);
    executor.close().await;
    drop(server_child);
    drop(floor_child);

    let container = if args.no_docker {
        None
    } else {
        match containers(args.launches).await {
            Ok(figures) => Some(figures),
            Err(e) => {
                eprintln!("container measurements skipped: {e}");
                None
            }
        }
    };
    let (container_floor_ms, cold_start_ms, pool_acquire_ms) = match container {
        Some((f, c, p)) => (Some(f), Some(c), Some(p)),
        None => (None, None, None),
    };
    let report = json!({
        "floor_echo_p50_us": floor_echo_p50_us,
        "floor_echo_p99_us": floor_echo_p99_us,
        "echo_p50_us": echo_p50_us,
        "echo_p99_us": echo_p99_us,
        "echo_p50_ratio": echo_p50_us / floor_echo_p50_us,
        "echo_p99_ratio": echo_p99_us / floor_echo_p99_us,
        "floor_echo_rps": floor_echo_rps,
        "echo_rps": echo_rps,
        "echo_rps_ratio": echo_rps / floor_echo_rps,
        "echo_rps_journal": echo_rps_journal,
        "echo_rps_journal_ratio": echo_rps_journal / echo_rps,
        "journal_committed": journal_stats.committed,
        "journal_dropped": journal_stats.dropped,
        "spawn_p50_us": spawn_p50_us,
        "bash_true_p50_us": bash_true_p50_us,
        "bash_overhead_us": bash_true_p50_us - spawn_p50_us,
        "concurrent_64x200ms_wall_ms": concurrent_64x200ms_wall_ms,
        "bash_permission_check_us": bash_permission_check_us,
        "mcp_echo_p50_us": mcp_echo_p50_us,
        "mcp_echo_p50_ratio": mcp_echo_p50_us / native_echo_p50_us,
        "mcp_stateless_echo_p50_us": mcp_stateless_echo_p50_us,
        "mcp_stateless_echo_p50_ratio": mcp_stateless_echo_p50_us / native_echo_p50_us,
        "container_floor_ms": container_floor_ms,
        "cold_start_ms": cold_start_ms,
        "cold_start_overhead_ms": cold_start_ms.zip(container_floor_ms).map(|(c, f)| c - f),
        "pool_acquire_ms": pool_acquire_ms,
        "server_rss_idle_kib": server_rss_idle_kib,
        "server_rss_loaded_kib": server_rss_loaded_kib,
        "payload_bytes": PAYLOAD,
        "in_flight": IN_FLIGHT,
        "echo_iterations": args.echo_iterations,
        "rps_calls": args.rps_calls,
        "rate_rounds": RATE_ROUNDS,
        "latency_rounds": LATENCY_ROUNDS,
        "launches": args.launches,
        "client_runtime": if args.current_thread { "current_thread" } else { "multi_thread" },
    });
    if args.json {
        println!("{report}");
    } else {
        print_table(&report);
    }
    Ok(())
}
