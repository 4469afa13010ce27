//! The server's session runs over any frame transport: here an in-memory
//! channel pair, with no socket, no HTTP and no token in between.

mod common;

use std::time::Duration;

use common::within;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use toolwire::server::{Auth, ServerConfig, ToolServer};
use toolwire::transport::{Frame, FrameTransport};
use toolwire::{
    Action, CallOptions, LocalExecutor, Peer, PeerConfig, PermissionRule, ToolRequest,
    channel_pair, typed,
};

const LIMIT: Duration = Duration::from_secs(10);

fn server(dir: &std::path::Path) -> ToolServer {
    let executor = LocalExecutor::new(dir)
        .with_tool(typed(toolwire::tools::bench::Echo))
        .and_then(|e| e.with_tool(typed(toolwire::tools::bench::Sleep)))
        .and_then(|e| e.with_tool(typed(common::Guarded)))
        .expect("tools register");
    ToolServer::new(executor, Auth::InsecureNoAuth, ServerConfig::default())
}

#[tokio::test]
async fn a_peer_over_a_channel_pair_calls_controls_and_says_hello() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path());
    let (client, server_end) = channel_pair(16);
    let session = tokio::spawn(server.serve_connection(server_end));
    let peer = within(LIMIT, "hello", Peer::start(client, PeerConfig::default()))
        .await
        .expect("hello over the channel");
    assert!(peer.features().iter().any(|f| f == "cancel"));

    let echo = within(
        LIMIT,
        "echo",
        peer.send(ToolRequest::new("echo", json!({"text": "over a channel"}))),
    )
    .await
    .expect("answer");
    assert_eq!(echo.output, "over a channel");

    within(
        LIMIT,
        "rules",
        peer.set_rules(vec![PermissionRule::new("bash", "git *", Action::Allow)]),
    )
    .await
    .expect("ack");
    let allowed = within(
        LIMIT,
        "guarded",
        peer.send(ToolRequest::new("guarded", json!({"command": "git log"}))),
    )
    .await
    .expect("answer");
    assert_eq!(allowed.output, "ran git log");
    assert_eq!(server.shared().permissions.rules().len(), 1);

    // A caller's timeout cancels the call in the session.
    let timed_out = within(
        LIMIT,
        "timeout",
        peer.send_with(
            ToolRequest::new("sleep", json!({"ms": 30_000})),
            CallOptions::default().timeout(Duration::from_millis(50)),
        ),
    )
    .await;
    assert!(timed_out.is_err(), "{timed_out:?}");

    // Closing the client ends the session: its future completes.
    peer.close().await;
    within(LIMIT, "the session to end", session)
        .await
        .expect("session task");
}

/// The raw end of a channel pair, for frames no well-behaved peer sends.
struct Raw {
    sink: toolwire::transport::FrameSink,
    stream: toolwire::transport::FrameStream,
}

impl Raw {
    async fn send(&mut self, frame: Frame) {
        self.sink.send(frame).await.expect("send");
    }

    async fn next_json(&mut self) -> Value {
        match within(LIMIT, "a frame", self.stream.next()).await {
            Some(Ok(Frame::Text(text))) => serde_json::from_str(&text).expect("JSON"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_frames_over_a_channel_get_errors_and_the_session_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path());
    let (client, server_end) = channel_pair(16);
    let session = tokio::spawn(server.serve_connection(server_end));
    let (sink, stream) = client.into_split();
    let mut raw = Raw { sink, stream };

    raw.send(Frame::Text("not json".into())).await;
    let refused = raw.next_json().await;
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("invalid JSON")),
        "{refused}"
    );

    raw.send(Frame::Binary(vec![1, 2, 3])).await;
    let binary = raw.next_json().await;
    assert_eq!(
        binary["error"],
        "binary frames are not supported: send JSON text frames"
    );

    raw.send(Frame::Text(
        json!({"type":"request","id":"7","request":{"tool_call_id":"c","tool_name":"echo","input":{"text":"still here"}}})
            .to_string()
            .into(),
    ))
    .await;
    assert_eq!(
        raw.next_json().await,
        json!({"type":"response","id":"7","response":{"output":"still here"}})
    );

    // A client that goes away mid-call: the session cancels it and ends.
    raw.send(Frame::Text(
        json!({"type":"request","id":"8","request":{"tool_call_id":"c","tool_name":"sleep","input":{"ms":30000}}})
            .to_string()
            .into(),
    ))
    .await;
    drop(raw);
    within(LIMIT, "the session to end", session)
        .await
        .expect("session task");
}
