//! The bash tool against the "Processes" faults of shared/FAULTS.md. Real
//! processes; "no process left behind" is checked by looking for it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use toolwire::context::SharedState;
use toolwire::tools::{self, ToolsConfig};
use toolwire::{
    Action, CallContext, LocalExecutor, Outcome, PermissionRule, ToolRequest, ToolResponse,
};

fn executor(dir: &Path, config: ToolsConfig) -> LocalExecutor {
    let executor = tools::executor(dir, config).expect("tools");
    executor
        .shared()
        .permissions
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)]);
    executor
}

fn context(executor: &LocalExecutor) -> CallContext {
    CallContext::new(executor.workdir().to_path_buf(), executor.shared().clone())
}

async fn bash(executor: &LocalExecutor, input: serde_json::Value) -> ToolResponse {
    let request = ToolRequest::new("bash", input);
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        executor.run(request, context(executor)),
    )
    .await
    .expect("bash call returns");
    match outcome {
        Outcome::Response(response) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Whether any process has `marker` in its command line.
fn process_running(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .map(|cmdline| {
                    String::from_utf8_lossy(&cmdline)
                        .replace('\0', " ")
                        .contains(marker)
                })
                .unwrap_or(false)
        })
}

async fn assert_gone(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while process_running(marker) {
        assert!(
            Instant::now() < deadline,
            "a process with {marker:?} is still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn runs_in_the_workdir_with_exit_code_and_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    let r = bash(&executor, json!({"command": "pwd; echo oops >&2; exit 3"})).await;
    assert!(r.is_error);
    assert!(
        r.output.contains(&dir.path().display().to_string()),
        "{}",
        r.output
    );
    assert!(r.output.contains("oops"));
    assert_eq!(r.metadata["exit_code"], 3);
    let ok = bash(&executor, json!({"command": "true"})).await;
    assert!(!ok.is_error);
    assert_eq!(ok.metadata["exit_code"], 0);
}

#[tokio::test]
async fn a_timed_out_command_has_its_whole_group_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    let started = Instant::now();
    let r = bash(
        &executor,
        json!({"command": "sleep 100.123 & sleep 100.123; echo never", "timeout_ms": 300}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(r.is_error);
    assert_eq!(r.metadata["timed_out"], true);
    assert!(r.output.contains("timed out after 300 ms"), "{}", r.output);
    assert!(!r.output.contains("never"));
    assert_gone("sleep 100.123").await;
}

/// Forwards a call's output chunks to a channel.
struct Chunks(tokio::sync::mpsc::UnboundedSender<String>);

impl toolwire::context::ProgressSink for Chunks {
    fn chunk(&self, text: &str) {
        let _ = self.0.send(text.to_owned());
    }
}

#[tokio::test]
async fn a_cancelled_command_has_its_whole_group_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    // The command says when it runs; the output chunk is the event.
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    let ctx = context(&executor).with_progress(std::sync::Arc::new(Chunks(started)));
    let cancel = ctx.cancel.clone();
    let request = ToolRequest::new(
        "bash",
        json!({"command": "echo running; exec sleep 100.456"}),
    );
    let call = executor.run(request, ctx);
    let canceller = async {
        starts.recv().await.expect("the command's first output");
        cancel.cancel();
    };
    let (outcome, ()) = tokio::time::timeout(
        Duration::from_secs(10),
        futures::future::join(call, canceller),
    )
    .await
    .expect("returns after cancel");
    let Outcome::Response(r) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(r.metadata["cancelled"], true);
    assert_gone("sleep 100.456").await;
}

#[tokio::test]
async fn a_background_grandchild_holding_stdout_does_not_hold_the_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    let started = Instant::now();
    let r = bash(
        &executor,
        json!({"command": "sleep 100.789 & echo started"}),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.output.trim(), "started");
    assert!(!r.is_error);
    assert_gone("sleep 100.789").await;
}

#[tokio::test]
async fn a_flood_of_output_is_truncated_at_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default().output_cap_bytes(10_000));
    let r = bash(&executor, json!({"command": "yes | head -c 20000000"})).await;
    assert!(r.output.len() < 10_200, "kept {} bytes", r.output.len());
    assert!(
        r.output.contains("[output truncated: 19990000 more bytes"),
        "{}",
        &r.output[r.output.len() - 120..]
    );
    assert_eq!(r.metadata["truncated"], true);
}

#[tokio::test]
async fn endless_output_stays_bounded_until_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default().output_cap_bytes(4096));
    let r = bash(
        &executor,
        json!({"command": "yes flood-marker-77", "timeout_ms": 500}),
    )
    .await;
    assert!(r.output.len() < 4400);
    assert_eq!(r.metadata["timed_out"], true);
    assert_eq!(r.metadata["truncated"], true);
    assert_gone("yes flood-marker-77").await;
}

#[tokio::test]
async fn non_utf8_output_is_decoded_lossily() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    let r = bash(&executor, json!({"command": "printf 'ok \\377\\376 end'"})).await;
    assert_eq!(r.output, "ok \u{FFFD}\u{FFFD} end");
    serde_json::to_string(&r).expect("valid JSON");
}

#[tokio::test]
async fn a_program_reading_stdin_gets_eof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    let started = Instant::now();
    let r = bash(
        &executor,
        json!({"command": "cat; read line; echo \"read:$?\""}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.output.trim(), "read:1");
}

#[tokio::test]
async fn the_environment_is_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Cargo gives every test process its package variables: a variable of
    // this process that must not reach the tool (no set_var needed).
    let name = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME for tests");
    assert_eq!(name, "toolwire");
    let executor = executor(dir.path(), ToolsConfig::default());
    let r = bash(&executor, json!({"command": "env"})).await;
    assert!(!r.output.contains("CARGO_PKG_NAME"), "{}", r.output);
    assert!(r.output.contains("PATH=/usr/local/sbin"));
}

#[tokio::test]
async fn a_killed_command_reports_the_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = executor(dir.path(), ToolsConfig::default());
    let r = bash(&executor, json!({"command": "kill -9 $$"})).await;
    assert!(r.is_error);
    assert_eq!(r.metadata["signal"], 9);
    assert!(r.output.contains("possibly out of memory"), "{}", r.output);
}

#[tokio::test]
async fn bash_asks_with_the_command_and_suggests_an_always_pattern() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = tools::executor(dir.path(), ToolsConfig::default()).expect("tools");
    let request = ToolRequest::new("bash", json!({"command": "git status"}));
    let ctx = CallContext::new(dir.path(), executor.shared().clone());
    match executor.run(request.clone(), ctx).await {
        Outcome::PermissionNeeded(p) => {
            assert_eq!(p.permission, "bash");
            assert_eq!(p.patterns, ["git status"]);
        }
        other => panic!("expected a suspension, got {other:?}"),
    }
    executor
        .shared()
        .permissions
        .set_rules(vec![PermissionRule::new("bash", "git *", Action::Deny)]);
    let ctx = CallContext::new(dir.path(), SharedState::clone(executor.shared()));
    let Outcome::Response(r) = executor.run(request, ctx).await else {
        panic!()
    };
    assert!(r.denied);
}
