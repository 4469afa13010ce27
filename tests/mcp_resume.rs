//! A dropped `/mcp` connection loses no result: the MCP
//! face's event streams start with a priming event (an event id and a retry
//! interval, SEP-1699), so a client whose connection drops while a call
//! prints nothing resumes the call's stream with `Last-Event-ID` and gets
//! its result — the call is not run twice. rmcp's own client, through a
//! proxy that cuts every open connection, against the real
//! `toolwire-server --mcp`.
//!
//! A call that ends while the client is cut off is covered too: the face
//! keeps every stream's events in its `ReplayStore` a while (rmcp 3.9's own
//! session cache forgets a request's stream with its last answer).
#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

const TOKEN: &str = "mcp-resume-token-0123456789";

/// A `toolwire-server --mcp` allowing everything, working in `dir/work`.
fn mcp_server(dir: &Path) -> common::binary::ServerProcess {
    let rules = dir.join("rules.json");
    std::fs::write(
        &rules,
        r#"[{"permission": "*", "pattern": "*", "action": "allow"}]"#,
    )
    .expect("rules");
    let token_file = dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("token");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).expect("workdir");
    common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--mcp",
        "--token-file",
        token_file.to_str().expect("utf-8"),
        "--rules",
        rules.to_str().expect("utf-8"),
        "--workdir",
        work.to_str().expect("utf-8"),
    ])
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A server, a proxy in front of it, an initialized rmcp client through
/// the proxy, and a bash call started through it that waits for `go`.
struct Running {
    _dir: tempfile::TempDir,
    server: common::binary::ServerProcess,
    blip: common::proxy::Blip,
    work: std::path::PathBuf,
    call: tokio::task::JoinHandle<(
        RunningService<RoleClient, ()>,
        Result<CallToolResult, rmcp::ServiceError>,
    )>,
}

impl Running {
    /// Starts the call and waits until it runs.
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = mcp_server(dir.path());
        let work = dir.path().join("work");
        mkfifo(&work.join("started"));
        mkfifo(&work.join("go"));
        let blip = common::proxy::Blip::to(server.ready.parse().expect("address")).await;
        let transport = StreamableHttpClientTransport::with_client(
            reqwest_rmcp::Client::builder()
                .build()
                .expect("http client"),
            StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", blip.addr))
                .auth_header(TOKEN),
        );
        let client = ().serve(transport).await.expect("initialize over /mcp");
        // The call says when it runs, then waits, printing nothing, for
        // `go`; it counts its runs in `runs`.
        let command =
            "echo run >> runs; echo started > started; read word < go; echo \"finished $word\"";
        let arguments = json!({ "command": command });
        let serde_json::Value::Object(arguments) = arguments else {
            unreachable!("an object")
        };
        let call = tokio::spawn(async move {
            let result = client
                .call_tool(CallToolRequestParams::new("bash").with_arguments(arguments))
                .await;
            (client, result)
        });
        let started = work.join("started");
        let said = tokio::task::spawn_blocking(move || std::fs::read_to_string(started))
            .await
            .expect("reader")
            .expect("the call says it started");
        assert_eq!(said.trim(), "started");
        Self {
            _dir: dir,
            server,
            blip,
            work,
            call,
        }
    }

    /// Waits until, on a connection after the first `heads_before`, the
    /// client resumed the call's stream and the server answered.
    async fn resumed_after(&self, heads_before: usize) {
        tokio::time::timeout(
            Duration::from_secs(30),
            self.blip
                .wait_for_answered(heads_before, resumes_a_call_stream),
        )
        .await
        .expect("the client resumes the call's stream with Last-Event-ID");
    }

    /// Lets the call finish.
    async fn release(&self) {
        let go = self.work.join("go");
        tokio::task::spawn_blocking(move || std::fs::write(go, "now\n"))
            .await
            .expect("writer")
            .expect("release the call");
    }

    /// The call's result, which must be the one run's output.
    async fn finish(self) {
        let (client, result) = tokio::time::timeout(Duration::from_secs(30), self.call)
            .await
            .expect("the result arrives after the connection dropped")
            .expect("the call task");
        let result = result.expect("the call's result, resumed over a new connection");
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let text: String = result
            .content
            .iter()
            .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
            .collect();
        assert!(text.contains("finished now"), "{text}");
        let runs = std::fs::read_to_string(self.work.join("runs")).expect("runs");
        assert_eq!(runs.lines().count(), 1, "the call ran once: {runs:?}");
        let _ = client.cancel().await;
    }
}

/// A resumed GET of a call's stream (`Last-Event-ID` of the form
/// `STREAM/INDEX`; the standalone stream's is `SESSION:common/INDEX`).
fn resumes_a_call_stream(head: &str) -> bool {
    let head = head.to_ascii_lowercase();
    head.starts_with("get /mcp")
        && head.lines().any(|line| {
            line.starts_with("last-event-id:") && line.contains('/') && !line.contains(":common/")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_connection_drops_while_it_runs_returns_its_result_once() {
    let running = Running::start().await;
    // The connection drops while the call is silent and the network is back
    // at once; the client resumes the call's stream.
    let heads_before = running.blip.heads_seen();
    running.blip.cut();
    running.blip.restore();
    running.resumed_after(heads_before).await;
    // Only once the server took the resumed stream does the call finish.
    running.release().await;
    running.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_while_its_client_is_cut_off_returns_its_result_once() {
    let running = Running::start().await;
    running.blip.cut();
    running.release().await;
    // The server has the answer while nothing reaches the client.
    let address = running.server.ready.clone();
    tokio::time::timeout(Duration::from_secs(30), bash_calls_done(&address, 1))
        .await
        .expect("the server ends the call");
    let heads_before = running.blip.heads_seen();
    running.blip.restore();
    running.resumed_after(heads_before).await;
    running.finish().await;
}

/// Waits until the server's `/metrics` (reached directly, not through the
/// proxy) counts `n` bash calls that ended well: the server's own word.
async fn bash_calls_done(address: &str, n: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let wanted = format!("toolwire_server_calls_total{{tool=\"bash\",outcome=\"ok\"}} {n}");
    loop {
        let mut tcp = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        tcp.write_all(
            format!(
                "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
        let mut text = String::new();
        tcp.read_to_string(&mut text).await.expect("read");
        if text.lines().any(|line| line == wanted) {
            return;
        }
        // The metrics have no push: ask again shortly.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
