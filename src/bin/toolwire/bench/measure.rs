//! toolwire's side of each figure (echo latency and rate, the bash tool,
//! concurrent sleeps) and the statistics and memory readings they use.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

pub(super) fn median_ms(samples: &mut [Duration]) -> f64 {
    percentile(samples, 0.5) / 1000.0
}

pub(super) fn rss_kib(pid: u32) -> u64 {
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

pub(super) fn echo_request() -> ToolRequest {
    ToolRequest::new("echo", json!({ "text": "x".repeat(PAYLOAD) }))
}

/// The exact frame our transport sends for an echo call.
pub(super) fn echo_frame(id: u64) -> String {
    serde_json::to_string(&ClientMessage::Request {
        id: id.to_string(),
        request: echo_request(),
        timeout_ms: None,
    })
    .unwrap_or_default()
}

pub(super) async fn tool_latency(
    executor: &RemoteExecutor,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
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
pub(super) async fn tool_rate<E: Executor + 'static>(
    executor: Arc<E>,
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

pub(super) async fn bash_tool(
    executor: &RemoteExecutor,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
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

pub(super) async fn concurrent_sleeps(executor: Arc<RemoteExecutor>) -> anyhow::Result<f64> {
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
