//! An orchestrator speaking sol's core protocol (no hello) gets exactly sol's
//! frames; and our peer drives a server that behaves like sol's own
//! ToolServer (403 without `Origin`, "unknown message type" for hello)
//! through the whole core protocol.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestServer, next_json, raw_connect, send_text, within};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use toolwire::transport::ConnectError;
use toolwire::{
    Action, CallError, Endpoint, Peer, PeerConfig, PermissionRule, ToolRequest, WsConfig,
};

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

/// State of the stand-in for sol's tool server, shared by its connections
/// as sol's `ToolServer` shares its managers.
#[derive(Default)]
struct SolState {
    allowed: Vec<String>,
    active: Option<Vec<String>>,
    answers: VecDeque<Vec<String>>,
}

/// A server that behaves as sol's executor.ToolServer does on Go's
/// `x/net/websocket`: an upgrade without `Origin` is refused with 403; core
/// messages only, "unknown message type: X" for anything else; tools
/// `echo`, `guarded` (asks the `bash` permission for its command) and
/// `question` (takes the next pushed answer).
async fn sol_like_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = Arc::new(Mutex::new(SolState::default()));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                // The callback's shape is tungstenite's; its error is an HTTP response.
                #[allow(clippy::result_large_err)]
                let check_origin = |request: &Request, response: Response| {
                    if request.headers().contains_key("origin") {
                        Ok(response)
                    } else {
                        let mut refusal = ErrorResponse::new(Some("Forbidden".into()));
                        *refusal.status_mut() = StatusCode::FORBIDDEN;
                        Err(refusal)
                    }
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, check_origin).await
                else {
                    return;
                };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let msg: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let reply = sol_reply(&msg, &mut state.lock().expect("state"));
                    if ws.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/ws")
}

