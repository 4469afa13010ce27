//! Prometheus metrics as an operator scrapes them: the server's at
//! `/metrics` behind the bearer token, the client's from the library, both
//! parsed by the official Python client's OpenMetrics parser.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::python::python_with;
use common::{TOKEN, TestServer, within};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use toolwire::metrics::ClientMetrics;
use toolwire::{Action, PeerConfig, PermissionRule, ToolRequest};

const LIMIT: Duration = Duration::from_secs(20);

/// GETs `/metrics`; returns the status line, the headers and the body.
async fn scrape(server: &TestServer, token: Option<&str>) -> (String, String) {
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    tcp.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut text = String::new();
    within(LIMIT, "metrics", tcp.read_to_string(&mut text))
        .await
        .expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_owned(), body.to_owned())
}

/// Every sample of `text`, as `prometheus_client`'s OpenMetrics parser reads it.
fn parse(text: &str) -> Vec<Value> {
    const PARSER: &str = "
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = [
    {'name': s.name, 'labels': s.labels, 'value': s.value}
    for family in text_string_to_metric_families(sys.stdin.read())
    for s in family.samples
]
print(json.dumps(samples))
";
    let python = python_with(&["prometheus-client==0.21.1"]);
    let mut child = std::process::Command::new(python)
        .args(["-c", PARSER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the parser");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("parser output");
    assert!(
        output.status.success(),
        "not valid OpenMetrics text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

/// The value of the sample `name` with exactly `labels`.
fn value(samples: &[Value], name: &str, labels: Value) -> f64 {
    samples
        .iter()
        .find(|s| s["name"] == name && s["labels"] == labels)
        .and_then(|s| s["value"].as_f64())
        .unwrap_or_else(|| panic!("no sample {name} {labels} in {samples:#?}"))
}

#[tokio::test]
async fn server_metrics_need_the_token_and_count_every_call() {
    let server = TestServer::start().await;
    let (head, _) = scrape(&server, None).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = scrape(&server, Some("wrong-token-0123456789")).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");

    let peer = server.connect().await;
    peer.set_rules(vec![PermissionRule::new("bash", "bad *", Action::Deny)])
        .await
        .expect("rules");
    for tool in ["echo", "echo", "fail", "guarded", "nope"] {
        let input = match tool {
            "echo" => json!({"text": "hi"}),
            "guarded" => json!({"command": "bad idea"}),
            _ => json!({}),
        };
        within(LIMIT, "a call", peer.send(ToolRequest::new(tool, input)))
            .await
            .expect("an answer");
    }

    let (head, body) = scrape(&server, Some(TOKEN)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    let samples = parse(&body);
    let calls = "toolwire_server_calls_total";
    assert_eq!(
        value(&samples, calls, json!({"tool": "echo", "outcome": "ok"})),
        2.0
    );
    assert_eq!(
        value(&samples, calls, json!({"tool": "fail", "outcome": "error"})),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            calls,
            json!({"tool": "guarded", "outcome": "denied"})
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "toolwire_server_calls_refused_total", json!({})),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "toolwire_server_permission_decisions_total",
            json!({"permission": "bash", "decision": "deny"})
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "toolwire_server_call_duration_seconds_count",
            json!({"tool": "echo"})
        ),
        2.0
    );
    assert_eq!(
        value(&samples, "toolwire_server_calls_in_flight", json!({})),
        0.0
    );
    assert_eq!(
        value(&samples, "toolwire_server_connections", json!({})),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "toolwire_server_connections_opened_total",
            json!({})
        ),
        1.0
    );
}

#[tokio::test]
async fn client_metrics_count_calls_and_the_lost_connection() {
    let mut server = TestServer::start().await;
    let metrics = ClientMetrics::new();
    let peer = Arc::new(
        server
            .connect_with(PeerConfig::default().metrics(metrics.clone()))
            .await,
    );
    for tool in ["echo", "echo", "echo", "fail"] {
        let input = if tool == "echo" {
            json!({"text": "hi"})
        } else {
            json!({})
        };
        within(LIMIT, "a call", peer.send(ToolRequest::new(tool, input)))
            .await
            .expect("an answer");
    }
    let samples = parse(&metrics.encode());
    let calls = "toolwire_client_calls_total";
    assert_eq!(
        value(&samples, calls, json!({"tool": "echo", "outcome": "ok"})),
        3.0
    );
    assert_eq!(
        value(&samples, calls, json!({"tool": "fail", "outcome": "error"})),
        1.0
    );
    assert_eq!(
        value(&samples, "toolwire_client_connections", json!({})),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "toolwire_client_connections_lost_total",
            json!({})
        ),
        0.0
    );

    // The server goes away: the next call fails, and the loss is counted.
    within(LIMIT, "server shutdown", server.begin_shutdown())
        .await
        .expect("server task");
    let lost = within(
        LIMIT,
        "a call on a lost connection",
        peer.send(ToolRequest::new("echo", json!({"text": "late"}))),
    )
    .await;
    assert!(lost.is_err(), "{lost:?}");
    let samples = parse(&metrics.encode());
    assert_eq!(
        value(&samples, "toolwire_client_connections", json!({})),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "toolwire_client_connections_lost_total",
            json!({})
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "toolwire_client_calls_total",
            json!({"tool": "echo", "outcome": "lost"})
        ),
        1.0
    );
}
