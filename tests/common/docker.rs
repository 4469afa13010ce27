//! Helpers for tests on the real local Docker engine. Without an engine they
//! fail with a message saying so; they never pass silently.

use std::time::Duration;

use serde_json::json;
use toolwire::docker::{DockerLauncher, DockerSandbox, ImageConfig};
use toolwire::{Action, Executor, PermissionRule, ToolRequest, ToolResponse};

/// A launcher for the sandbox image with this build's server binary.
pub async fn launcher() -> DockerLauncher {
    let images = ImageConfig::default().server_binary(env!("CARGO_BIN_EXE_toolwire-server"));
    DockerLauncher::connect(images)
        .await
        .unwrap_or_else(|e| panic!("these tests need a running Docker engine: {e}"))
}

/// Allows every tool in `sandbox`.
pub async fn allow_all(sandbox: &DockerSandbox) {
    sandbox
        .executor()
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
}

/// Runs `command` with the bash tool (20 s tool timeout, 30 s in all).
pub async fn bash(sandbox: &DockerSandbox, command: &str) -> ToolResponse {
    tokio::time::timeout(
        Duration::from_secs(30),
        sandbox.executor().execute(ToolRequest::new(
            "bash",
            json!({ "command": command, "timeout_ms": 20000 }),
        )),
    )
    .await
    .expect("answer in time")
    .expect("answer")
}
