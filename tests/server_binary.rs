//! End to end with the real `toolwire-server` binary: token file, ready line,
//! RemoteExecutor over TCP and over a Unix socket, SIGTERM.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use toolwire::{
    Action, Endpoint, Executor, Peer, PeerConfig, PermissionRule, RemoteExecutor, ToolRequest,
    WsConfig,
};

mod common;

use common::binary::{ServerProcess as Server, start_server_binary as start};

const TOKEN: &str = "e2e-token-7f3a9c1d2b4e";

/// A `RemoteExecutor` connected over TCP to a server started on `--listen`.
async fn executor_over_tcp(server: &Server) -> RemoteExecutor {
    common::binary::connect(&server.ready, Some(TOKEN)).await
}

/// Waits (at most 10 s, without blocking the runtime) for the server to
/// exit after `what`, and gives its status.
async fn exit_of(mut server: Server, what: &str) -> std::process::ExitStatus {
    let pid = server.child.id();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || {
            let status = server.child.wait();
            (server, status)
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("server {pid} did not stop on {what} within 10 s"))
    .expect("join")
    .1
    .expect("wait")
}

async fn call(
    executor: &RemoteExecutor,
    tool: &str,
    input: serde_json::Value,
) -> toolwire::ToolResponse {
    tokio::time::timeout(
        Duration::from_secs(20),
        executor.execute(ToolRequest::new(tool, input)),
    )
    .await
    .expect("answer in time")
    .expect("answer")
}

#[tokio::test]
async fn the_real_binary_serves_the_builtin_tools_and_hides_its_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let workdir = dir.path().join("workspace");
    let server = start(&[
        "--listen",
        "127.0.0.1:0",
        "--workdir",
        workdir.to_str().expect("utf8"),
        "--token-file",
        token_file.to_str().expect("utf8"),
    ]);
    assert!(
        !token_file.exists(),
        "the token file is deleted after start-up"
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.child.id())).expect("cmdline");
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(TOKEN),
        "token not in argv"
    );

    let executor = executor_over_tcp(&server).await;
    executor
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");

    let tools: Vec<String> = executor
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        tools,
        [
            "bash", "edit", "glob", "grep", "ls", "question", "read", "write"
        ]
    );

    call(
        &executor,
        "write",
        json!({"path": "hello.py", "content": "print('hello')\n"}),
    )
    .await;
    let ran = call(
        &executor,
        "bash",
        json!({"command": "python3 hello.py || echo hello"}),
    )
    .await;
    assert_eq!(ran.output.trim(), "hello");
    call(
        &executor,
        "edit",
        json!({"path": "hello.py", "old_string": "hello", "new_string": "bye"}),
    )
    .await;
    let read = call(&executor, "read", json!({"path": "hello.py"})).await;
    assert_eq!(read.output, "     1\tprint('bye')\n");
    let grep = call(&executor, "grep", json!({"pattern": "bye"})).await;
    assert_eq!(grep.output, "hello.py:1: print('bye')\n");

    // (That the server's own /proc entries are unreadable by a tool running as
    // the same non-root user is checked in the container tests; here the test
    // runs as root, which may read any process.)
    let env = call(&executor, "bash", json!({"command": "env"})).await;
    assert!(
        !env.output.contains(TOKEN),
        "token visible to tools: {}",
        env.output
    );
    assert!(
        !env.output.contains("TOOLWIRE_TOKEN_CANARY"),
        "server env leaked: {}",
        env.output
    );
    let found = call(&executor, "bash", json!({"command": format!("grep -r {TOKEN} {} 2>/dev/null | head -1", dir.path().display())})).await;
    assert_eq!(found.output.trim(), "", "no readable file holds the token");
}

