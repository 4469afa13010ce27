//! An orchestrator speaking sol's core protocol (no hello) gets exactly sol's
//! frames; and our transport keeps working against a server that, like sol's
//! ToolServer, answers hello with "unknown message type".

mod common;

use std::time::Duration;

use common::{TestServer, next_json, raw_connect, send_text, within};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use toolwire::{Transport, WsConfig, WsTransport};

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_core_client_gets_exactly_sols_frames() {
    let server = TestServer::start().await;
    let mut socket = raw_connect(&server).await;

    send_text(
        &mut socket,
        r#"{"type":"set_active_tools","id":"1","active_tools":["echo","guarded","sleep"]}"#,
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"set_active_tools","id":"1"})
    );

    send_text(&mut socket, r#"{"type":"tools","id":"2"}"#).await;
    let tools = next_json(&mut socket).await;
    let keys: Vec<&String> = tools.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["id", "tools", "type"]);
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["echo", "guarded", "sleep"]);
    for tool in tools["tools"].as_array().expect("list") {
        let keys: Vec<&String> = tool.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["description", "input_schema", "name"]);
    }

    send_text(&mut socket, r#"{"type":"request","id":"3","request":{"tool_call_id":"c1","tool_name":"echo","input":{"text":"hi"}}}"#).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"response","id":"3","response":{"output":"hi"}})
    );

    send_text(&mut socket, r#"{"type":"set_rules","id":"4","rules":[{"permission":"bash","pattern":"rm *","action":"deny"}]}"#).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"set_rules","id":"4"})
    );
    send_text(&mut socket, r#"{"type":"request","id":"5","request":{"tool_call_id":"c2","tool_name":"guarded","input":{"command":"ls"}}}"#).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"response","id":"5","permission_needed":{"permission":"bash","patterns":["ls"],"toolCallID":"c2"}})
    );
    send_text(&mut socket, r#"{"type":"request","id":"6","request":{"tool_call_id":"c3","tool_name":"guarded","input":{"command":"rm x"}}}"#).await;
    let denied = next_json(&mut socket).await;
    assert_eq!(denied["response"]["denied"], true, "{denied}");

    send_text(
        &mut socket,
        r#"{"type":"push_answers","id":"7","answers":[["yes"]]}"#,
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"push_answers","id":"7"})
    );

    // Extensions do not exist for a client that never said hello.
    for kind in ["cancel", "permission_reply", "question_reply"] {
        let frame = match kind {
            "cancel" => json!({"type":"cancel","id":"8","target":"3"}),
            "permission_reply" => json!({"type":"permission_reply","id":"8","reply":"once"}),
            _ => json!({"type":"question_reply","id":"8","answers":[]}),
        };
        send_text(&mut socket, &frame.to_string()).await;
        assert_eq!(
            next_json(&mut socket).await,
            json!({"type":"response","id":"8","error":format!("unknown message type: {kind}")})
        );
    }

    // A call that would stream progress or emit events sends nothing but its
    // response to a core client: the next frame after it is our tools reply.
    send_text(&mut socket, r#"{"type":"request","id":"9","request":{"tool_call_id":"c4","tool_name":"sleep","input":{"ms":20}}}"#).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type":"response","id":"9","response":{"output":"slept 20 ms"}})
    );
    send_text(&mut socket, r#"{"type":"tools","id":"10"}"#).await;
    assert_eq!(next_json(&mut socket).await["id"], "10");
}

/// A server that behaves as sol's executor.ToolServer does: core messages
/// only, "unknown message type: X" for anything else.
async fn sol_like_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let msg: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let id = msg["id"].clone();
                    let reply = match msg["type"].as_str().unwrap_or_default() {
                        "tools" => {
                            json!({"type":"tools","id":id,"tools":[{"name":"echo","description":"d","input_schema":{"type":"object"}}]})
                        }
                        "request" => {
                            json!({"type":"response","id":id,"response":{"output":msg["request"]["input"]["text"].clone()}})
                        }
                        "set_rules" | "set_active_tools" | "push_answers" => {
                            json!({"type":msg["type"],"id":id})
                        }
                        other => {
                            json!({"type":"response","id":id,"error":format!("unknown message type: {other}")})
                        }
                    };
                    if ws.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/ws")
}

#[tokio::test]
async fn the_transport_falls_back_to_the_core_against_a_sol_server() {
    let url = sol_like_server().await;
    let transport = within(
        LIMIT,
        "connect",
        WsTransport::connect(&url, None, WsConfig::default()),
    )
    .await
    .expect("connects despite hello being unknown");
    assert!(transport.features().is_empty());
    let tools = within(LIMIT, "tools", transport.fetch_tools())
        .await
        .expect("tools");
    assert_eq!(tools[0].name, "echo");
    let response = within(
        LIMIT,
        "call",
        transport.send(toolwire::ToolRequest::new(
            "echo",
            json!({"text":"from sol"}),
        )),
    )
    .await
    .expect("answer");
    assert_eq!(response.output, "from sol");
    within(LIMIT, "set_rules", transport.set_rules(vec![]))
        .await
        .expect("ack");
}
