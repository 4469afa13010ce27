//! A dropped `/mcp` connection during a long call loses no result: the MCP
//! face's event streams start with a priming event (an event id and a retry
//! interval, SEP-1699), so a client whose connection drops while a call
//! prints nothing resumes the call's stream with `Last-Event-ID` and gets
//! its result — the call is not run twice. rmcp's own client, through a
//! proxy that cuts every open connection, against the real
//! `toolwire-server --mcp`.
//!
//! What this does not cover, because rmcp 3.9's session layer cannot: a call
//! that ends before the client is back. The session drops a request's
//! event cache with its last answer, so that answer is lost
//! (modelcontextprotocol/rust-sdk pull request 1165 keeps it; docs/MCP.md).
#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ContentBlock};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_connection_drops_still_returns_its_result_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = mcp_server(dir.path());
    let work = dir.path().join("work");
    let (started, go) = (work.join("started"), work.join("go"));
    mkfifo(&started);
    mkfifo(&go);
    let blip = common::proxy::Blip::to(server.ready.parse().expect("address")).await;

    let transport = StreamableHttpClientTransport::with_client(
        reqwest_rmcp::Client::builder()
            .build()
            .expect("http client"),
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", blip.addr))
            .auth_header(TOKEN),
    );
    let client = ().serve(transport).await.expect("initialize over /mcp");

    // The call says when it runs, then waits, printing nothing, for `go`;
    // it counts its runs in `runs`.
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
    let started_reader = started.clone();
    let said = tokio::task::spawn_blocking(move || std::fs::read_to_string(started_reader))
        .await
        .expect("reader")
        .expect("the call says it started");
    assert_eq!(said.trim(), "started");

    // The connection drops while the call is silent and the network is back
    // at once; the client resumes the call's stream: a GET naming the last
    // event it saw, an id of the call's stream (`INDEX/STREAM`; the
    // standalone stream's ids have no slash).
    let heads_before = blip.heads_seen();
    blip.cut();
    blip.restore();
    tokio::time::timeout(
        Duration::from_secs(30),
        blip.wait_for_answered(heads_before, |head| {
            let head = head.to_ascii_lowercase();
            head.starts_with("get /mcp")
                && head
                    .lines()
                    .any(|line| line.starts_with("last-event-id:") && line.contains('/'))
        }),
    )
    .await
    .expect("the client resumes the call's stream with Last-Event-ID");
    // Only once the server took the resumed stream does the call finish.
    let go_writer = go.clone();
    tokio::task::spawn_blocking(move || std::fs::write(go_writer, "now\n"))
        .await
        .expect("writer")
        .expect("release the call");

    let (client, result) = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the result arrives after the connection dropped")
        .expect("the call task");
    let result = result.expect("the call's result, resumed over a new connection");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let text: String = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect();
    assert!(text.contains("finished now"), "{text}");
    let runs = std::fs::read_to_string(work.join("runs")).expect("runs");
    assert_eq!(runs.lines().count(), 1, "the call ran once: {runs:?}");
    let _ = client.cancel().await;
}
