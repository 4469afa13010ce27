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
use toolwire::protocol::ClientMessage;
use toolwire::{
    Action, Executor, PermissionRule, RemoteExecutor, ToolRequest, WsConfig, WsTransport,
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

/// The floor: echoes every text frame back, nothing else.
pub async fn echo_floor_server(listen: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("echo-floor ready on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            // Echo everything already received, then flush once: the best a
            // raw echo can do (toolwire's writers batch the same way).
            while let Some(Ok(message)) = stream.next().await {
                let mut pending = Some(message);
                while let Some(message) = pending.take() {
                    if let Message::Text(text) = message
                        && sink.feed(Message::Text(text)).await.is_err()
                    {
                        return;
                    }
                    if let Some(Some(Ok(next))) = stream.next().now_or_never() {
                        pending = Some(next);
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The floor uses the same WebSocket tuning as toolwire, so it stays the
/// best a raw echo can do.
fn floor_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(toolwire::protocol::READ_BUFFER_BYTES)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    percentile(samples, 0.5) / 1000.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn echo_request() -> ToolRequest {
    ToolRequest::new("echo", json!({ "text": "x".repeat(PAYLOAD) }))
}

/// The exact frame our transport sends for an echo call.
fn echo_frame(id: u64) -> String {
    serde_json::to_string(&ClientMessage::Request {
        id: id.to_string(),
        request: echo_request(),
        timeout_ms: None,
    })
    .unwrap_or_default()
}

type FloorSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The floor client has the shape of toolwire's client: a reader task
/// receives, the caller writes its frame itself and waits for the reply. (A
/// single task that sends and then reads was measured 40 µs slower on a
/// current-thread runtime, which would flatter toolwire.)
struct FloorClient {
    sink: futures::stream::SplitSink<FloorSocket, Message>,
    replies: tokio::sync::mpsc::UnboundedReceiver<String>,
    _reader: tokio_util::task::AbortOnDropHandle<()>,
}

impl FloorClient {
    fn new(socket: FloorSocket) -> Self {
        let (sink, mut stream) = socket.split();
        let (sender, replies) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message
                    && sender.send(text.to_string()).is_err()
                {
                    return;
                }
            }
        });
        Self {
            sink,
            replies,
            _reader: tokio_util::task::AbortOnDropHandle::new(reader),
        }
    }
}

async fn floor_latency(floor: &mut FloorClient, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let frame = echo_frame(i as u64);
        let started = Instant::now();
        floor.sink.send(Message::text(frame)).await?;
        let reply = floor.replies.recv().await.context("floor closed")?;
        let _: Value = serde_json::from_str(&reply)?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// Time for `total` echoes through the raw echo with `IN_FLIGHT` outstanding.
async fn floor_rate(socket: FloorSocket, total: usize) -> anyhow::Result<Duration> {
    let (mut sink, mut stream) = socket.split();
    // At most IN_FLIGHT frames outstanding, as for the toolwire measurement.
    let window = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let writer = {
        let window = window.clone();
        tokio::spawn(async move {
            // Feed frames while the window has room; flush when it is full.
            let (mut i, mut unflushed) = (0, false);
            while i < total {
                let permit = if unflushed {
                    window.try_acquire().ok()
                } else {
                    window.acquire().await.ok()
                };
                match permit {
                    Some(permit) => {
                        permit.forget();
                        if sink
                            .feed(Message::text(echo_frame(i as u64)))
                            .await
                            .is_err()
                        {
                            break;
                        }
                        i += 1;
                        unflushed = true;
                    }
                    None if unflushed => {
                        if sink.flush().await.is_err() {
                            break;
                        }
                        unflushed = false;
                    }
                    None => break,
                }
            }
            let _ = sink.flush().await;
            sink
        })
    };
    let mut received = 0;
    while received < total {
        let reply = stream.next().await.context("floor closed")??;
        let _: Value = serde_json::from_str(reply.to_text()?)?;
        window.add_permits(1);
        received += 1;
    }
    let elapsed = started.elapsed();
    let _ = writer.await;
    Ok(elapsed)
}

async fn tool_latency(executor: &RemoteExecutor, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        executor.execute(echo_request()).await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// Time for `total` echo calls from `IN_FLIGHT` callers on one connection,
/// and the server's peak resident memory meanwhile.
async fn tool_rate(
    executor: Arc<RemoteExecutor>,
    total: usize,
    server_pid: u32,
) -> anyhow::Result<(Duration, u64)> {
    let remaining = Arc::new(AtomicU64::new(total as u64));
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicU64::new(1));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) == 1 {
                peak.fetch_max(rss_kib(server_pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (executor, remaining) = (executor.clone(), remaining.clone());
            tokio::spawn(async move {
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    executor.execute(echo_request()).await?;
                }
                Ok::<_, toolwire::CallError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    sampling.store(0, Ordering::Relaxed);
    let _ = sampler.await;
    Ok((elapsed, peak.load(Ordering::Relaxed)))
}

async fn spawn_floor(n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let status = tokio::process::Command::new("bash")
            .args(["-c", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        samples.push(started.elapsed());
        anyhow::ensure!(status.success());
    }
    Ok(samples)
}

async fn bash_tool(executor: &RemoteExecutor, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = executor
            .execute(ToolRequest::new("bash", json!({"command": "true"})))
            .await?;
        samples.push(started.elapsed());
        anyhow::ensure!(!response.is_error, "bash true failed: {}", response.output);
    }
    Ok(samples)
}

async fn concurrent_sleeps(executor: Arc<RemoteExecutor>) -> anyhow::Result<f64> {
    let started = Instant::now();
    let calls: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let executor = executor.clone();
            tokio::spawn(async move {
                executor
                    .execute(ToolRequest::new("sleep", json!({"ms": 200})))
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await??;
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Container figures (medians, ms): floor, cold start, pool acquire.
async fn containers(launches: usize) -> anyhow::Result<(f64, f64, f64)> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::{CreateContainerOptions, WaitContainerOptions};

    let launcher = DockerLauncher::connect(ImageConfig::default()).await?;
    let image = launcher.ensure_image(&|_| {}).await?;
    let docker = launcher.docker().clone();
    let mut floor = Vec::new();
    for _ in 0..launches {
        let started = Instant::now();
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            entrypoint: Some(vec!["true".into()]),
            cmd: Some(vec![]),
            labels: Some(
                [
                    (
                        toolwire::docker::LABEL_MANAGED.to_owned(),
                        "true".to_owned(),
                    ),
                    (
                        toolwire::docker::LABEL_OWNER.to_owned(),
                        launcher.owner().to_owned(),
                    ),
                ]
                .into(),
            ),
            host_config: Some(HostConfig {
                init: Some(true),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let id = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await?
            .id;
        docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        let _ = docker
            .wait_container(&id, None::<WaitContainerOptions>)
            .next()
            .await;
        floor.push(started.elapsed());
        let _ = docker
            .remove_container(
                &id,
                Some(bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
    }
    let mut cold = Vec::new();
    for _ in 0..launches {
        let started = Instant::now();
        let sandbox = launcher
            .launch(LaunchConfig::default().session("bench"))
            .await?;
        sandbox
            .executor()
            .execute(ToolRequest::new("ls", json!({})))
            .await?;
        cold.push(started.elapsed());
        sandbox.shutdown().await?;
    }
    let pool = SandboxPool::new(
        launcher.clone(),
        LaunchConfig::default().session("bench-pool"),
        1,
    );
    let mut acquire = Vec::new();
    for _ in 0..launches {
        anyhow::ensure!(
            pool.wait_warm(1, Duration::from_secs(60)).await,
            "the pool did not warm up"
        );
        let started = Instant::now();
        let sandbox = pool.acquire().await?;
        sandbox
            .executor()
            .execute(ToolRequest::new("ls", json!({})))
            .await?;
        acquire.push(started.elapsed());
        sandbox.shutdown().await?;
    }
    pool.shutdown().await;
    Ok((
        median_ms(&mut floor),
        median_ms(&mut cold),
        median_ms(&mut acquire),
    ))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let server_binary = exe.with_file_name("toolwire-server");
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
    let transport = WsTransport::connect(
        &format!("ws://{server_addr}/ws"),
        Some(&token),
        WsConfig::default(),
    )
    .await?;
    let executor = Arc::new(RemoteExecutor::new(Arc::new(transport)));
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
    let floor_echo_p50_us = percentile(&mut floor_samples, 0.5);
    let floor_echo_p99_us = percentile(&mut floor_samples, 0.99);
    let echo_p50_us = percentile(&mut echo_samples, 0.5);
    let echo_p99_us = percentile(&mut echo_samples, 0.99);

    drop(floor);
    // The rate, too, alternates floor and toolwire rounds; each side's rate
    // is its calls over its summed time.
    let per_round = (args.rps_calls / RATE_ROUNDS).max(IN_FLIGHT);
    let (mut floor_time, mut tool_time) = (Duration::ZERO, Duration::ZERO);
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
    }
    let rate_calls = (per_round * RATE_ROUNDS) as f64;
    let floor_echo_rps = rate_calls / floor_time.as_secs_f64();
    let echo_rps = rate_calls / tool_time.as_secs_f64();

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
        "spawn_p50_us": spawn_p50_us,
        "bash_true_p50_us": bash_true_p50_us,
        "bash_overhead_us": bash_true_p50_us - spawn_p50_us,
        "concurrent_64x200ms_wall_ms": concurrent_64x200ms_wall_ms,
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

fn print_table(report: &Value) {
    let f = |key: &str| match report[key].as_f64() {
        Some(v) => format!("{v:.1}"),
        None => "n/a".to_owned(),
    };
    println!(
        "{:<34} {:>12} {:>12} {:>10}  target",
        "measure", "floor", "toolwire", "ratio"
    );
    let rows = [
        (
            "echo p50 (us)",
            "floor_echo_p50_us",
            "echo_p50_us",
            "echo_p50_ratio",
            "ratio <= 1.3",
        ),
        (
            "echo p99 (us)",
            "floor_echo_p99_us",
            "echo_p99_us",
            "echo_p99_ratio",
            "",
        ),
        (
            "echo rate, 64 in flight (calls/s)",
            "floor_echo_rps",
            "echo_rps",
            "echo_rps_ratio",
            "ratio >= 0.75",
        ),
    ];
    for (name, floor, ours, ratio, target) in rows {
        println!(
            "{name:<34} {:>12} {:>12} {:>10}  {target}",
            f(floor),
            f(ours),
            format!("{:.2}", report[ratio].as_f64().unwrap_or(0.0))
        );
    }
    println!(
        "{:<34} {:>12} {:>12} {:>10}  overhead <= 300 us",
        "bash true p50 (us)",
        f("spawn_p50_us"),
        f("bash_true_p50_us"),
        f("bash_overhead_us")
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  <= 300 ms",
        "64 x 200 ms calls, wall (ms)",
        "200.0",
        f("concurrent_64x200ms_wall_ms"),
        ""
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  overhead <= 150 ms",
        "container start (ms)",
        f("container_floor_ms"),
        f("cold_start_ms"),
        f("cold_start_overhead_ms")
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  <= 5 ms",
        "pool acquire + first call (ms)",
        "",
        f("pool_acquire_ms"),
        ""
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  idle <= 10240",
        "server RSS idle / loaded (KiB)",
        f("server_rss_idle_kib"),
        f("server_rss_loaded_kib"),
        ""
    );
}