/// sol's answer to one message.
fn sol_reply(msg: &Value, state: &mut SolState) -> Value {
    let id = msg["id"].clone();
    let tools = [
        ("echo", "Echoes text."),
        ("guarded", "Runs a command."),
        ("question", "Asks."),
    ];
    let active = |name: &str, state: &SolState| {
        state
            .active
            .as_ref()
            .is_none_or(|a| a.iter().any(|t| t == name))
    };
    match msg["type"].as_str().unwrap_or_default() {
        "tools" => {
            let list: Vec<Value> = tools
                .iter()
                .filter(|(name, _)| active(name, state))
                .map(|(name, d)| json!({"name":name,"description":d,"input_schema":{"type":"object"}}))
                .collect();
            json!({"type":"tools","id":id,"tools":list})
        }
        "request" => {
            let request = &msg["request"];
            let tool = request["tool_name"].as_str().unwrap_or_default();
            let call_id = request["tool_call_id"].clone();
            if !active(tool, state) {
                return json!({"type":"response","id":id,"error":format!("tool {tool:?} not available")});
            }
            match tool {
                "echo" => {
                    json!({"type":"response","id":id,"response":{"output":request["input"]["text"].clone()}})
                }
                "guarded" => {
                    let command = request["input"]["command"].as_str().unwrap_or_default();
                    if state.allowed.iter().any(|c| c == command) {
                        json!({"type":"response","id":id,"response":{"output":format!("ran {command}")}})
                    } else {
                        json!({"type":"response","id":id,"permission_needed":{"permission":"bash","patterns":[command],"toolCallID":call_id}})
                    }
                }
                _ => match state.answers.pop_front() {
                    Some(answer) => {
                        json!({"type":"response","id":id,"response":{"output":answer.join(",")}})
                    }
                    None => {
                        json!({"type":"response","id":id,"question_needed":{"questions":[{"question":"Go on?"}],"toolCallID":call_id}})
                    }
                },
            }
        }
        "set_rules" => {
            state.allowed = msg["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["action"] == "allow")
                .filter_map(|r| r["pattern"].as_str().map(str::to_owned))
                .collect();
            json!({"type":"set_rules","id":id})
        }
        "set_active_tools" => {
            state.active = serde_json::from_value(msg["active_tools"].clone()).ok();
            json!({"type":"set_active_tools","id":id})
        }
        "push_answers" => {
            let answers: Vec<Vec<String>> =
                serde_json::from_value(msg["answers"].clone()).unwrap_or_default();
            state.answers.extend(answers);
            json!({"type":"push_answers","id":id})
        }
        other => {
            json!({"type":"response","id":id,"error":format!("unknown message type: {other}")})
        }
    }
}

async fn connect_to_sol(url: &str, ws: &WsConfig) -> Result<Peer, ConnectError> {
    within(
        LIMIT,
        "connect",
        Peer::connect(
            &Endpoint::Url(url.to_owned()),
            None,
            ws,
            PeerConfig::default(),
        ),
    )
    .await
}

#[tokio::test]
async fn like_sols_own_server_an_upgrade_without_origin_is_refused() {
    let url = sol_like_server().await;
    let refused = connect_to_sol(&url, &WsConfig::default().origin(None)).await;
    assert!(
        matches!(refused, Err(ConnectError::Status(403))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_peer_drives_a_sol_server_through_the_core_protocol() {
    let url = sol_like_server().await;
    let peer = connect_to_sol(&url, &WsConfig::default())
        .await
        .expect("connects with the default Origin, despite hello being unknown");
    assert!(
        peer.features().is_empty(),
        "the core protocol, no extensions"
    );

    let names =
        |tools: Vec<toolwire::ToolInfo>| tools.into_iter().map(|t| t.name).collect::<Vec<_>>();
    let tools = within(LIMIT, "tools", peer.fetch_tools())
        .await
        .expect("tools");
    assert_eq!(names(tools), ["echo", "guarded", "question"]);
    let response = within(
        LIMIT,
        "call",
        peer.send(ToolRequest::new("echo", json!({"text":"from sol"}))),
    )
    .await
    .expect("answer");
    assert_eq!(response.output, "from sol");

    // permission_needed, then a rule, then the call runs.
    let ask = within(
        LIMIT,
        "guarded",
        peer.send(ToolRequest::new("guarded", json!({"command":"ls"}))),
    )
    .await;
    match ask {
        Err(CallError::PermissionNeeded(needed)) => {
            assert_eq!(needed.permission, "bash");
            assert_eq!(needed.patterns, ["ls"]);
        }
        other => panic!("expected permission_needed, got {other:?}"),
    }
    within(
        LIMIT,
        "set_rules",
        peer.set_rules(vec![PermissionRule::new("bash", "ls", Action::Allow)]),
    )
    .await
    .expect("ack");
    let ran = within(
        LIMIT,
        "guarded",
        peer.send(ToolRequest::new("guarded", json!({"command":"ls"}))),
    )
    .await
    .expect("allowed");
    assert_eq!(ran.output, "ran ls");

    // question_needed, then answers pushed, then the call is answered.
    let question = within(
        LIMIT,
        "question",
        peer.send(ToolRequest::new("question", json!({}))),
    )
    .await;
    assert!(
        matches!(question, Err(CallError::QuestionNeeded(_))),
        "{question:?}"
    );
    within(
        LIMIT,
        "push_answers",
        peer.push_answers(vec![vec!["yes".into()]]),
    )
    .await
    .expect("ack");
    let answered = within(
        LIMIT,
        "question",
        peer.send(ToolRequest::new("question", json!({}))),
    )
    .await
    .expect("answered");
    assert_eq!(answered.output, "yes");

    // Active tools restrict the list and the calls.
    within(
        LIMIT,
        "set_active_tools",
        peer.set_active_tools(vec!["echo".into()]),
    )
    .await
    .expect("ack");
    let tools = within(LIMIT, "tools", peer.fetch_tools())
        .await
        .expect("tools");
    assert_eq!(names(tools), ["echo"]);
    let refused = within(
        LIMIT,
        "inactive",
        peer.send(ToolRequest::new("guarded", json!({"command":"ls"}))),
    )
    .await
    .expect("an error response");
    assert!(refused.is_error);
    assert_eq!(refused.output, "tool \"guarded\" not available");
}
