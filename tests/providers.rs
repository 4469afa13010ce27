//! The model providers' formats: golden files of each API's documented
//! shapes round-tripped, one turn's calls run through real tools, and the
//! Router.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use toolwire::executor::{Router, RouterError};
use toolwire::providers::{ExportOptions, Format, ProviderCall, ToolResult, run_calls};
use toolwire::{CallOptions, Executor, LocalExecutor, ToolInfo, ToolRequest, typed};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto-examples/providers")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const FORMATS: [Format; 5] = [
    Format::OpenAi,
    Format::OpenAiResponses,
    Format::Anthropic,
    Format::Gemini,
    Format::Mcp,
];

/// The answer without its envelope: what `parse_calls` also takes.
fn inner(format: Format, response: &Value) -> Option<Value> {
    match format {
        Format::OpenAi => Some(response["choices"][0]["message"].clone()),
        Format::OpenAiResponses => Some(response["output"].clone()),
        Format::Anthropic => Some(response["content"].clone()),
        Format::Gemini => Some(response["candidates"][0]["content"].clone()),
        _ => None,
    }
}

#[test]
fn every_format_round_trips_its_golden_files() {
    let tools: Vec<ToolInfo> =
        serde_json::from_value(load(&examples().join("tools.json"))).expect("tools");
    let expected_calls = load(&examples().join("calls.json"));
    let results: Vec<ToolResult> = load(&examples().join("results.json"))
        .as_array()
        .expect("results")
        .iter()
        .map(|r| ToolResult {
            text: r["text"].as_str().expect("text").to_owned(),
            is_error: r["is_error"].as_bool().expect("is_error"),
            structured: None,
        })
        .collect();
    for format in FORMATS {
        let dir = examples().join(format.to_string());
        let exported = format
            .tool_definitions(&tools, ExportOptions::default())
            .expect("export");
        assert_eq!(
            exported,
            load(&dir.join("tools.json")),
            "{format}: tools.json"
        );
        let strict = format
            .tool_definitions(&tools, ExportOptions::default().strict(true))
            .expect("export strict");
        let strict_file = dir.join("tools_strict.json");
        if strict_file.exists() {
            assert_eq!(strict, load(&strict_file), "{format}: tools_strict.json");
        } else {
            assert_eq!(strict, exported, "{format}: strict is OpenAI's only");
        }

        let response = load(&dir.join("response.json"));
        let calls = format.parse_calls(&response).expect("parse");
        let seen: Vec<Value> = calls
            .iter()
            .map(|c| json!({"name": c.name, "input": c.input.clone().expect("input")}))
            .collect();
        assert_eq!(Value::Array(seen), expected_calls, "{format}: calls");
        if let Some(inner) = inner(format, &response) {
            assert_eq!(
                format.parse_calls(&inner).expect("inner"),
                calls,
                "{format}: inner"
            );
        }
        let messages = format.result_messages(&calls, &results);
        assert_eq!(
            Value::Array(messages),
            load(&dir.join("results.json")),
            "{format}: results.json"
        );
    }
}

fn sandbox_like() -> (tempfile::TempDir, Arc<LocalExecutor>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = toolwire::tools::executor(dir.path(), Default::default()).expect("executor");
    executor
        .shared()
        .permissions
        .set_rules(vec![toolwire::PermissionRule::new(
            "*",
            "*",
            toolwire::Action::Allow,
        )]);
    (dir, Arc::new(executor))
}

#[tokio::test]
async fn a_turn_runs_concurrently_and_answers_in_the_models_order() {
    let (dir, executor) = sandbox_like();
    std::fs::write(dir.path().join("a.txt"), "alpha\n").expect("write");
    // The first call ends last: its result still comes first.
    let message = json!({"role": "assistant", "tool_calls": [
        {"id": "slow", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"sleep 0.3; echo slow\"}"}},
        {"id": "bad", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": "}},
        {"id": "fast", "type": "function", "function": {"name": "read", "arguments": "{\"path\": \"a.txt\"}"}},
        {"id": "nope", "type": "function", "function": {"name": "teleport", "arguments": "{}"}}
    ]});
    let calls = Format::OpenAi.parse_calls(&message).expect("parse");
    let results = run_calls(&*executor, &calls, "s1", &CallOptions::default()).await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].text.trim(), "slow");
    assert!(!results[0].is_error);
    assert!(
        results[1].is_error && results[1].text.contains("not valid JSON"),
        "{:?}",
        results[1]
    );
    assert!(results[2].text.contains("alpha"), "{:?}", results[2]);
    assert!(
        results[3].is_error && results[3].text.contains("unknown tool"),
        "{:?}",
        results[3]
    );
    let messages = Format::OpenAi.result_messages(&calls, &results);
    let ids: Vec<&str> = messages
        .iter()
        .map(|m| m["tool_call_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["slow", "bad", "fast", "nope"]);
    // Each of these two calls waits for the other to have started: run one
    // after the other, the turn could never end.
    let (_dir2, executor2) = sandbox_like();
    let two = json!([
        {"type": "tool_use", "id": "x", "name": "bash", "input": {"command": "touch x; until [ -e y ]; do sleep 0.01; done; echo X"}},
        {"type": "tool_use", "id": "y", "name": "bash", "input": {"command": "touch y; until [ -e x ]; do sleep 0.01; done; echo Y"}}
    ]);
    let calls = Format::Anthropic.parse_calls(&two).expect("parse");
    let results = common::within(
        std::time::Duration::from_secs(20),
        "two calls that wait for each other (they run one after the other?)",
        run_calls(&*executor2, &calls, "s2", &CallOptions::default()),
    )
    .await;
    let texts: Vec<&str> = results.iter().map(|r| r.text.trim()).collect();
    assert_eq!(texts, ["X", "Y"]);
}

#[tokio::test]
async fn a_permission_nobody_granted_is_a_denied_result_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = toolwire::tools::executor(dir.path(), Default::default()).expect("executor");
    let call = ProviderCall {
        id: "c1".into(),
        name: "bash".into(),
        input: Ok(json!({"command": "touch marker"})),
    };
    let results = run_calls(&executor, &[call], "s", &CallOptions::default()).await;
    assert!(results[0].is_error);
    assert!(
        results[0].text.contains("`bash`") && results[0].text.contains("touch marker"),
        "{}",
        results[0].text
    );
    assert!(!dir.path().join("marker").exists(), "nothing ran");
}