#[tokio::test]
async fn over_a_unix_socket_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let socket = dir.path().join("tw.sock");
    let server = start(&[
        "--unix",
        socket.to_str().expect("utf8"),
        "--workdir",
        dir.path().join("ws").to_str().expect("utf8"),
        "--token-file",
        token_file.to_str().expect("utf8"),
    ]);
    let peer = Peer::connect(
        &Endpoint::Unix(socket.clone()),
        Some(TOKEN),
        &WsConfig::default(),
        PeerConfig::default(),
    )
    .await
    .expect("connect over unix socket");
    let executor = RemoteExecutor::new(Arc::new(peer));
    executor
        .set_rules(vec![PermissionRule::new("bash", "*", Action::Allow)])
        .await
        .expect("rules");
    let r = call(&executor, "bash", json!({"command": "echo over-unix"})).await;
    assert_eq!(r.output.trim(), "over-unix");

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = exit_of(server, "SIGTERM").await;
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(!socket.exists(), "socket file removed");
}

#[tokio::test]
async fn a_client_that_asks_for_progress_gets_bash_output_while_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let server = start(&[
        "--listen",
        "127.0.0.1:0",
        "--workdir",
        dir.path().join("ws").to_str().expect("utf8"),
        "--token-file",
        token_file.to_str().expect("utf8"),
    ]);
    let (sender, mut chunks) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    let config = PeerConfig::default().on_progress(move |_id, chunk| {
        let _ = sender.send((Instant::now(), chunk.to_owned()));
    });
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{}/ws", server.ready)),
        Some(TOKEN),
        &WsConfig::default(),
        config,
    )
    .await
    .expect("connect");
    assert!(peer.features().iter().any(|f| f == "progress"));
    let executor = RemoteExecutor::new(Arc::new(peer));
    executor
        .set_rules(vec![PermissionRule::new("bash", "*", Action::Allow)])
        .await
        .expect("rules");
    let response = call(
        &executor,
        "bash",
        json!({"command": "echo first; sleep 0.5; echo second"}),
    )
    .await;
    let answered = Instant::now();
    assert_eq!(response.output, "first\nsecond\n");
    let (first_at, first) = chunks.recv().await.expect("a progress chunk");
    assert_eq!(first, "first\n");
    assert!(
        answered - first_at >= Duration::from_millis(300),
        "the first chunk came while the command ran"
    );
}

#[tokio::test]
async fn with_an_idle_timeout_it_stays_while_a_client_is_there_and_stops_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let mut server = start(&[
        "--listen",
        "127.0.0.1:0",
        "--workdir",
        dir.path().join("ws").to_str().expect("utf8"),
        "--token-file",
        token_file.to_str().expect("utf8"),
        "--idle-timeout-secs",
        "1",
    ]);
    let executor = executor_over_tcp(&server).await;
    // A client is connected for three idle timeouts; the server stays.
    for _ in 0..3 {
        executor
            .set_rules(vec![PermissionRule::new("bash", "*", Action::Allow)])
            .await
            .expect("the server is still there");
        let r = call(&executor, "bash", json!({"command": "sleep 1; echo alive"})).await;
        assert_eq!(r.output.trim(), "alive");
    }
    assert!(server.child.try_wait().expect("try_wait").is_none());

    // The client leaves: the server stops by itself, cleanly.
    executor.close().await;
    let left = Instant::now();
    let status = exit_of(server, "the idle timeout").await;
    assert!(status.success(), "clean exit when idle: {status}");
    let after = left.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(5),
        "stopped {after:?} after the client left"
    );
}

#[test]
fn a_short_or_empty_token_is_refused_and_its_file_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (content, says) in [
        ("x", "1 bytes"),
        ("0123456789abcde\n", "15 bytes"),
        ("\n", "empty"),
    ] {
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, content).expect("token file");
        let output = Command::new(env!("CARGO_BIN_EXE_toolwire-server"))
            .args(["--listen", "127.0.0.1:0", "--workdir"])
            .arg(dir.path().join("work"))
            .arg("--token-file")
            .arg(&token_file)
            .stdout(Stdio::null())
            .output()
            .expect("run toolwire-server");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{content:?} was accepted");
        assert!(
            stderr.contains(says) && stderr.contains("at least 16 bytes"),
            "{stderr}"
        );
        assert!(
            token_file.exists(),
            "the token file was deleted before it was checked"
        );
    }
}
