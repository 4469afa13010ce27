//! The agent-loop example, offline: `examples/openai_loop.rs` runs against
//! a local replay server that serves recorded Chat Completions (tool calls
//! twice, then a final answer), its tools in a real Docker sandbox. The
//! server records what the loop sent, so the test checks the conversation
//! the model would have seen.

#[path = "../examples/openai_loop.rs"]
mod openai_loop;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde_json::{Value, json};
use toolwire::docker::{DockerLauncher, ImageConfig, LaunchConfig, Network};
use toolwire::{Action, PermissionRule};

#[derive(Default)]
struct Replay {
    answers: Mutex<VecDeque<Value>>,
    seen: Mutex<Vec<(Option<String>, Value)>>,
}

async fn completions(
    State(replay): State<Arc<Replay>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    replay.seen.lock().expect("seen").push((auth, request));
    let json_type = [(header::CONTENT_TYPE, "application/json")];
    match replay.answers.lock().expect("answers").pop_front() {
        Some(answer) => (StatusCode::OK, json_type, answer.to_string()),
        None => (
            StatusCode::BAD_REQUEST,
            json_type,
            json!({"error": {"message": "the replay has no more answers"}}).to_string(),
        ),
    }
}

fn recorded(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/openai_replay")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_loop_runs_offline_against_recorded_completions() {
    let replay = Arc::new(Replay::default());
    replay
        .answers
        .lock()
        .expect("answers")
        .extend(["turn1.json", "turn2.json", "turn3.json"].map(recorded));
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(replay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let images = ImageConfig::default().server_binary(env!("CARGO_BIN_EXE_toolwire-server"));
    let launcher = DockerLauncher::connect(images)
        .await
        .unwrap_or_else(|e| panic!("this test needs a running Docker engine: {e}"));
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("openai-loop-test")
                .network(Network::None),
        )
        .await
        .expect("launch");
    sandbox
        .executor()
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
    let config = openai_loop::LoopConfig {
        base_url: format!("http://{addr}/v1"),
        api_key: Some("test-key".into()),
        model: "replay-model".into(),
        max_turns: 5,
    };
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        openai_loop::run_loop(
            &config,
            sandbox.executor(),
            "Write a plan and count its steps.",
        ),
    )
    .await
    .expect("the loop ends in time");
    sandbox.shutdown().await.expect("shutdown");
    server.abort();
    assert_eq!(
        answer.expect("a final answer"),
        "The plan has two steps and the sandbox runs Linux."
    );

    let seen = replay.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 3, "three model turns");
    for (auth, request) in &seen {
        assert_eq!(auth.as_deref(), Some("Bearer test-key"));
        assert_eq!(request["model"], json!("replay-model"));
        let tools: Vec<&str> = request["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["function"]["name"].as_str().expect("name"))
            .collect();
        assert!(
            tools.contains(&"bash") && tools.contains(&"write"),
            "{tools:?}"
        );
    }
    // Turn 2 carries turn 1's results, by id, in the model's order.
    let messages = seen[1].1["messages"].as_array().expect("messages");
    let tool_messages: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_messages.len(), 2);
    assert_eq!(tool_messages[0]["tool_call_id"], json!("call_write"));
    assert!(
        tool_messages[0]["content"]
            .as_str()
            .expect("text")
            .contains("plan.txt")
    );
    assert_eq!(tool_messages[1]["tool_call_id"], json!("call_kernel"));
    assert_eq!(tool_messages[1]["content"], json!("Linux\n"));
    assert_eq!(
        messages[2]["role"],
        json!("assistant"),
        "the model's own message is kept"
    );
    // Turn 3 sees the file the sandbox wrote in turn 1: two lines.
    let last = seen[2].1["messages"]
        .as_array()
        .expect("messages")
        .last()
        .expect("last")
        .clone();
    assert_eq!(last["tool_call_id"], json!("call_count"));
    assert_eq!(last["content"].as_str().map(str::trim), Some("2"));
}
