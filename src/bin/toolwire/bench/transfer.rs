//! Bulk transfer against its floor: a file uploaded to and downloaded from
//! a `toolwire-server` process (chunks, credit, BLAKE3 at both ends, the
//! disk) vs a raw WebSocket binary stream of the same bytes to and from the
//! floor server, alternating rounds; and the server's peak RSS meanwhile.

#[allow(clippy::wildcard_imports)]
use super::*;

use std::io::Write as _;
use std::path::Path;

use toolwire::protocol::chunk::CHUNK_BYTES;

/// Alternating floor/toolwire rounds of each direction.
const TRANSFER_ROUNDS: usize = 3;

/// The transfer figures, as a JSON object to merge into the report.
pub(super) async fn transfer_figures(
    exe: &Path,
    server_binary: &Path,
    mib: usize,
) -> anyhow::Result<Value> {
    // On a tmpfs when there is one, as a sandbox's own workspace is: the
    // figure is the transfer's, not this machine's disk's (the floor
    // writes nothing either).
    let (dir, on_tmpfs) = match tempfile::tempdir_in("/dev/shm") {
        Ok(dir) => (dir, true),
        Err(_) => (tempfile::tempdir()?, false),
    };
    let workdir = dir.path().join("workspace");
    let (_floor_child, floor_addr) = spawn_ready(
        &exe.to_path_buf(),
        &["echo-floor", "--listen", "127.0.0.1:0"],
    )?;
    let (server_child, server_addr) = spawn_ready(
        &server_binary.to_path_buf(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--workdir",
            workdir.to_str().context("utf-8 path")?,
            "--insecure-no-auth",
        ],
    )?;
    let server_pid = server_child.0.id();
    let bytes = mib * 1024 * 1024;
    let local = dir.path().join("payload.bin");
    write_payload(&local, bytes)?;
    let back = dir.path().join("back.bin");

    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{server_addr}/ws")),
        None,
        &WsConfig::default(),
        PeerConfig::default(),
    )
    .await?;
    peer.set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await?;
    let (mut floor, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{floor_addr}/"),
        Some(floor_config()),
        true,
    )
    .await?;

    let mut rounds = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..TRANSFER_ROUNDS {
        rounds[0].push(floor_upload(&mut floor, bytes).await?);
        let started = Instant::now();
        peer.upload(&local, "payload.bin").await?;
        rounds[1].push(started.elapsed());
        rounds[2].push(floor_download(&mut floor, bytes).await?);
        let started = Instant::now();
        peer.download("payload.bin", &back).await?;
        rounds[3].push(started.elapsed());
    }
    let peak = status_kib(server_pid, "VmHWM:");
    peer.close().await;
    let [floor_up, up, floor_down, down] =
        rounds.map(|mut samples| mib as f64 / (median_ms(&mut samples) / 1000.0));
    let floor_bulk = (floor_up + floor_down) / 2.0;
    Ok(json!({
        "floor_ws_bulk_mib_s": floor_bulk,
        "floor_ws_upload_mib_s": floor_up,
        "floor_ws_download_mib_s": floor_down,
        "upload_mib_s": up,
        "download_mib_s": down,
        "upload_ratio": up / floor_up,
        "download_ratio": down / floor_down,
        "transfer_peak_rss_kib": peak,
        "transfer_mib": mib,
        "transfer_on_tmpfs": on_tmpfs,
        "transfer_rounds": TRANSFER_ROUNDS,
    }))
}

/// A file of `bytes` pseudo-random bytes (a 1 MiB block, each copy tagged).
fn write_payload(path: &Path, bytes: usize) -> anyhow::Result<()> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut block: Vec<u8> = (0..1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut left = bytes;
    let mut index = 0u64;
    while left > 0 {
        block[..8].copy_from_slice(&index.to_le_bytes());
        let n = left.min(block.len());
        file.write_all(&block[..n])?;
        left -= n;
        index += 1;
    }
    file.flush()?;
    Ok(())
}

/// `bytes` in binary frames of the chunk size to the floor, until it has
/// counted them all.
async fn floor_upload(floor: &mut FloorSocket, bytes: usize) -> anyhow::Result<Duration> {
    let chunk = bytes::Bytes::from(vec![7u8; CHUNK_BYTES]);
    let started = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK_BYTES);
        floor.feed(Message::Binary(chunk.slice(..n))).await?;
        left -= n;
    }
    floor.send(Message::text("bulk-end")).await?;
    loop {
        match floor.next().await.context("floor closed")?? {
            Message::Text(count) => {
                anyhow::ensure!(
                    count.as_str() == bytes.to_string(),
                    "the floor counted {count}"
                );
                return Ok(started.elapsed());
            }
            _ => continue,
        }
    }
}

/// `bytes` from the floor in binary frames of the chunk size.
async fn floor_download(floor: &mut FloorSocket, bytes: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    floor
        .send(Message::text(format!("bulk-send:{bytes}")))
        .await?;
    let mut received = 0;
    loop {
        match floor.next().await.context("floor closed")?? {
            Message::Binary(data) => received += data.len(),
            Message::Text(done) if done.as_str() == "bulk-done" => break,
            _ => {}
        }
    }
    anyhow::ensure!(received == bytes, "the floor sent {received} bytes");
    Ok(started.elapsed())
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
