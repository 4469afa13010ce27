//! The heartbeat, both ends, against real sockets: a server that stops
//! reading is found silent and its calls fail with the reason; a client that
//! stops reading is dropped by the server; a long silent call lives on.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, TestServer, raw_connect, within};
use serde_json::json;
use toolwire::metrics::ClientMetrics;
use toolwire::server::ServerConfig;
use toolwire::{CallError, Endpoint, Peer, PeerConfig, ToolRequest, WsConfig};

const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_server_that_stops_answering_fails_the_pending_call_within_the_timeout() {
    // A WebSocket server that completes the handshake, then never reads
    // again: no answer, not even a pong.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (held, mut holding) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let socket = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        let _ = held.send(()).await;
        // Holds the socket open, unread, until the test ends.
        std::future::pending::<()>().await;
        drop(socket);
    });
    let metrics = ClientMetrics::new();
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{addr}/ws")),
        Some(TOKEN),
        &WsConfig::default(),
        PeerConfig::default()
            .extensions(false)
            .heartbeat(INTERVAL, TIMEOUT)
            .metrics(metrics.clone()),
    )
    .await
    .expect("connect");
    holding.recv().await.expect("the server holds the socket");

    let started = Instant::now();
    let result = within(
        Duration::from_secs(10),
        "the call to fail",
        peer.send(ToolRequest::new("echo", json!({"text": "hi"}))),
    )
    .await;
    let waited = started.elapsed();
    match &result {
        Err(CallError::ConnectionLost { reason }) => {
            assert!(reason.starts_with("peer unresponsive for 1."), "{reason}");
        }
        other => panic!("expected the connection to be lost, got {other:?}"),
    }
    assert!(
        waited >= TIMEOUT,
        "failed after {waited:?}, before the timeout"
    );
    assert!(
        waited < TIMEOUT + Duration::from_secs(1),
        "failed after {waited:?}"
    );
    assert!(
        metrics
            .encode()
            .contains("toolwire_client_heartbeat_failures_total 1"),
        "{}",
        metrics.encode()
    );
}

#[tokio::test]
async fn a_long_silent_call_keeps_its_connection() {
    let server = TestServer::start_with(ServerConfig::default().heartbeat(INTERVAL, TIMEOUT)).await;
    let peer = server
        .connect_with(PeerConfig::default().heartbeat(INTERVAL, TIMEOUT))
        .await;
    // Three heartbeat timeouts without a frame of the call itself.
    let response = within(
        Duration::from_secs(10),
        "a 3 s call",
        peer.send(ToolRequest::new("sleep", json!({"ms": 3000}))),
    )
    .await
    .expect("the call answers");
    assert!(!response.is_error, "{response:?}");
}

#[tokio::test]
async fn a_client_that_stops_answering_is_dropped_by_the_server() {
    let server = TestServer::start_with(ServerConfig::default().heartbeat(INTERVAL, TIMEOUT)).await;
    let mut sessions = server.sessions();
    // Connected, then never read: the server's pings get no pong.
    let socket = raw_connect(&server).await;
    within(TIMEOUT, "the session", sessions.wait_for(|n| *n == 1))
        .await
        .expect("watch");
    let opened = Instant::now();
    within(
        TIMEOUT + Duration::from_secs(2),
        "the silent session to end",
        sessions.wait_for(|n| *n == 0),
    )
    .await
    .expect("watch");
    assert!(
        opened.elapsed() >= TIMEOUT - INTERVAL,
        "{:?}",
        opened.elapsed()
    );
    let metrics = server_metrics(&server);
    assert!(
        metrics.contains("toolwire_server_heartbeat_failures_total 1"),
        "{metrics}"
    );
    drop(socket);
}

fn server_metrics(server: &TestServer) -> String {
    server.shared.metrics.encode()
}
