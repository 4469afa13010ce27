//! `toolwire demo`: the main job end to end. Ensures the image, launches a
//! sandbox, lists its tools, runs a short realistic agent session (write a
//! program, run it, grep, edit, run again, a command that needs a permission
//! answered on the command line), prints results and timings, and removes
//! the sandbox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use toolwire::docker::LaunchConfig;
use toolwire::{
    Action, CallError, Executor, PeerConfig, PermissionRule, RemoteExecutor, ToolRequest,
    ToolResponse,
};

use crate::ask::TerminalAsker;
use crate::local::LocalSandbox;

const PROGRAM: &str = r#"import statistics

def summarize(values):
    return {
        "count": len(values),
        "mean": statistics.mean(values),
        "median": statistics.median(values),
    }

readings = [12.5, 14.0, 13.2, 18.9, 11.7, 15.3]
print(summarize(readings))
"#;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(yes: bool, local: bool) -> anyhow::Result<()> {
    let total = Instant::now();
    let peer = PeerConfig::default().interactive(Arc::new(TerminalAsker::new(yes)));
    if local {
        let local = LocalSandbox::start(peer).await?;
        let session = session(&local.executor).await;
        local.stop().await;
        session?;
    } else {
        let launcher = crate::connect().await?;
        {
            let started = Instant::now();
            let tag = crate::ensure_image(&launcher).await?;
            println!("==> sandbox image {tag} ready ({})", ms(started.elapsed()));
            let started = Instant::now();
            let sandbox = launcher
                .launch(LaunchConfig::default().session("demo").peer(peer))
                .await?;
            println!(
                "==> sandbox {} launched and connected in {} (hardened: no capabilities, read-only root, uid 1000, port on 127.0.0.1 only)",
                sandbox.name(),
                ms(started.elapsed())
            );
            let session = session(sandbox.executor()).await;
            let started = Instant::now();
            let name = sandbox.name().to_owned();
            sandbox.shutdown().await?;
            println!("==> sandbox {name} removed ({})", ms(started.elapsed()));
            session?;
        }
    }
    println!("==> demo finished in {}", ms(total.elapsed()));
    Ok(())
}

async fn session(executor: &RemoteExecutor) -> anyhow::Result<()> {
    let tools: Vec<String> = executor
        .tools()
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    println!("==> tools: {}", tools.join(", "));
    executor
        .set_rules(vec![
            PermissionRule::new("edit", "*", Action::Allow),
            PermissionRule::new("bash", "python3 *", Action::Allow),
            PermissionRule::new("bash", "rm *", Action::Deny),
        ])
        .await?;
    println!("==> rules: edit allowed, `python3 *` allowed, `rm *` denied, anything else asks\n");

    step(
        executor,
        "write",
        json!({"path": "stats.py", "content": PROGRAM}),
        "write stats.py",
    )
    .await?;
    step(
        executor,
        "bash",
        json!({"command": "python3 stats.py", "description": "run the program"}),
        "run it",
    )
    .await?;
    step(
        executor,
        "grep",
        json!({"pattern": "def \\w+", "include": "*.py"}),
        "find its functions",
    )
    .await?;
    step(
        executor,
        "edit",
        json!({"path": "stats.py", "old_string": "\"median\": statistics.median(values),",
               "new_string": "\"median\": statistics.median(values),\n        \"stdev\": round(statistics.stdev(values), 3),"}),
        "add a standard deviation",
    )
    .await?;
    step(
        executor,
        "bash",
        json!({"command": "python3 stats.py"}),
        "run it again",
    )
    .await?;
    step(
        executor,
        "bash",
        json!({"command": "rm -rf /workspace"}),
        "a denied command",
    )
    .await?;
    step(
        executor,
        "bash",
        json!({"command": "git init -q && git add stats.py && git -c user.email=a@b -c user.name=agent commit -qm 'stats' && git log --oneline"}),
        "commit (no rule: the user is asked)",
    )
    .await?;
    println!();
    Ok(())
}

async fn step(
    executor: &RemoteExecutor,
    tool: &str,
    input: Value,
    what: &str,
) -> anyhow::Result<ToolResponse> {
    println!("--> [{tool}] {what}");
    let started = Instant::now();
    let result = executor.execute(ToolRequest::new(tool, input)).await;
    let elapsed = started.elapsed();
    let response = match result {
        Ok(response) => response,
        Err(CallError::PermissionNeeded(needed)) => {
            println!(
                "    suspended: permission `{}` needed for {:?} ({})",
                needed.permission,
                needed.patterns,
                ms(elapsed)
            );
            return Ok(ToolResponse::refused("suspended"));
        }
        Err(e) => return Err(e.into()),
    };
    let status = if response.denied {
        format!("denied: {}", response.denied_reason)
    } else if response.is_error {
        "error".to_owned()
    } else {
        "ok".to_owned()
    };
    println!("    {status} in {}", ms(elapsed));
    for line in response.output.lines().take(12) {
        println!("    | {line}");
    }
    Ok(response)
}
