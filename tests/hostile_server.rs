//! The orchestrator's side against a deliberately hostile tool server (a
//! sandbox runs code a model wrote): garbage, binary frames, answers to ids
//! never sent, duplicate answers and oversized frames are dropped or end the
//! connection with a clear error — never a crash, a wedge or a wrong result.

mod common;

use std::time::Duration;

use common::within;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use toolwire::{CallError, Endpoint, Peer, PeerConfig, ToolRequest, WsConfig};

const LIMIT: Duration = Duration::from_secs(10);

/// Serves one connection with `answer`, which gets each request frame and
/// returns the frames to send back.
async fn hostile_server(
    answer: impl Fn(&Value) -> Vec<Message> + Send + 'static,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("the client sends JSON");
            for reply in answer(&frame) {
                if socket.send(reply).await.is_err() {
                    return;
                }
            }
        }
    });
    addr
}

/// Connects with `config`; in sol's core protocol (no hello) unless the
/// script answers hello, so it sees requests only.
async fn connect(addr: std::net::SocketAddr, ws: WsConfig, config: PeerConfig) -> Peer {
    within(
        LIMIT,
        "connect",
        Peer::connect(&Endpoint::Url(format!("ws://{addr}/ws")), None, &ws, config),
    )
    .await
    .expect("connect")
}

fn core_protocol() -> PeerConfig {
    PeerConfig::default().extensions(false)
}

fn response(id: &str, output: &str) -> Message {
    Message::text(json!({"type": "response", "id": id, "response": {"output": output}}).to_string())
}

