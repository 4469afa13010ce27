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
use crate::journal::{JournalArgs, session_id};
use crate::local::LocalSandbox;
use toolwire::journal::Recorder;

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

pub async fn run(yes: bool, local: bool, journal: &JournalArgs) -> anyhow::Result<()> {
    let total = Instant::now();
    let recorder = journal.recorder()?;
    let mut peer = PeerConfig::default().interactive(Arc::new(TerminalAsker::new(yes)));
    if let Some(recorder) = &recorder {
        peer = recorder.peer_config(peer, true);
    }
    let agent = Agent {
        recorder: recorder.as_ref(),
        session: session_id("demo"),
    };
    if local {
        let local = LocalSandbox::start(peer).await?;
        let session = agent.session(&local.executor).await;
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
                "==> sandbox {} launched and connected in {} (hardened: tools as uid 1000 with no capabilities, the server apart with SETUID/SETGID/KILL only, read-only root, port on 127.0.0.1 only)",
                sandbox.name(),
                ms(started.elapsed())
            );
            let session = agent.session(sandbox.executor()).await;
            let started = Instant::now();
            let name = sandbox.name().to_owned();
            sandbox.shutdown().await?;
            println!("==> sandbox {name} removed ({})", ms(started.elapsed()));
            session?;
        }
    }
    if let Some(recorder) = &recorder {
        recorder.journal().flush().await;
        println!(
            "==> journal: {} (toolwire calls --session {})",
            recorder.journal().path().display(),
            agent.session
        );
    }
    println!("==> demo finished in {}", ms(total.elapsed()));
    Ok(())
}

/// The demo's agent: its session id, and where its calls are journaled.
struct Agent<'a> {
    recorder: Option<&'a Recorder>,
    session: String,
}

impl Agent<'_> {
    async fn session(&self, executor: &RemoteExecutor) -> anyhow::Result<()> {
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
        println!(
            "==> rules: edit allowed, `python3 *` allowed, `rm *` denied, anything else asks\n"
        );

        self.step(
            executor,
            "write",
            json!({"path": "stats.py", "content": PROGRAM}),
            "write stats.py",
        )
        .await?;
        self.step(
            executor,
            "bash",
            json!({"command": "python3 stats.py", "description": "run the program"}),
            "run it",
        )
        .await?;
        self.step(
            executor,
            "grep",
            json!({"pattern": "def \\w+", "include": "*.py"}),
            "find its functions",
        )
        .await?;
        self.step(
        executor,
        "edit",
        json!({"path": "stats.py", "old_string": "\"median\": statistics.median(values),",
               "new_string": "\"median\": statistics.median(values),\n        \"stdev\": round(statistics.stdev(values), 3),"}),
        "add a standard deviation",
    )
    .await?;
        self.step(
            executor,
            "bash",
            json!({"command": "python3 stats.py"}),
            "run it again",
        )
        .await?;
        self.step(
            executor,
            "bash",
            json!({"command": "rm -rf /workspace"}),
            "a denied command",
        )
        .await?;
        self.step(
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
        &self,
        executor: &RemoteExecutor,
        tool: &str,
        input: Value,
        what: &str,
    ) -> anyhow::Result<ToolResponse> {
        println!("--> [{tool}] {what}");
        let started = Instant::now();
        let mut request = ToolRequest::new(tool, input);
        request.session_id.clone_from(&self.session);
        let result = crate::journaled(self.recorder, executor, request).await;
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
}