fn one_tool_executor(name: &'static str, dir: &Path) -> Arc<dyn Executor> {
    struct Named(&'static str);
    #[async_trait::async_trait]
    impl toolwire::TypedTool for Named {
        type Input = common::Empty;
        fn name(&self) -> &str {
            self.0
        }
        fn description(&self) -> &str {
            "Says which executor ran it."
        }
        async fn run(
            &self,
            _input: common::Empty,
            _ctx: toolwire::CallContext,
        ) -> Result<toolwire::ToolResponse, toolwire::ToolError> {
            Ok(toolwire::ToolResponse::text(format!("{} ran", self.0)))
        }
    }
    Arc::new(
        LocalExecutor::new(dir)
            .with_tool(typed(Named(name)))
            .expect("register"),
    )
}

#[tokio::test]
async fn the_router_merges_executors_and_sends_each_call_to_its_owner() {
    let (_dir, sandbox) = sandbox_like();
    let own = tempfile::tempdir().expect("tempdir");
    let router = Router::new([
        ("sandbox".to_owned(), sandbox.clone() as Arc<dyn Executor>),
        (
            "orchestrator".to_owned(),
            one_tool_executor("lookup", own.path()),
        ),
    ])
    .await
    .expect("router");
    let names: Vec<String> = router
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(
        names.contains(&"bash".to_owned()) && names.contains(&"lookup".to_owned()),
        "{names:?}"
    );
    assert_eq!(router.owner_of("lookup"), Some("orchestrator"));
    let looked = router
        .execute(ToolRequest::new("lookup", json!({})))
        .await
        .expect("call");
    assert_eq!(looked.output, "lookup ran");
    let echoed = router
        .execute(ToolRequest::new("bash", json!({"command": "echo routed"})))
        .await
        .expect("call");
    assert_eq!(echoed.output.trim(), "routed");

    // Active tools apply across both; refusals read as LocalExecutor's do.
    router.set_active_tools(Some(["lookup".to_owned()]));
    let names: Vec<String> = router
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["lookup"]);
    let inactive = router
        .execute(ToolRequest::new("bash", json!({"command": "echo no"})))
        .await
        .expect("response");
    let local_inactive = {
        sandbox.set_active_tools(["read".to_owned()]);
        sandbox
            .execute(ToolRequest::new("bash", json!({"command": "echo no"})))
            .await
            .expect("response")
    };
    assert_eq!(inactive, local_inactive);
    let unknown = router
        .execute(ToolRequest::new("teleport", json!({})))
        .await
        .expect("response");
    let local_unknown = sandbox
        .execute(ToolRequest::new("teleport", json!({})))
        .await
        .expect("response");
    assert_eq!(unknown, local_unknown);
    router.set_active_tools(None::<Vec<String>>);
    assert_eq!(
        router.tools().await.expect("tools").len(),
        names_len(&router).await
    );
}

async fn names_len(router: &Router) -> usize {
    router.tools().await.expect("tools").len()
}

#[tokio::test]
async fn a_name_offered_twice_is_an_error_naming_both_sides() {
    let (_dir, sandbox) = sandbox_like();
    let own = tempfile::tempdir().expect("tempdir");
    let error = Router::new([
        ("sandbox".to_owned(), sandbox as Arc<dyn Executor>),
        ("mine".to_owned(), one_tool_executor("bash", own.path())),
    ])
    .await
    .expect_err("a clash");
    assert!(
        matches!(&error, RouterError::Clash { tool, first, second } if tool == "bash" && first == "sandbox" && second == "mine")
    );
    assert_eq!(
        error.to_string(),
        "tool `bash` is offered by both `sandbox` and `mine`"
    );
    let twice = Router::new([
        ("a".to_owned(), one_tool_executor("x", own.path())),
        ("a".to_owned(), one_tool_executor("y", own.path())),
    ])
    .await
    .expect_err("same label");
    assert!(matches!(twice, RouterError::DuplicateLabel(label) if label == "a"));
}
