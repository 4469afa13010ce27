//! One result, converted once: every way a call can fail gives the same
//! answer through LocalExecutor (tools in this process) and through
//! RemoteExecutor (the same tools behind a ToolServer on a socket).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Fail, Guarded, Sleep, TestServer, within};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use toolwire::{
    Action, CallError, CallOptions, Executor, LocalExecutor, PermissionRule, RemoteExecutor,
    ToolRequest, ToolResponse, typed,
};

const LIMIT: Duration = Duration::from_secs(10);

/// The same tools, in this process and behind a server.
struct Pair {
    local: LocalExecutor,
    local_sleep: Sleep,
    remote: RemoteExecutor,
    server: TestServer,
}

impl Pair {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let local_sleep = Sleep::default();
        let local = LocalExecutor::new(dir.path())
            .with_tool(typed(toolwire::tools::bench::Echo))
            .and_then(|e| e.with_tool(typed(local_sleep.clone())))
            .and_then(|e| e.with_tool(typed(Fail)))
            .and_then(|e| e.with_tool(typed(common::Panic)))
            .and_then(|e| e.with_tool(typed(Guarded)))
            .and_then(|e| e.with_tool(typed(toolwire::tools::question::Question)))
            .expect("tools register");
        let server = TestServer::start().await;
        let remote = RemoteExecutor::new(Arc::new(server.connect().await));
        let rules = vec![
            PermissionRule::new("bash", "git *", Action::Allow),
            PermissionRule::new("bash", "rm *", Action::Deny),
        ];
        local.shared().permissions.set_rules(rules.clone());
        remote.set_rules(rules).await.expect("rules");
        Self {
            local,
            local_sleep,
            remote,
            server,
        }
    }

    /// Runs `request` both ways with fresh `options` each and asserts the
    /// answers are equal; returns the answer.
    async fn same(
        &self,
        what: &str,
        request: ToolRequest,
        options: impl Fn() -> CallOptions,
    ) -> Result<ToolResponse, CallError> {
        let local = within(
            LIMIT,
            what,
            self.local.execute_with(request.clone(), options()),
        )
        .await;
        let remote = within(LIMIT, what, self.remote.execute_with(request, options())).await;
        assert_eq!(local, remote, "{what}: local and remote answers differ");
        local
    }
}

fn no_options() -> CallOptions {
    CallOptions::default()
}

#[tokio::test]
async fn every_failure_kind_gives_the_same_answer_locally_and_remotely() {
    let pair = Pair::new().await;

    let ok = pair
        .same(
            "a call that works",
            ToolRequest::new("echo", json!({"text": "hi"})),
            no_options,
        )
        .await;
    assert_eq!(ok.expect("answer").output, "hi");

    let unknown = pair
        .same(
            "unknown tool",
            ToolRequest::new("nope", json!({})),
            no_options,
        )
        .await
        .expect("an error response");
    assert!(unknown.is_error);
    assert_eq!(unknown.output, "unknown tool: \"nope\"");
    assert_eq!(unknown.error, unknown.output);

    let bad_input = pair
        .same(
            "bad input",
            ToolRequest::new("echo", json!({"text": 5})),
            no_options,
        )
        .await
        .expect("an error response");
    assert!(bad_input.is_error);
    assert!(
        bad_input.output.contains("field `text`"),
        "{}",
        bad_input.output
    );

    let failed = pair
        .same(
            "tool error",
            ToolRequest::new("fail", json!({})),
            no_options,
        )
        .await
        .expect("an error response");
    assert_eq!(failed.output, "Error: disk on fire");

    let panicked = pair
        .same(
            "tool panic",
            ToolRequest::new("panic", json!({})),
            no_options,
        )
        .await
        .expect("an error response");
    assert!(panicked.is_error && panicked.output.contains("tool exploded"));

    let denied = pair
        .same(
            "denied",
            ToolRequest::new("guarded", json!({"command": "rm -rf data"})),
            no_options,
        )
        .await
        .expect("a denied response");
    assert!(denied.denied);

    let needed = pair
        .same(
            "no rule decides",
            ToolRequest::new("guarded", json!({"command": "curl x"})),
            no_options,
        )
        .await;
    assert!(
        matches!(&needed, Err(CallError::PermissionNeeded(p)) if p.patterns == ["curl x"]),
        "{needed:?}"
    );

    let question = pair
        .same(
            "no answer queued",
            ToolRequest::new(
                "question",
                json!({"questions": [{"question": "Go on?", "header": "", "options": []}]}),
            ),
            no_options,
        )
        .await;
    assert!(
        matches!(question, Err(CallError::QuestionNeeded(_))),
        "{question:?}"
    );

    let timed_out = pair
        .same(
            "the caller's timeout",
            ToolRequest::new("sleep", json!({"ms": 30_000})),
            || CallOptions::default().timeout(Duration::from_millis(100)),
        )
        .await;
    assert_eq!(
        timed_out,
        Err(CallError::TimedOut {
            timeout: Duration::from_millis(100)
        })
    );

    // Cancelled by the caller once the tool runs (both sides count starts).
    let cancelled = {
        let request = ToolRequest::new("sleep", json!({"ms": 30_000}));
        let started = |sleep: &Sleep| sleep.started.get();
        let (local_before, remote_before) =
            (started(&pair.local_sleep), started(&pair.server.sleep));
        let local_token = CancellationToken::new();
        let local = pair.local.execute_with(
            request.clone(),
            CallOptions::default().cancel(local_token.clone()),
        );
        let remote_token = CancellationToken::new();
        let remote = pair
            .remote
            .execute_with(request, CallOptions::default().cancel(remote_token.clone()));
        let canceller = async {
            pair.local_sleep.started.reached(local_before + 1).await;
            pair.server.sleep.started.reached(remote_before + 1).await;
            local_token.cancel();
            remote_token.cancel();
        };
        let (local, remote, ()) = within(
            LIMIT,
            "cancel",
            futures::future::join3(local, remote, canceller),
        )
        .await;
        assert_eq!(local, remote, "cancel: local and remote answers differ");
        local
    };
    assert_eq!(cancelled, Err(CallError::Cancelled));
    within(LIMIT, "the tools see their cancellation", async {
        pair.local_sleep.cancelled.reached(2).await;
        pair.server.sleep.cancelled.reached(2).await;
    })
    .await;

    // Last, as it changes what is callable.
    pair.local.set_active_tools(["echo".to_owned()]);
    pair.remote
        .set_active_tools(vec!["echo".into()])
        .await
        .expect("ack");
    let inactive = pair
        .same(
            "inactive tool",
            ToolRequest::new("fail", json!({})),
            no_options,
        )
        .await
        .expect("an error response");
    assert_eq!(inactive.output, "tool \"fail\" not available");
    let names =
        |tools: Vec<toolwire::ToolInfo>| tools.into_iter().map(|t| t.name).collect::<Vec<_>>();
    assert_eq!(
        names(pair.local.tools().await.expect("tools")),
        names(pair.remote.tools().await.expect("tools")),
    );
}
