//! Tools registered with `register_deferred` get their input validator at
//! the first call: input is checked exactly as for `register`, and a schema
//! that does not compile fails the call (naming why) instead of running the
//! tool, while `register` still refuses such a schema at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};
use toolwire::executor::RegisterError;
use toolwire::{
    CallContext, Executor, LocalExecutor, Tool, ToolError, ToolInfo, ToolRequest, ToolResponse,
};

/// Answers "ran" and counts its runs.
struct Counted {
    schema: Value,
    runs: Arc<AtomicUsize>,
}

#[async_trait]
impl Tool for Counted {
    fn info(&self) -> ToolInfo {
        ToolInfo {
            name: "counted".into(),
            description: "Counts its runs.".into(),
            input_schema: self.schema.clone(),
        }
    }

    async fn call(&self, _input: Value, _ctx: CallContext) -> Result<ToolResponse, ToolError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(ToolResponse::text("ran"))
    }
}

fn counted(schema: Value) -> (Arc<Counted>, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let tool = Arc::new(Counted {
        schema,
        runs: runs.clone(),
    });
    (tool, runs)
}

const SCHEMA: fn() -> Value = || {
    json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"]
    })
};

/// A schema no draft accepts: `type` must be a string or an array.
const BROKEN: fn() -> Value = || json!({"type": "object", "properties": {"n": {"type": 7}}});

#[tokio::test]
async fn a_deferred_validator_checks_input_like_an_eager_one() {
    let (tool, runs) = counted(SCHEMA());
    let mut executor = LocalExecutor::new(std::env::temp_dir());
    executor.register_deferred(tool).expect("register");

    let bad = executor
        .execute(ToolRequest::new("counted", json!({"n": "seven"})))
        .await
        .expect("answer");
    assert!(bad.is_error, "{}", bad.output);
    assert!(bad.output.contains("field `n`"), "{}", bad.output);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "invalid input must not run");

    let good = executor
        .execute(ToolRequest::new("counted", json!({"n": 7})))
        .await
        .expect("answer");
    assert!(!good.is_error, "{}", good.output);
    assert_eq!(good.output, "ran");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_deferred_tool_with_a_broken_schema_fails_each_call_and_never_runs() {
    let (tool, runs) = counted(BROKEN());
    let mut executor = LocalExecutor::new(std::env::temp_dir());
    executor
        .register_deferred(tool)
        .expect("deferred: nothing compiled yet");
    for _ in 0..2 {
        let response = executor
            .execute(ToolRequest::new("counted", json!({"n": 1})))
            .await
            .expect("answer");
        assert!(response.is_error);
        assert!(
            response
                .output
                .contains("tool `counted` has an invalid input schema: 7 is not valid"),
            "{}",
            response.output
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    let (tool, _) = counted(BROKEN());
    let mut eager = LocalExecutor::new(std::env::temp_dir());
    let refused = eager.register(tool).map(|_| ()).expect_err("eager refuses");
    assert!(
        matches!(&refused, RegisterError::InvalidSchema { tool, .. } if tool == "counted"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_deferred_name_that_is_taken_is_refused() {
    let mut executor = LocalExecutor::new(std::env::temp_dir());
    executor.register(counted(SCHEMA()).0).expect("first");
    let refused = executor
        .register_deferred(counted(SCHEMA()).0)
        .map(|_| ())
        .expect_err("taken");
    assert!(matches!(refused, RegisterError::Duplicate(name) if name == "counted"));
}

#[test]
fn every_built_in_schema_compiles() {
    let config = toolwire::tools::ToolsConfig::default();
    let tools = toolwire::tools::builtin(config);
    assert_eq!(tools.len(), 8, "the built-ins");
    let bench = [
        toolwire::typed(toolwire::tools::bench::Echo),
        toolwire::typed(toolwire::tools::bench::Sleep),
    ];
    for tool in tools.into_iter().chain(bench) {
        let mut executor = LocalExecutor::new(std::env::temp_dir());
        if let Err(error) = executor.register(tool) {
            panic!("{error}");
        }
    }
}
