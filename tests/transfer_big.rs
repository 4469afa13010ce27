//! One GiB up to the real `toolwire-server` binary and back down, with the
//! memory of both ends measured: the server's peak RSS (VmHWM) stays within
//! a few MiB of its idle size and this client's grows by a bounded amount,
//! whatever the size of the file — the credit window, not the file, sets
//! what either end holds. Its own test binary, so this process's peak is
//! the transfer's alone.

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::within;
use toolwire::{Action, Endpoint, Peer, PeerConfig, PermissionRule, WsConfig};

const GIB: usize = 1024 * 1024 * 1024;
const BLOCK: usize = 1024 * 1024;

/// A status line of `/proc/PID/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// A 1 GiB file of one pseudo-random MiB, each copy tagged with its index
/// (no two MiB alike); its SHA-256.
fn write_gibibyte(path: &std::path::Path) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let block: Vec<u8> = (0..BLOCK)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hasher = blake3::Hasher::new();
    let mut tagged = block;
    for index in 0..(GIB / BLOCK) as u64 {
        tagged[..8].copy_from_slice(&index.to_le_bytes());
        file.write_all(&tagged).expect("write");
        hasher.update(&tagged);
    }
    file.flush().expect("flush");
    hasher.finalize().to_hex().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_goes_up_and_back_in_bounded_memory_at_both_ends() {
    let dirs = tempfile::tempdir().expect("tempdir");
    let work = dirs.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let local = dirs.path().join("big.bin");
    let checksum = write_gibibyte(&local);

    let server = common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--workdir",
        work.to_str().expect("utf-8 path"),
    ]);
    let pid = server.child.id().to_string();
    let peer = within(
        Duration::from_secs(5),
        "connect",
        Peer::connect(
            &Endpoint::Url(format!("ws://{}/ws", server.ready)),
            None,
            &WsConfig::default(),
            PeerConfig::default(),
        ),
    )
    .await
    .expect("connect");
    peer.set_rules(vec![PermissionRule::new("edit", "*", Action::Allow)])
        .await
        .expect("rules");
    let server_before = status_kib(&pid, "VmRSS:");
    let client_before = status_kib("self", "VmHWM:");

    let started = Instant::now();
    let up = within(
        Duration::from_secs(300),
        "the upload",
        peer.upload(&local, "big.bin"),
    )
    .await
    .expect("upload");
    let up_s = started.elapsed().as_secs_f64();
    assert_eq!(up.bytes, GIB as u64);
    assert_eq!(up.blake3, checksum);
    assert_eq!(
        std::fs::metadata(work.join("big.bin"))
            .expect("uploaded")
            .len(),
        GIB as u64
    );

    let back = dirs.path().join("back.bin");
    let started = Instant::now();
    let down = within(
        Duration::from_secs(300),
        "the download",
        peer.download("big.bin", &back),
    )
    .await
    .expect("download");
    let down_s = started.elapsed().as_secs_f64();
    assert_eq!(down.blake3, checksum, "the server's checksum");
    let mut hasher = blake3::Hasher::new();
    std::io::copy(
        &mut std::fs::File::open(&back).expect("downloaded"),
        &mut hasher,
    )
    .expect("hash");
    let written = hasher.finalize().to_hex().to_string();
    assert_eq!(written, checksum, "the bytes on this machine's disk");

    let server_peak = status_kib(&pid, "VmHWM:");
    let client_peak = status_kib("self", "VmHWM:");
    eprintln!(
        "1 GiB: up {up_s:.1} s, down {down_s:.1} s; server RSS {server_before} KiB before, peak {server_peak} KiB; client peak {client_before} -> {client_peak} KiB"
    );
    assert!(
        server_peak <= server_before + 24 * 1024,
        "the server's peak RSS grew from {server_before} KiB to {server_peak} KiB for 1 GiB"
    );
    assert!(
        client_peak <= client_before + 48 * 1024,
        "this client's peak RSS grew from {client_before} KiB to {client_peak} KiB for 1 GiB"
    );
}
