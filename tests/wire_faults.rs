//! Every wire-protocol and auth case of shared/FAULTS.md, on a raw socket.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, TestServer, next_json, raw_connect, send_text, within};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use toolwire::server::ServerConfig;

const LIMIT: Duration = Duration::from_secs(10);

/// The frame is an error whose text contains `expected`.
fn assert_error_contains(frame: &serde_json::Value, expected: &str) {
    let error = frame["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {frame}"));
    assert!(error.contains(expected), "expected {expected:?} in {frame}");
}

/// The connection is still served: a tools request gets its answer.
async fn assert_alive(socket: &mut common::RawSocket) {
    send_text(socket, r#"{"type":"tools","id":"alive"}"#).await;
    let reply = next_json(socket).await;
    assert_eq!(reply["type"], "tools");
    assert_eq!(reply["id"], "alive");
}

#[tokio::test]
async fn malformed_frames_get_an_error_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    let cases = [
        ("not json", "", "invalid JSON"),
        ("[1,2,3]", "", "expected a JSON object"),
        (r#"{"id":"7"}"#, "7", "missing string field `type`"),
        (
            r#"{"type":"explode","id":"8"}"#,
            "8",
            "unknown message type: explode",
        ),
        (r#"{"type":"request"}"#, "", "missing request"),
        (r#"{"type":"request","id":"9"}"#, "9", "missing request"),
        (r#"{"type":"tools"}"#, "", "missing field `id`"),
        (
            r#"{"type":"request","id":"10","request":{"tool_name":5}}"#,
            "10",
            "invalid request message",
        ),
    ];
    for (frame, id, expected) in cases {
        send_text(&mut socket, frame).await;
        let reply = next_json(&mut socket).await;
        assert_eq!(reply["type"], "response", "{frame} -> {reply}");
        assert_eq!(
            reply.get("id").and_then(|v| v.as_str()).unwrap_or(""),
            id,
            "{frame} -> {reply}"
        );
        let error = reply["error"].as_str().expect("error string");
        assert!(error.contains(expected), "{frame} -> {error}");
    }
    assert_alive(&mut socket).await;
}

#[tokio::test]
async fn a_bad_control_message_is_refused_in_its_own_ack() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    send_text(&mut socket, r#"{"type":"set_rules","id":"r1","rules":[{"permission":"bash","pattern":"*","action":"maybe"}]}"#).await;
    let reply = next_json(&mut socket).await;
    assert_eq!(reply["type"], "set_rules");
    assert_eq!(reply["id"], "r1");
    assert_error_contains(&reply, "maybe");
    assert!(
        server.shared.permissions.rules().is_empty(),
        "a refused message changes nothing"
    );
    assert_alive(&mut socket).await;
}

#[tokio::test]
async fn json_nested_very_deep_is_a_parse_error_not_a_crash() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    send_text(&mut socket, &deep).await;
    let reply = next_json(&mut socket).await;
    assert_error_contains(&reply, "invalid JSON");
    assert_alive(&mut socket).await;
}

#[tokio::test]
async fn a_binary_frame_gets_an_error_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    socket
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send");
    let reply = next_json(&mut socket).await;
    assert_error_contains(&reply, "binary frames are not supported");
    assert_alive(&mut socket).await;
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let server = TestServer::start_with(ServerConfig::default().max_message_bytes(64 * 1024)).await;
    let mut socket = raw_connect(&server).await;
    let big = json!({"type":"request","id":"big","request":{"tool_call_id":"c","tool_name":"echo","input":{"text":"x".repeat(200_000)}}});
    let _ = socket.send(Message::text(big.to_string())).await;
    let close = within(LIMIT, "close frame", async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("close frame with a code");
    assert_eq!(u16::from(close.code), 1009);
    // The server itself is unharmed.
    let mut other = raw_connect(&server).await;
    assert_alive(&mut other).await;
}

#[tokio::test]
async fn a_reused_id_is_refused_while_the_first_call_runs() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    let call = r#"{"type":"request","id":"dup","request":{"tool_call_id":"c1","tool_name":"sleep","input":{"ms":300}}}"#;
    send_text(&mut socket, call).await;
    send_text(&mut socket, call).await;
    let first = next_json(&mut socket).await;
    assert_eq!(first["id"], "dup");
    assert_error_contains(&first, "duplicate request id");
    let second = next_json(&mut socket).await;
    assert_eq!(second["id"], "dup");
    assert_eq!(
        second["response"]["output"], "slept 300 ms",
        "the first call is unaffected"
    );
}

/// Says hello asking for `cancel` and checks that it is granted.
async fn hello_with_cancel(socket: &mut common::RawSocket) {
    send_text(
        socket,
        r#"{"type":"hello","id":"h","version":1,"features":["cancel"]}"#,
    )
    .await;
    assert_eq!(
        next_json(socket).await,
        json!({"type":"hello","id":"h","version":1,"features":["cancel"]})
    );
}

#[tokio::test]
async fn cancel_of_an_unknown_or_finished_id_is_acknowledged_and_harmless() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    hello_with_cancel(&mut socket).await;
    send_text(
        &mut socket,
        r#"{"type":"cancel","id":"c1","target":"never-sent"}"#,
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"cancel","id":"c1"})
    );
    send_text(&mut socket, r#"{"type":"request","id":"r","request":{"tool_call_id":"x","tool_name":"echo","input":{"text":"a"}}}"#).await;
    assert_eq!(next_json(&mut socket).await["response"]["output"], "a");
    send_text(&mut socket, r#"{"type":"cancel","id":"c2","target":"r"}"#).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"cancel","id":"c2"})
    );
    assert_alive(&mut socket).await;
}