#[tokio::test]
async fn garbage_foreign_ids_and_duplicates_are_dropped_and_every_call_gets_its_own_answer() {
    let addr = hostile_server(|frame| {
        let id = frame["id"].as_str().expect("an id").to_owned();
        let next: u64 = id.parse::<u64>().expect("numeric ids") + 1;
        vec![
            Message::binary(vec![0xde, 0xad, 0xbe, 0xef]),
            Message::text("{not json"),
            Message::text("[1,2,3]"),
            Message::text(r#"{"type":"no_such_type","id":"1"}"#),
            // An answer to the id the client will use next, before it exists.
            response(&next.to_string(), "forged for the next call"),
            response("999999", "an id never sent"),
            response(&id, &format!("real answer to {id}")),
            response(&id, "a duplicate answer"),
        ]
    })
    .await;
    let peer = connect(addr, WsConfig::default(), core_protocol()).await;
    for n in 0..5 {
        let response = within(
            LIMIT,
            "a call",
            peer.send(ToolRequest::new("echo", json!({"text": n.to_string()}))),
        )
        .await
        .expect("the real answer");
        assert!(
            response.output.starts_with("real answer to "),
            "call {n} got {:?}",
            response.output
        );
    }
    assert!(!peer.is_closed(), "the connection survives the garbage");
}

#[tokio::test]
async fn a_frame_over_the_clients_limit_ends_the_connection_with_a_clear_error() {
    let addr = hostile_server(|frame| {
        let id = frame["id"].as_str().expect("an id").to_owned();
        let huge = "x".repeat(2 << 20);
        vec![response(&id, &huge)]
    })
    .await;
    let peer = connect(
        addr,
        WsConfig::default().max_message_bytes(1 << 20),
        core_protocol(),
    )
    .await;
    let result = within(
        LIMIT,
        "the call to fail",
        peer.send(ToolRequest::new("echo", json!({"text": "hi"}))),
    )
    .await;
    match result {
        Err(CallError::ConnectionLost { reason }) => {
            assert!(reason.contains("size limit"), "{reason}");
            assert!(
                reason.len() < 200,
                "the error does not quote the frame: {reason}"
            );
        }
        other => panic!("expected a lost connection, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_an_error_that_quotes_only_its_head() {
    let addr = hostile_server(|frame| {
        let id = frame["id"].as_str().expect("an id").to_owned();
        // A response frame carrying none of response, error or a suspension,
        // padded with 1 MiB.
        vec![Message::text(
            json!({"type": "response", "id": id, "padding": "y".repeat(1 << 20)}).to_string(),
        )]
    })
    .await;
    let peer = connect(addr, WsConfig::default(), core_protocol()).await;
    let result = within(
        LIMIT,
        "the call",
        peer.send(ToolRequest::new("echo", json!({"text": "hi"}))),
    )
    .await;
    let error = result.expect_err("no usable answer");
    let text = error.to_string();
    assert!(text.len() < 500, "{} bytes of error", text.len());
}

/// Answers permission asks after `release`, counting how many run at once.
struct SlowPerson {
    asked: std::sync::atomic::AtomicUsize,
    running: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
    release: tokio::sync::Semaphore,
}

impl Default for SlowPerson {
    fn default() -> Self {
        Self {
            asked: Default::default(),
            running: Default::default(),
            most_at_once: Default::default(),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

#[async_trait::async_trait]
impl toolwire::InteractiveHandler for SlowPerson {
    async fn permission(
        &self,
        _ask: toolwire::protocol::PermissionAsk,
    ) -> toolwire::protocol::PermissionReply {
        use std::sync::atomic::Ordering::SeqCst;
        self.asked.fetch_add(1, SeqCst);
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.most_at_once.fetch_max(now, SeqCst);
        let _ = self.release.acquire().await.map(|permit| permit.forget());
        self.running.fetch_sub(1, SeqCst);
        toolwire::protocol::PermissionReply::Once
    }
    async fn questions(
        &self,
        _ask: toolwire::protocol::QuestionAsk,
    ) -> toolwire::context::QuestionAnswer {
        toolwire::context::QuestionAnswer::Rejected
    }
}

#[tokio::test]
async fn asks_for_calls_not_in_flight_are_refused_and_one_call_gets_a_few_at_once() {
    const FOREIGN: usize = 500;
    const FOR_THE_CALL: usize = 20;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (refused_all, mut refusals_done) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        let mut call_id = String::new();
        let (mut rejects, mut allows) = (0, 0);
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let frame: Value = serde_json::from_str(&text).expect("json");
            let id = frame["id"].as_str().unwrap_or_default().to_owned();
            let mut out = Vec::new();
            match frame["type"].as_str() {
                Some("hello") => out.push(Message::text(
                    json!({"type": "hello", "id": id, "version": 1, "features": ["interactive"]})
                        .to_string(),
                )),
                Some("request") => {
                    call_id = id.clone();
                    for n in 0..FOREIGN + FOR_THE_CALL {
                        let call = if n < FOREIGN {
                            "424242"
                        } else {
                            call_id.as_str()
                        };
                        out.push(Message::text(
                            json!({"type": "permission_ask", "id": format!("s{n}"), "call_id": call,
                                   "permission": "bash", "patterns": ["x"]})
                            .to_string(),
                        ));
                    }
                }
                Some("permission_reply") => {
                    if frame["reply"] == "reject" {
                        rejects += 1;
                        if rejects == FOREIGN + FOR_THE_CALL - toolwire::peer::MAX_ASKS_PER_CALL {
                            let _ = refused_all.send(()).await;
                        }
                    } else {
                        allows += 1;
                    }
                    if rejects + allows == FOREIGN + FOR_THE_CALL {
                        out.push(response(&call_id, "done"));
                    }
                }
                _ => {}
            }
            for message in out {
                if socket.send(message).await.is_err() {
                    return;
                }
            }
        }
    });
    let person = std::sync::Arc::new(SlowPerson::default());
    let peer = connect(
        addr,
        WsConfig::default(),
        PeerConfig::default().interactive(person.clone()),
    )
    .await;
    let call = peer.send(ToolRequest::new("guarded", json!({"command": "x"})));
    let supervise = async {
        refusals_done.recv().await.expect("the refusals");
        use std::sync::atomic::Ordering::SeqCst;
        // Everything else was refused without the person being asked.
        assert_eq!(person.asked.load(SeqCst), toolwire::peer::MAX_ASKS_PER_CALL);
        person
            .release
            .add_permits(toolwire::peer::MAX_ASKS_PER_CALL);
    };
    let (answer, ()) = within(LIMIT, "the call", futures::future::join(call, supervise)).await;
    assert_eq!(answer.expect("an answer").output, "done");
    let most = person
        .most_at_once
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(most, toolwire::peer::MAX_ASKS_PER_CALL);
}

#[tokio::test]
async fn a_tools_list_or_an_output_over_the_clients_limits_is_refused_naming_the_limit() {
    let addr = hostile_server(|frame| {
        let id = frame["id"].as_str().expect("an id").to_owned();
        match frame["type"].as_str() {
            Some("tools") => {
                let tools: Vec<Value> = (0..11)
                    .map(
                        |n| json!({"name": format!("t{n}"), "description": "", "input_schema": {}}),
                    )
                    .collect();
                vec![Message::text(
                    json!({"type": "tools", "id": id, "tools": tools}).to_string(),
                )]
            }
            _ => vec![response(&id, &"z".repeat(4096))],
        }
    })
    .await;
    let peer = connect(
        addr,
        WsConfig::default(),
        PeerConfig::default()
            .extensions(false)
            .max_tools(10)
            .max_output_bytes(1024),
    )
    .await;
    let tools = within(LIMIT, "tools", peer.fetch_tools()).await;
    let error = tools.expect_err("11 tools are over the limit").to_string();
    assert!(
        error.contains("11 tools") && error.contains("max_tools"),
        "{error}"
    );
    let output = within(
        LIMIT,
        "a call",
        peer.send(ToolRequest::new("echo", json!({"text": "hi"}))),
    )
    .await;
    let error = output
        .expect_err("4096 bytes are over the limit")
        .to_string();
    assert!(
        error.contains("4096 bytes") && error.contains("max_output_bytes"),
        "{error}"
    );
    assert!(!peer.is_closed(), "the connection stays usable");
}
