//! Many sandboxes on one host, each figure with its floor in the same run:
//! N launched at once vs N bare containers started at once; the memory of
//! an idle sandbox by its cgroup; the echo rate over N sandboxes vs one
//! sandbox with the same total in flight; M sandboxes up at once, each
//! answering, and their echo latency afterwards.

#[allow(clippy::wildcard_imports)]
use super::*;

use bollard::query_parameters::StatsOptions;
use futures::future::join_all;
use toolwire::docker::DockerSandbox;

/// Acquisitions per second from the pool under churn.
const POOL_ACQUIRE_PER_S: u64 = 20;

/// Calls in flight per sandbox in the many-sandbox rate.
const PER_SANDBOX_IN_FLIGHT: usize = 8;
/// Calls made per sandbox in the many-sandbox rate.
const PER_SANDBOX_CALLS: usize = 2000;

/// The fleet figures, as a JSON object to merge into the report.
pub(super) async fn fleet_figures(
    parallel: usize,
    many: usize,
    network: toolwire::docker::Network,
    pool_size: usize,
) -> anyhow::Result<Value> {
    let launcher = DockerLauncher::connect(ImageConfig::default()).await?;
    let image = launcher.ensure_image(&|_| {}).await?;
    let config = LaunchConfig::default()
        .session("bench-fleet")
        .server_args(vec![
            "--bench-tools".into(),
            "--max-in-flight".into(),
            (parallel * PER_SANDBOX_IN_FLIGHT).to_string(),
        ]);

    let floor_ms = bare_containers_at_once(&launcher, &image, parallel).await?;
    let started = Instant::now();
    let sandboxes = launch_answering(&launcher, &config, parallel).await?;
    let launch_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut memory = Vec::new();
    for sandbox in &sandboxes {
        memory.push(cgroup_memory_kib(&launcher, sandbox.id()).await?);
    }
    memory.sort_unstable();
    let idle_mem_kib = memory[memory.len() / 2];

    // The same total in flight: over every sandbox, then through one.
    let executors: Vec<Arc<RemoteExecutor>> = sandboxes
        .iter()
        .map(|s| Arc::new(RemoteExecutor::new(s.executor().peer().clone())))
        .collect();
    let total_in_flight = parallel * PER_SANDBOX_IN_FLIGHT;
    let rps_many = echo_rate(&executors, PER_SANDBOX_IN_FLIGHT, PER_SANDBOX_CALLS).await?;
    let rps_one = echo_rate(
        &executors[..1],
        total_in_flight,
        PER_SANDBOX_CALLS * parallel,
    )
    .await?;
    shutdown_all(sandboxes).await;

    let started = Instant::now();
    let crowd = launch_answering(&launcher, &config, many).await;
    let ready_s = started.elapsed().as_secs_f64();
    let (crowd_ready, crowd_p50) = match crowd {
        Ok(crowd) => {
            let mut samples = Vec::new();
            for sandbox in &crowd {
                samples.extend(tool_latency(sandbox.executor(), 5).await?);
            }
            let p50 = percentile(&mut samples, 0.5);
            shutdown_all(crowd).await;
            (Some(ready_s), Some(p50))
        }
        Err(e) => {
            eprintln!("{many} sandboxes at once failed: {e:#}");
            (None, None)
        }
    };
    let churn = pool_under_churn(&launcher, &config, pool_size, many).await?;
    // Keys name their counts, as the targets do
    // (`launch_parallel_50_wall_ms`, `sandboxes_200_ready_s`, ...).
    let mut figures = serde_json::Map::new();
    let mut put = |key: String, value: Value| {
        figures.insert(key, value);
    };
    put(
        "network".into(),
        json!(format!("{network:?}").to_lowercase()),
    );
    put(
        format!("container_floor_parallel_{parallel}_wall_ms"),
        json!(floor_ms),
    );
    put(
        format!("launch_parallel_{parallel}_wall_ms"),
        json!(launch_ms),
    );
    put(
        format!("launch_parallel_{parallel}_ratio"),
        json!(launch_ms / floor_ms),
    );
    put(
        "launches_per_s".into(),
        json!(parallel as f64 / (launch_ms / 1000.0)),
    );
    put("sandbox_idle_mem_kib".into(), json!(idle_mem_kib));
    put(format!("rps_{parallel}_sandboxes"), json!(rps_many));
    put("rps_1_sandbox_same_in_flight".into(), json!(rps_one));
    put(
        format!("rps_{parallel}_vs_1_ratio"),
        json!(rps_many / rps_one),
    );
    put(format!("sandboxes_{many}_ready_s"), json!(crowd_ready));
    put(format!("sandboxes_{many}_echo_p50_us"), json!(crowd_p50));
    put("pool_size".into(), json!(pool_size));
    put("pool_acquisitions".into(), json!(many));
    put("pool_acquire_per_s".into(), json!(POOL_ACQUIRE_PER_S));
    put("pool_acquire_p50_ms".into(), json!(churn.p50));
    put("pool_acquire_p99_ms".into(), json!(churn.p99));
    put("pool_acquire_warm_p99_ms".into(), json!(churn.warm_p99));
    put("pool_acquire_dry".into(), json!(churn.dry));
    Ok(Value::Object(figures))
}

