//! Uploads and downloads (feature `transfer`) against an in-process server
//! over a real WebSocket: files and directories round-trip byte for byte
//! with their BLAKE3 checksum; a wrong checksum, an interrupted upload or a client
//! that sends past its credit leave no file under the final name; a path
//! outside the workdir asks `external_directory`; calls on the same
//! connection keep flowing during a transfer.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::{TestServer, next_json, raw_connect, send_text, within};
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use toolwire::context::QuestionAnswer;
use toolwire::protocol::{PermissionAsk, PermissionReply, QuestionAsk};
use toolwire::{
    Action, CallError, InteractiveHandler, PeerConfig, PermissionRule, ToolRequest, TransferError,
};

/// Bytes that do not repeat in any short period (a xorshift stream).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn blake3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn allow_edit() -> Vec<PermissionRule> {
    vec![PermissionRule::new("edit", "*", Action::Allow)]
}

/// Names in `dir` that a transfer left behind (its temporary files).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".toolwire-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_up_and_comes_back_byte_for_byte() {
    let server = TestServer::start().await;
    let peer = server.connect().await;
    peer.set_rules(allow_edit()).await.expect("rules");
    let local = tempfile::tempdir().expect("tempdir");
    let content = data(9 * 1024 * 1024 + 123, 1);
    std::fs::write(local.path().join("in.bin"), &content).expect("write");

    let up = within(
        Duration::from_secs(30),
        "upload",
        peer.upload(&local.path().join("in.bin"), "sub/dir/in.bin"),
    )
    .await
    .expect("upload");
    assert_eq!(up.bytes, content.len() as u64);
    assert_eq!(up.blake3, blake3(&content));
    assert!(!up.archive);
    let remote = server.workdir.path().join("sub/dir/in.bin");
    assert_eq!(std::fs::read(&remote).expect("uploaded"), content);

    let down = within(
        Duration::from_secs(30),
        "download",
        peer.download("sub/dir/in.bin", &local.path().join("back.bin")),
    )
    .await
    .expect("download");
    assert_eq!(down.blake3, up.blake3);
    assert_eq!(
        std::fs::read(local.path().join("back.bin")).expect("downloaded"),
        content
    );
    assert!(leftovers(local.path()).is_empty());
    assert!(leftovers(&server.workdir.path().join("sub/dir")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_goes_up_and_comes_back_with_its_tree_and_links() {
    let server = TestServer::start().await;
    let peer = server.connect().await;
    peer.set_rules(allow_edit()).await.expect("rules");
    let local = tempfile::tempdir().expect("tempdir");
    let tree = local.path().join("project");
    std::fs::create_dir_all(tree.join("src/deep")).expect("mkdir");
    std::fs::write(tree.join("README"), b"read me").expect("write");
    std::fs::write(tree.join("src/deep/big.bin"), data(3_000_000, 2)).expect("write");
    std::fs::write(tree.join("src/run.sh"), b"#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(
        tree.join("src/run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::os::unix::fs::symlink("../README", tree.join("src/readme-link")).expect("symlink");

    let up = peer.upload(&tree, "project").await.expect("upload");
    assert!(up.archive);
    let remote = server.workdir.path().join("project");
    assert_eq!(
        std::fs::read(remote.join("src/deep/big.bin")).expect("file"),
        data(3_000_000, 2)
    );
    assert_eq!(
        std::fs::read_link(remote.join("src/readme-link")).expect("a link"),
        Path::new("../README")
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(remote.join("src/run.sh"))
            .expect("meta")
            .permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "the executable bit survives");

    // A directory is not merged into a non-empty one.
    let again = peer.upload(&tree, "project").await;
    assert!(
        matches!(&again, Err(TransferError::Failed(m)) if m.contains("not empty")),
        "{again:?}"
    );

    let back = local.path().join("back");
    let down = peer.download("project", &back).await.expect("download");
    assert!(down.archive);
    assert_eq!(
        std::fs::read(back.join("src/deep/big.bin")).expect("file"),
        data(3_000_000, 2)
    );
    assert_eq!(
        std::fs::read(back.join("README")).expect("file"),
        b"read me"
    );
    assert_eq!(
        std::fs::read_link(back.join("src/readme-link")).expect("a link"),
        Path::new("../README")
    );
}

/// Records the permission asks and rejects them.
#[derive(Default)]
struct Rejecting(Mutex<Vec<PermissionAsk>>);

#[async_trait]
impl InteractiveHandler for Rejecting {
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply {
        self.0.lock().expect("lock").push(ask);
        PermissionReply::Reject
    }
    async fn questions(&self, _ask: QuestionAsk) -> QuestionAnswer {
        QuestionAnswer::Rejected
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_outside_the_workdir_asks_external_directory() {
    let server = TestServer::start().await;
    let asks = Arc::new(Rejecting::default());
    let peer = server
        .connect_with(PeerConfig::default().interactive(asks.clone()))
        .await;
    peer.set_rules(allow_edit()).await.expect("rules");
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::write(local.path().join("f"), b"x").expect("write");
    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().join("escaped");

    let up = peer
        .upload(&local.path().join("f"), &target.display().to_string())
        .await;
    assert!(
        matches!(&up, Err(TransferError::Failed(m)) if m.contains("rejected")),
        "{up:?}"
    );
    let down = peer
        .download("../../etc/hostname", &local.path().join("h"))
        .await;
    assert!(matches!(&down, Err(TransferError::Failed(_))), "{down:?}");
    let seen = asks.0.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|a| a.permission == "external_directory"));
    assert_eq!(seen[0].patterns, [target.display().to_string()]);
    assert!(!target.exists());
    assert!(!local.path().join("h").exists());

    // Without an interactive client the transfer suspends, as a call does.
    let plain = server.connect().await;
    let suspended = plain
        .upload(&local.path().join("f"), &target.display().to_string())
        .await;
    assert!(
        matches!(&suspended, Err(TransferError::Call(CallError::PermissionNeeded(p))) if p.permission == "external_directory"),
        "{suspended:?}"
    );
    // An upload into the workdir asks `edit` when no rule allows it.
    plain.set_rules(Vec::new()).await.expect("rules");
    let edit = plain.upload(&local.path().join("f"), "inside").await;
    assert!(
        matches!(&edit, Err(TransferError::Call(CallError::PermissionNeeded(p))) if p.permission == "edit"),
        "{edit:?}"
    );
    assert!(!server.workdir.path().join("inside").exists());
}

/// Starts an upload on a raw socket and waits for its first credit.
async fn raw_upload(server: &TestServer, path: &str) -> common::RawSocket {
    let mut socket = raw_connect(server).await;
    send_text(
        &mut socket,
        r#"{"type":"set_rules","id":"r","rules":[{"permission":"edit","pattern":"*","action":"allow"}]}"#,
    )
    .await;
    assert_eq!(next_json(&mut socket).await["type"], "set_rules");
    send_text(
        &mut socket,
        r#"{"type":"hello","id":"h","version":1,"features":["transfer"]}"#,
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await["features"],
        json!(["transfer"])
    );
    send_text(
        &mut socket,
        &json!({"type": "upload", "id": "u1", "path": path}).to_string(),
    )
    .await;
    let credit = next_json(&mut socket).await;
    assert_eq!(credit["type"], "credit", "{credit}");
    assert_eq!(credit["bytes"], 4 * 1024 * 1024);
    socket
}

fn chunk(id: &str, data: &[u8]) -> Message {
    let mut frame = vec![u8::try_from(id.len()).expect("short id")];
    frame.extend_from_slice(id.as_bytes());
    frame.extend_from_slice(data);
    Message::binary(frame)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checksum_leaves_no_file() {
    let server = TestServer::start().await;
    let mut socket = raw_upload(&server, "checked.bin").await;
    socket.send(chunk("u1", b"hello")).await.expect("chunk");
    let wrong = "0".repeat(64);
    send_text(
        &mut socket,
        &json!({"type": "upload_end", "id": "u1", "bytes": 5, "blake3": wrong}).to_string(),
    )
    .await;
    let answer = next_json(&mut socket).await;
    assert_eq!(answer["id"], "u1");
    assert_eq!(answer["response"]["is_error"], true, "{answer}");
    let output = answer["response"]["output"].as_str().expect("output");
    assert!(output.contains("checksum mismatch"), "{output}");
    assert!(!server.workdir.path().join("checked.bin").exists());
    assert!(leftovers(server.workdir.path()).is_empty());

    // The right checksum of the same bytes is taken.
    send_text(
        &mut socket,
        r#"{"type":"upload","id":"u2","path":"checked.bin"}"#,
    )
    .await;
    assert_eq!(next_json(&mut socket).await["type"], "credit");
    socket.send(chunk("u2", b"hello")).await.expect("chunk");
    send_text(
        &mut socket,
        &json!({"type": "upload_end", "id": "u2", "bytes": 5, "blake3": blake3(b"hello")})
            .to_string(),
    )
    .await;
    let answer = next_json(&mut socket).await;
    assert_eq!(
        answer["response"]["output"], "Uploaded checked.bin (5 bytes)",
        "{answer}"
    );
    assert_eq!(
        std::fs::read(server.workdir.path().join("checked.bin")).expect("file"),
        b"hello"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_leaves_no_file() {
    let server = TestServer::start().await;
    let mut sessions = server.sessions();
    let mut socket = raw_upload(&server, "cut.bin").await;
    socket
        .send(chunk("u1", &data(1024 * 1024, 3)))
        .await
        .expect("chunk");
    drop(socket);
    // The session ends once its calls (the upload) have answered.
    within(
        Duration::from_secs(10),
        "the session to end",
        sessions.wait_for(|n| *n == 0),
    )
    .await
    .expect("sessions");
    assert!(!server.workdir.path().join("cut.bin").exists());
    assert!(leftovers(server.workdir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_its_credit_loses_its_upload_not_the_server() {
    let server = TestServer::start().await;
    let mut socket = raw_upload(&server, "greedy.bin").await;
    // 5 MiB at once against 4 MiB of credit.
    socket
        .send(chunk("u1", &data(5 * 1024 * 1024, 4)))
        .await
        .expect("chunk");
    let answer = loop {
        let frame = next_json(&mut socket).await;
        if frame["type"] == "response" {
            break frame;
        }
    };
    assert_eq!(answer["response"]["is_error"], true, "{answer}");
    assert!(!server.workdir.path().join("greedy.bin").exists());
    // The connection still serves calls.
    send_text(
        &mut socket,
        r#"{"type":"request","id":"e","request":{"tool_call_id":"c","tool_name":"echo","input":{"text":"still here"}}}"#,
    )
    .await;
    let echo = next_json(&mut socket).await;
    assert_eq!(echo["id"], "e", "{echo}");
    assert_eq!(echo["response"]["output"], "still here", "{echo}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_keep_flowing_while_a_transfer_runs() {
    let server = TestServer::start().await;
    let peer = Arc::new(server.connect().await);
    peer.set_rules(allow_edit()).await.expect("rules");
    let local = tempfile::tempdir().expect("tempdir");
    let size = 128 * 1024 * 1024;
    std::fs::write(local.path().join("big"), data(size, 5)).expect("write");
    let upload = tokio::spawn({
        let (peer, path) = (peer.clone(), local.path().join("big"));
        async move { peer.upload(&path, "big").await }
    });
    let mut slowest = Duration::ZERO;
    let mut calls = 0;
    while !upload.is_finished() {
        let started = Instant::now();
        let echo = peer
            .send(ToolRequest::new("echo", json!({ "text": "ping" })))
            .await
            .expect("echo");
        assert_eq!(echo.output, "ping");
        slowest = slowest.max(started.elapsed());
        calls += 1;
    }
    let up = upload.await.expect("task").expect("upload");
    assert_eq!(up.bytes, size as u64);
    assert!(calls >= 10, "only {calls} calls overlapped the upload");
    assert!(
        slowest < Duration::from_millis(500),
        "an echo call took {slowest:?} during the upload"
    );
}
