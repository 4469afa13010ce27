//! The README's tour: launch a hardened sandbox, allow `git *`, run one
//! command in it, remove it. Needs a Docker engine (the image is built on
//! the first run, offline, from Debian packages).
//!
//! ```sh
//! cargo build --bin toolwire-server && cargo run --example tour
//! ```

use serde_json::json;
use toolwire::docker::{DockerLauncher, ImageConfig, LaunchConfig};
use toolwire::{Action, CallError, Executor, PermissionRule, ToolRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let launcher = DockerLauncher::connect(ImageConfig::default()).await?; // also reaps orphans
    let sandbox = launcher
        .launch(LaunchConfig::default().session("my-agent"))
        .await?;
    sandbox
        .executor()
        .set_rules(vec![PermissionRule::new("bash", "git *", Action::Allow)])
        .await?;
    let response = sandbox
        .executor()
        .execute(ToolRequest::new(
            "bash",
            json!({"command": "git --version"}),
        ))
        .await;
    match response {
        Ok(response) => println!("{}", response.output),
        // No rule decided: a person would be asked, then the call retried.
        Err(CallError::PermissionNeeded(needed)) => println!("ask first: {needed:?}"),
        Err(other) => eprintln!("no answer: {other}"),
    }
    sandbox.shutdown().await?; // SIGTERM, grace, removal
    launcher.drain().await; // removals of dropped handles, if any
    Ok(())
}