/// `n` bare containers of the image running `true`, created and started
/// at once; the wall time until every one has exited.
async fn bare_containers_at_once(
    launcher: &DockerLauncher,
    image: &str,
    n: usize,
) -> anyhow::Result<f64> {
    use bollard::query_parameters::RemoveContainerOptions;
    let docker = launcher.docker().clone();
    let one = |docker: bollard::Docker| async move {
        super::containers::bare_container(&docker, image, launcher.owner()).await
    };
    let started = Instant::now();
    let ids = join_all((0..n).map(|_| one(docker.clone()))).await;
    let wall = started.elapsed();
    for id in ids.iter().flatten() {
        let _ = docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
    }
    ids.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(wall.as_secs_f64() * 1000.0)
}

/// `n` sandboxes launched at once, each answering an echo call; the rest
/// are shut down if one fails.
async fn launch_answering(
    launcher: &DockerLauncher,
    config: &LaunchConfig,
    n: usize,
) -> anyhow::Result<Vec<DockerSandbox>> {
    let one = |config: LaunchConfig| async move {
        let sandbox = launcher.launch(config).await?;
        sandbox
            .executor()
            .execute(ToolRequest::new("echo", json!({ "text": "up" })))
            .await?;
        Ok::<DockerSandbox, anyhow::Error>(sandbox)
    };
    let results = join_all((0..n).map(|_| one(config.clone()))).await;
    let mut up = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(sandbox) => up.push(sandbox),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        let launched = up.len();
        shutdown_all(up).await;
        return Err(e.context(format!("{launched} of {n} came up")));
    }
    Ok(up)
}

async fn shutdown_all(sandboxes: Vec<DockerSandbox>) {
    join_all(sandboxes.into_iter().map(DockerSandbox::shutdown)).await;
}

/// A container's memory as `docker stats` shows it: its cgroup's usage
/// without the inactive page cache.
async fn cgroup_memory_kib(launcher: &DockerLauncher, id: &str) -> anyhow::Result<u64> {
    let stats = launcher
        .docker()
        .stats(
            id,
            Some(StatsOptions {
                stream: false,
                one_shot: true,
            }),
        )
        .next()
        .await
        .context("no stats")??;
    let memory = stats.memory_stats.context("no memory stats")?;
    let usage = memory.usage.context("no memory usage")?;
    let inactive = memory
        .stats
        .as_ref()
        .and_then(|s| s.get("inactive_file").copied())
        .unwrap_or(0);
    Ok(usage.saturating_sub(inactive) / 1024)
}

/// Echo calls per second over `executors`, `in_flight` at once on each,
/// `calls` per executor.
async fn echo_rate(
    executors: &[Arc<RemoteExecutor>],
    in_flight: usize,
    calls: usize,
) -> anyhow::Result<f64> {
    let per_worker = (calls / in_flight).max(1);
    let started = Instant::now();
    let workers = executors.iter().flat_map(|executor| {
        (0..in_flight).map(move |_| {
            let executor = executor.clone();
            async move {
                for _ in 0..per_worker {
                    executor.execute(measure::echo_request()).await?;
                }
                Ok::<(), anyhow::Error>(())
            }
        })
    });
    join_all(workers)
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()?;
    let total = (per_worker * in_flight * executors.len()) as f64;
    Ok(total / started.elapsed().as_secs_f64())
}

/// How acquisitions from a pool under churn went (latencies in ms).
struct Churn {
    p50: f64,
    p99: f64,
    /// The p99 of those that found a warm sandbox.
    warm_p99: f64,
    /// Acquisitions that found the pool dry and waited for a launch.
    dry: usize,
}

/// A pool of `size` warm sandboxes, then `n` acquisitions at
/// [`POOL_ACQUIRE_PER_S`], each timed until its sandbox answers an echo and
/// then released (shut down) in the background while the pool refills.
/// An acquisition that finds the pool dry launches one itself, as
/// `SandboxPool::acquire` does, and is counted apart.
async fn pool_under_churn(
    launcher: &DockerLauncher,
    config: &LaunchConfig,
    size: usize,
    n: usize,
) -> anyhow::Result<Churn> {
    let pool = SandboxPool::new(
        launcher.clone(),
        config.clone(),
        PoolConfig::size(size).parallel_launches(8),
    );
    anyhow::ensure!(
        pool.wait_warm(size, Duration::from_secs(600)).await,
        "the pool did not warm {size} sandboxes in 10 minutes"
    );
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / POOL_ACQUIRE_PER_S));
    let mut releases = tokio::task::JoinSet::new();
    let mut samples = Vec::with_capacity(n);
    let mut warm_samples = Vec::with_capacity(n);
    for _ in 0..n {
        tick.tick().await;
        let started = Instant::now();
        let (sandbox, warm) = match pool.acquire_warm().await {
            Some(sandbox) => (sandbox, true),
            None => (launcher.launch(config.clone()).await?, false),
        };
        sandbox
            .executor()
            .execute(ToolRequest::new("echo", json!({ "text": "mine" })))
            .await?;
        let took = started.elapsed();
        samples.push(took);
        if warm {
            warm_samples.push(took);
        }
        releases.spawn(sandbox.shutdown());
    }
    while releases.join_next().await.is_some() {}
    pool.shutdown().await;
    let dry = samples.len() - warm_samples.len();
    let warm_p99 = if warm_samples.is_empty() {
        f64::NAN
    } else {
        percentile(&mut warm_samples, 0.99) / 1000.0
    };
    Ok(Churn {
        p50: percentile(&mut samples, 0.5) / 1000.0,
        p99: percentile(&mut samples, 0.99) / 1000.0,
        warm_p99,
        dry,
    })
}
