//! How echo grows with the work, through one `toolwire-server` process:
//! latency against payload size (with the raw echo floor's for each size,
//! alternating rounds), and rate and latency against calls in flight.

#[allow(clippy::wildcard_imports)]
use super::*;

use std::path::Path;

/// Payload sizes and the round trips measured at each.
const PAYLOADS: [(usize, usize); 4] = [
    (256, 2000),
    (64 * 1024, 400),
    (1024 * 1024, 60),
    (15 * 1024 * 1024, 10),
];
/// Calls in flight of the rate curve.
const IN_FLIGHT_LEVELS: [usize; 4] = [1, 8, 64, 256];
/// Calls per level of the rate curve.
const RATE_CALLS: usize = 20_000;
/// Alternating floor/toolwire rounds per payload size.
const ROUNDS: usize = 5;

/// The growth figures, as a JSON object to merge into the report.
pub(super) async fn growth_figures(exe: &Path, server_binary: &Path) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let workdir = dir.path().join("workspace");
    let (_floor_child, floor_addr) = spawn_ready(
        &exe.to_path_buf(),
        &["echo-floor", "--listen", "127.0.0.1:0"],
    )?;
    let (_server_child, server_addr) = spawn_ready(
        &server_binary.to_path_buf(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--workdir",
            workdir.to_str().context("utf-8 path")?,
            "--insecure-no-auth",
            "--bench-tools",
            "--max-in-flight",
            "512",
        ],
    )?;
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{server_addr}/ws")),
        None,
        &WsConfig::default(),
        PeerConfig::default(),
    )
    .await?;
    let executor = Arc::new(RemoteExecutor::new(Arc::new(peer)));
    let (floor_socket, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{floor_addr}/"),
        Some(floor_config()),
        true,
    )
    .await?;
    let mut floor = FloorClient::new(floor_socket);

    let mut by_payload = Vec::new();
    for (bytes, calls) in PAYLOADS {
        let request = ToolRequest::new("echo", json!({ "text": "x".repeat(bytes) }));
        let frame = serde_json::to_string(&ClientMessage::Request {
            id: "1".into(),
            request: request.clone(),
            timeout_ms: None,
        })?;
        let (mut floor_samples, mut samples) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            for _ in 0..(calls / ROUNDS).max(1) {
                floor_samples.push(floor.round_trip(&frame).await?);
                let started = Instant::now();
                executor.execute(request.clone()).await?;
                samples.push(started.elapsed());
            }
        }
        let floor_p50 = percentile(&mut floor_samples, 0.5);
        let p50 = percentile(&mut samples, 0.5);
        by_payload.push(json!({
            "payload_bytes": bytes,
            "floor_echo_p50_us": floor_p50,
            "echo_p50_us": p50,
            "ratio": p50 / floor_p50,
        }));
    }

    let mut by_in_flight = Vec::new();
    for in_flight in IN_FLIGHT_LEVELS {
        let (rps, mut samples) = rate_at(&executor, in_flight, RATE_CALLS).await?;
        by_in_flight.push(json!({
            "in_flight": in_flight,
            "echo_rps": rps,
            "echo_p50_us": percentile(&mut samples, 0.5),
            "echo_p99_us": percentile(&mut samples, 0.99),
        }));
    }
    executor.close().await;
    Ok(json!({
        "growth_by_payload": by_payload,
        "growth_by_in_flight": by_in_flight,
    }))
}

/// `calls` echo calls of 256 bytes with `in_flight` callers: the rate, and
/// each call's time.
async fn rate_at(
    executor: &Arc<RemoteExecutor>,
    in_flight: usize,
    calls: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let per_caller = (calls / in_flight).max(1);
    let started = Instant::now();
    let callers = (0..in_flight).map(|_| {
        let executor = executor.clone();
        async move {
            let mut samples = Vec::with_capacity(per_caller);
            for _ in 0..per_caller {
                let call = Instant::now();
                executor.execute(measure::echo_request()).await?;
                samples.push(call.elapsed());
            }
            Ok::<_, anyhow::Error>(samples)
        }
    });
    let results = futures::future::join_all(callers).await;
    let elapsed = started.elapsed();
    let mut samples = Vec::with_capacity(per_caller * in_flight);
    for result in results {
        samples.extend(result?);
    }
    Ok((samples.len() as f64 / elapsed.as_secs_f64(), samples))
}