#[tokio::test]
async fn cancel_stops_a_running_call_with_one_final_response() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;
    hello_with_cancel(&mut socket).await;
    send_text(&mut socket, r#"{"type":"request","id":"long","request":{"tool_call_id":"x","tool_name":"sleep","input":{"ms":30000}}}"#).await;
    within(LIMIT, "call running", server.sleep.started.reached(1)).await;
    let started = Instant::now();
    send_text(&mut socket, r#"{"type":"cancel","id":"c","target":"long"}"#).await;
    let mut frames = [next_json(&mut socket).await, next_json(&mut socket).await];
    frames.sort_by_key(|f| f["type"].as_str().unwrap_or_default().to_owned());
    assert_eq!(frames[0], json!({"type":"cancel","id":"c"}));
    assert_eq!(
        frames[1],
        json!({"type":"response","id":"long","error":"tool call cancelled"})
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.sleep.cancelled.get(), 1);
    assert_alive(&mut socket).await;
}

async fn handshake_status(server: &TestServer, authorization: Option<&str>) -> u16 {
    let mut request = server.url.as_str().into_client_request().expect("request");
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().expect("header"));
    }
    match within(
        LIMIT,
        "handshake",
        tokio_tungstenite::connect_async(request),
    )
    .await
    {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

#[tokio::test]
async fn bad_credentials_get_401_before_the_upgrade() {
    let server = TestServer::start().await;
    assert_eq!(handshake_status(&server, None).await, 401);
    assert_eq!(handshake_status(&server, Some("Bearer wrong")).await, 401);
    assert_eq!(
        handshake_status(
            &server,
            Some(&format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]))
        )
        .await,
        401
    );
    assert_eq!(handshake_status(&server, Some("Bearer ")).await, 401);
    assert_eq!(
        handshake_status(&server, Some(&format!("Basic {TOKEN}"))).await,
        401
    );
    assert_eq!(
        handshake_status(&server, Some(&format!("Bearer {TOKEN}"))).await,
        101
    );
    // The typed client reports it as such.
    let err = toolwire::WsTransport::connect(
        &toolwire::Endpoint::Url(server.url.clone()),
        Some("wrong"),
        &toolwire::WsConfig::default(),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(err, toolwire::transport::ConnectError::Unauthorized),
        "{err}"
    );
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let server = TestServer::start().await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut body = String::new();
    within(LIMIT, "health", tcp.read_to_string(&mut body))
        .await
        .expect("read");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.ends_with("ok"), "{body}");
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_dropped() {
    let server = TestServer::start_with(
        ServerConfig::default().handshake_timeout(Duration::from_millis(300)),
    )
    .await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("partial request");
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    // The server closes the socket (possibly after a 408): read reaches EOF.
    let dropped = within(LIMIT, "the server to drop the connection", async {
        loop {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    dropped.await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "dropped after {elapsed:?}"
    );
}
