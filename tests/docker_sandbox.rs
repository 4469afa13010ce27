//! Sandboxes on the real local Docker engine. Without an engine these tests
//! fail with a message saying so; they never pass silently.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, InspectContainerOptions};
use serde_json::json;
mod common;

use common::docker::{allow_all, bash, launcher};
use toolwire::docker::{
    DockerLauncher, LABEL_MANAGED, LABEL_OWNER, LaunchConfig, Network, SandboxExit, SandboxPool,
};
use toolwire::launcher::PoolConfig;
use toolwire::protocol::BusEvent;
use toolwire::{CallError, Executor, PeerConfig, ToolRequest};

/// `config` with a channel that receives one message per `tool.started`
/// event: a call is running in the sandbox once its message came.
fn reporting_starts(config: PeerConfig) -> (PeerConfig, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let (started, starts) = tokio::sync::mpsc::unbounded_channel();
    let config = config.on_event(move |event| {
        if matches!(event, BusEvent::ToolStarted { .. }) {
            let _ = started.send(());
        }
    });
    (config, starts)
}

/// Waits (on Docker's own wait, no polling) until container `id` is gone.
async fn wait_removed(launcher: &DockerLauncher, id: &str, limit: Duration) {
    let mut removed = launcher.docker().wait_container(
        id,
        Some(bollard::query_parameters::WaitContainerOptions {
            condition: "removed".into(),
        }),
    );
    // Ok: it was removed while we waited; Err (404): it was gone already.
    tokio::time::timeout(limit, futures::StreamExt::next(&mut removed))
        .await
        .unwrap_or_else(|_| panic!("container {id} was not removed within {limit:?}"));
    assert!(!container_exists(launcher, id).await, "{id} still exists");
}

async fn container_exists(launcher: &DockerLauncher, id: &str) -> bool {
    launcher
        .docker()
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .is_ok()
}

#[tokio::test]
async fn launch_lists_tools_runs_bash_and_is_hardened() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(LaunchConfig::default().session("hardening"))
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let tools: Vec<String> = sandbox
        .executor()
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        tools,
        [
            "bash", "edit", "glob", "grep", "ls", "question", "read", "write"
        ]
    );

    let who = bash(
        &sandbox,
        "id -u; pwd; git --version >/dev/null && python3 -c 'print(6*7)'",
    )
    .await;
    assert_eq!(who.output, "1000\n/workspace\n42\n");

    let status = bash(
        &sandbox,
        "grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status",
    )
    .await;
    assert!(
        status.output.contains("CapEff:\t0000000000000000"),
        "{}",
        status.output
    );
    assert!(
        status.output.contains("CapPrm:\t0000000000000000"),
        "{}",
        status.output
    );
    assert!(
        status.output.contains("NoNewPrivs:\t1"),
        "{}",
        status.output
    );

    let root_fs = bash(&sandbox, "touch /usr/evil 2>&1; echo rc=$?").await;
    assert!(
        root_fs.output.contains("Read-only file system") && root_fs.output.contains("rc=1"),
        "{}",
        root_fs.output
    );
    let writable = bash(&sandbox, "touch /workspace/ok /tmp/ok && echo writable").await;
    assert_eq!(writable.output.trim(), "writable");

    // The token directory (only the server's uid may enter it) and the
    // server's memory and environment are out of reach.
    let token = bash(&sandbox, "ls -A /run/toolwire; cat /proc/$PPID/environ >/dev/null 2>&1 && echo READABLE || echo denied").await;
    assert!(
        token.output.contains("/run/toolwire': Permission denied")
            && token.output.trim_end().ends_with("\ndenied"),
        "the token directory and the server's environment are closed to tools: {}",
        token.output
    );
    let env = bash(&sandbox, "env").await;
    assert!(
        !env.output.to_lowercase().contains("token"),
        "{}",
        env.output
    );

    // Tools run as uid 1000, the server as another uid: a tool cannot kill it.
    let kill = bash(
        &sandbox,
        "kill -9 $PPID 2>&1; echo rc=$?; stat -c %u /proc/$PPID",
    )
    .await;
    assert!(
        kill.output.contains("Operation not permitted") && kill.output.contains("rc=1"),
        "{}",
        kill.output
    );
    assert_eq!(kill.output.lines().last(), Some("0"), "{}", kill.output);
    let still = bash(&sandbox, "echo alive").await;
    assert_eq!(still.output, "alive\n");
    let written = sandbox
        .executor()
        .execute(toolwire::ToolRequest::new(
            "write",
            serde_json::json!({"path": "by-write.txt", "content": "x"}),
        ))
        .await
        .expect("write");
    assert!(!written.is_error, "{}", written.output);
    let owner = bash(&sandbox, "stat -c %u /workspace/by-write.txt").await;
    assert_eq!(
        owner.output, "1000\n",
        "the file tools act as the tool user"
    );

    let id = sandbox.id().to_owned();
    sandbox.shutdown().await.expect("shutdown");
    assert!(
        !container_exists(&launcher, &id).await,
        "removed on shutdown"
    );
}

#[tokio::test]
async fn the_pids_limit_stops_a_fork_loop_while_the_server_still_answers() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(LaunchConfig::default().session("forkbomb").pids_limit(64))
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let started = Instant::now();
    // Forks until the kernel refuses; the children sleep until the call ends.
    let fork_loop = "import os, time\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError as e:\n        print('refused after', n, 'forks:', e.strerror)\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\n";
    let bomb = bash(&sandbox, &format!("python3 -c \"{fork_loop}\"")).await;
    assert!(
        bomb.output.contains("Resource temporarily unavailable"),
        "{}",
        bomb.output
    );
    let forks: u32 = bomb
        .output
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("fork count");
    assert!(forks < 64, "the limit of 64 pids held: {}", bomb.output);
    assert!(started.elapsed() < Duration::from_secs(25));
    // The server still answers (a tool that needs no new process).
    let ls = sandbox
        .executor()
        .execute(ToolRequest::new("ls", json!({})))
        .await
        .expect("answer");
    assert!(!ls.is_error, "{ls:?}");
    // And the whole group was killed: new processes can be started again.
    let after = bash(&sandbox, "echo alive").await;
    assert_eq!(after.output.trim(), "alive");
    sandbox.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_memory_hog_is_killed_by_the_limit_and_reported_while_the_server_answers() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("memhog")
                .memory_bytes(256 << 20)
                .workspace_limit_bytes(16 << 20),
        )
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let hog = bash(
        &sandbox,
        "python3 -c 'x = bytearray(600 * 1024 * 1024); print(len(x))'",
    )
    .await;
    assert!(hog.is_error, "{hog:?}");
    assert_eq!(hog.metadata["signal"], 9, "{hog:?}");
    assert!(
        hog.output.contains("possibly out of memory"),
        "{}",
        hog.output
    );
    assert_eq!(
        bash(&sandbox, "echo still-serving").await.output.trim(),
        "still-serving"
    );
    sandbox.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn network_none_has_only_loopback_and_still_serves_calls() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("offline")
                .network(Network::None),
        )
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let interfaces = bash(&sandbox, "ls /sys/class/net").await;
    assert_eq!(interfaces.output.trim(), "lo");
    sandbox.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_host_workspace_is_mounted_as_workspace() {
    let launcher = launcher().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("input.txt"), "from the host\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("mounted")
                .workspace(dir.path()),
        )
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let read = sandbox
        .executor()
        .execute(ToolRequest::new("read", json!({"path": "input.txt"})))
        .await
        .expect("answer");
    assert_eq!(read.output, "     1\tfrom the host\n");
    sandbox
        .executor()
        .execute(ToolRequest::new(
            "write",
            json!({"path": "out.txt", "content": "from the sandbox"}),
        ))
        .await
        .expect("answer");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).expect("written"),
        "from the sandbox"
    );
    sandbox.shutdown().await.expect("shutdown");
}

/// Pauses the sandbox mid-call (frozen: the socket stays open, nothing in
/// the sandbox answers) and returns the call's failure and how long after
/// the pause it came.
async fn fail_a_call_by_pausing(session: &str, peer: PeerConfig) -> (String, Duration) {
    let launcher = launcher().await;
    let (config, mut starts) = reporting_starts(peer);
    let sandbox = launcher
        .launch(LaunchConfig::default().session(session).peer(config))
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let id = sandbox.id().to_owned();
    let pending = sandbox
        .executor()
        .execute(ToolRequest::new("bash", json!({"command": "sleep 60"})));
    let pauser = async {
        starts.recv().await.expect("a tool.started event");
        launcher.docker().pause_container(&id).await.expect("pause");
        Instant::now()
    };
    let (result, paused_at) = tokio::time::timeout(
        Duration::from_secs(30),
        futures::future::join(pending, pauser),
    )
    .await
    .expect("the call ends");
    let failed_after = paused_at.elapsed();
    launcher
        .docker()
        .unpause_container(&id)
        .await
        .expect("unpause");
    drop(sandbox);
    wait_removed(&launcher, &id, Duration::from_secs(20)).await;
    match result {
        Err(CallError::ConnectionLost { reason }) => (reason, failed_after),
        other => panic!("expected the connection to be lost, got {other:?}"),
    }
}

const PAUSE_HEARTBEAT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn docker_pause_mid_call_fails_the_call_within_the_heartbeat_timeout() {
    let peer = PeerConfig::default()
        .heartbeat(Duration::from_millis(500), PAUSE_HEARTBEAT)
        .resume(false, Duration::ZERO);
    let (reason, failed_after) = fail_a_call_by_pausing("paused", peer).await;
    assert!(reason.starts_with("peer unresponsive for 3"), "{reason}");
    assert!(
        failed_after < PAUSE_HEARTBEAT + Duration::from_secs(1),
        "failed {failed_after:?} after the pause"
    );
}

#[tokio::test]
async fn docker_pause_with_resume_fails_after_the_heartbeat_and_the_reconnect_window() {
    const WINDOW: Duration = Duration::from_secs(2);
    let peer = PeerConfig::default()
        .heartbeat(Duration::from_millis(500), PAUSE_HEARTBEAT)
        .resume(true, WINDOW);
    let (reason, failed_after) = fail_a_call_by_pausing("paused-resume", peer).await;
    assert!(reason.starts_with("peer unresponsive for 3"), "{reason}");
    assert!(reason.contains("; no reconnect within 2.0 s"), "{reason}");
    assert!(
        failed_after >= PAUSE_HEARTBEAT + WINDOW,
        "failed {failed_after:?} after the pause, before the window ran out"
    );
    assert!(
        failed_after < PAUSE_HEARTBEAT + WINDOW + Duration::from_secs(1),
        "failed {failed_after:?} after the pause"
    );
}

#[tokio::test]
async fn a_sandbox_left_without_a_client_shuts_itself_down_after_its_idle_timeout() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("idle")
                .idle_timeout(Duration::from_secs(2)),
        )
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    assert_eq!(bash(&sandbox, "echo here").await.output.trim(), "here");
    let id = sandbox.id().to_owned();
    // The orchestrator goes away without shutting the sandbox down.
    sandbox.executor().close().await;
    let left = Instant::now();
    wait_removed(&launcher, &id, Duration::from_secs(20)).await;
    assert!(
        left.elapsed() >= Duration::from_millis(1900),
        "gone after {:?}, before the idle timeout",
        left.elapsed()
    );
    drop(sandbox);
}

/// How a test ends a sandbox mid-call.
enum Kill {
    /// `docker kill`: the engine sends SIGKILL to the container.
    Container,
    /// `kill -9` of the tool server's process from inside the container
    /// (as root, with `docker exec`).
    ServerProcess,
}

/// Kills the sandbox `how` while a call runs; the call must fail within
/// 2 s with the exit status Docker reports, and the container must go.
async fn a_call_fails_promptly_when_killed(session: &str, how: Kill) {
    let launcher = launcher().await;
    let (events, mut starts) = reporting_starts(PeerConfig::default());
    let sandbox = launcher
        .launch(LaunchConfig::default().session(session).peer(events))
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let id = sandbox.id().to_owned();
    let pending = sandbox
        .executor()
        .execute(ToolRequest::new("bash", json!({"command": "sleep 60"})));
    let killer = async {
        // The call is running in the sandbox once its tool.started event came.
        starts.recv().await.expect("a tool.started event");
        match how {
            Kill::Container => launcher
                .docker()
                .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
                .await
                .expect("kill"),
            Kill::ServerProcess => {
                let script = "for p in /proc/[0-9]*; do \
                    [ \"$(cat $p/comm 2>/dev/null)\" = toolwire-server ] && kill -9 ${p#/proc/}; done";
                // The exec dies with the container (its status is 137 then):
                // the call's failure below says whether the kill happened.
                tokio::process::Command::new("docker")
                    .args(["exec", "-u", "0", &id, "sh", "-c", script])
                    .status()
                    .await
                    .expect("docker exec");
            }
        }
        Instant::now()
    };
    let (result, killed_at) = tokio::time::timeout(
        Duration::from_secs(20),
        futures::future::join(pending, killer),
    )
    .await
    .expect("the call ends");
    let failed_after = killed_at.elapsed();
    match &result {
        Err(CallError::SandboxEnded(ended)) => {
            let exit = ended
                .downcast_ref::<SandboxExit>()
                .expect("Docker's report of the exit");
            assert_eq!(exit.exit_code, Some(137));
            assert!(!exit.oom_killed);
        }
        other => panic!("expected SandboxEnded, got {other:?}"),
    }
    assert_eq!(
        sandbox
            .ended()
            .and_then(|e| e.downcast_ref::<SandboxExit>().cloned())
            .map(|e| e.exit_code),
        Some(Some(137)),
        "the handle reports how the sandbox ended"
    );
    assert!(
        failed_after < Duration::from_secs(2),
        "failed {failed_after:?} after the kill"
    );
    wait_removed(&launcher, &id, Duration::from_secs(10)).await;
    drop(sandbox);
}

#[tokio::test]
async fn docker_kill_mid_call_fails_the_pending_call_promptly_with_the_exit_status() {
    a_call_fails_promptly_when_killed("killed", Kill::Container).await;
}

#[tokio::test]
async fn kill_9_of_the_server_inside_the_sandbox_fails_the_pending_call_promptly() {
    a_call_fails_promptly_when_killed("server-killed", Kill::ServerProcess).await;
}

#[tokio::test]
async fn a_server_that_fails_to_start_reports_its_logs_and_is_removed() {
    let launcher = launcher().await;
    // The image may still be building for the other tests; that is not start-up time.
    launcher.ensure_image(&|_| {}).await.expect("image");
    let session = format!("broken-{}", std::process::id());
    let started = Instant::now();
    let error = launcher
        .launch(
            LaunchConfig::default()
                .session(&session)
                .server_args(vec!["--no-such-flag".into()]),
        )
        .await
        .expect_err("must fail");
    let text = error.to_string();
    // Bounded: the exit is noticed long before the 15 s readiness limit, even on a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}: {text}",
        started.elapsed()
    );
    assert!(
        text.contains("did not become ready") && text.contains("--no-such-flag"),
        "{text}"
    );
    let left: Vec<_> = launcher
        .list()
        .await
        .expect("list")
        .into_iter()
        .filter(|s| s.session == session)
        .collect();
    assert!(
        left.is_empty(),
        "the failed container was left behind: {left:?}"
    );
}

#[tokio::test]
async fn dropping_the_handle_removes_the_container() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(LaunchConfig::default().session("dropped"))
        .await
        .expect("launch");
    let id = sandbox.id().to_owned();
    drop(sandbox);
    // Drop only signals; the launcher's removal task does the work.
    tokio::time::timeout(Duration::from_secs(30), launcher.drain())
        .await
        .expect("the removal finishes");
    assert!(!container_exists(&launcher, &id).await);
}

#[tokio::test]
async fn reap_removes_containers_of_dead_owners_and_keeps_live_ones() {
    let launcher = launcher().await;
    let live = launcher
        .launch(LaunchConfig::default().session("live"))
        .await
        .expect("launch");
    // An orphan: a real container whose owner label names a process that has exited.
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead_owner = toolwire::docker::owner_id(child.id());
    child.wait().expect("wait");
    let image = launcher
        .list()
        .await
        .expect("list")
        .into_iter()
        .find(|s| s.id == live.id())
        .map(|s| s.name);
    assert!(image.is_some());
    let info = launcher
        .docker()
        .inspect_container(live.id(), None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    let orphan = launcher
        .docker()
        .create_container(
            Some(CreateContainerOptions {
                name: None,
                platform: String::new(),
            }),
            ContainerCreateBody {
                image: info.config.and_then(|c| c.image),
                entrypoint: Some(vec!["sleep".into()]),
                cmd: Some(vec!["60".into()]),
                labels: Some(HashMap::from([
                    (LABEL_MANAGED.to_owned(), "true".to_owned()),
                    (LABEL_OWNER.to_owned(), dead_owner),
                ])),
                ..ContainerCreateBody::default()
            },
        )
        .await
        .expect("create orphan");
    assert!(launcher.reap().await.expect("reap") >= 1);
    assert!(
        !container_exists(&launcher, &orphan.id).await,
        "orphan removed"
    );
    assert!(
        container_exists(&launcher, live.id()).await,
        "a live owner's sandbox is kept"
    );
    live.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_pool_hands_out_warm_sandboxes_and_replaces_them() {
    let launcher = launcher().await;
    let pool = SandboxPool::new(
        launcher.clone(),
        LaunchConfig::default().session("pooled"),
        PoolConfig::size(2),
    );
    assert!(
        pool.wait_warm(2, Duration::from_secs(60)).await,
        "the pool warms up"
    );
    let started = Instant::now();
    let first = pool.acquire().await.expect("acquire");
    let acquire_time = started.elapsed();
    assert!(
        acquire_time < Duration::from_millis(100),
        "a warm acquire took {acquire_time:?}"
    );
    allow_all(&first).await;
    assert_eq!(bash(&first, "echo pooled").await.output.trim(), "pooled");
    let second = pool.acquire().await.expect("acquire");
    assert_ne!(first.id(), second.id(), "never the same sandbox twice");
    assert!(
        pool.wait_warm(2, Duration::from_secs(60)).await,
        "the pool replaced what it handed out"
    );
    let third = pool.acquire().await.expect("acquire");
    assert!(third.id() != first.id() && third.id() != second.id());
    // The used sandbox's state never reaches a new one.
    allow_all(&third).await;
    let clean = third
        .executor()
        .execute(ToolRequest::new("ls", json!({})))
        .await
        .expect("answer");
    assert_eq!(clean.output, "(empty directory)");
    for sandbox in [first, second, third] {
        sandbox.shutdown().await.expect("shutdown");
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_launches_with_twenty_killed_mid_call_leave_nothing_unanswered_or_running() {
    const SANDBOXES: usize = 100;
    const LAUNCHING_AT_ONCE: usize = 10;
    let launcher = std::sync::Arc::new(launcher().await);
    launcher.ensure_image(&|_| {}).await.expect("image");
    let prefix = format!("hundred-{}-", std::process::id());
    let launching = std::sync::Arc::new(tokio::sync::Semaphore::new(LAUNCHING_AT_ONCE));
    let runs = (0..SANDBOXES).map(|n| {
        let (launcher, launching, session) =
            (launcher.clone(), launching.clone(), format!("{prefix}{n}"));
        tokio::spawn(async move {
            let (config, mut starts) = reporting_starts(PeerConfig::default());
            let permit = launching.acquire_owned().await.expect("semaphore");
            let sandbox = launcher
                .launch(LaunchConfig::default().session(&session).peer(config))
                .await
                .expect("launch");
            drop(permit);
            allow_all(&sandbox).await;
            let call = sandbox.executor().execute(ToolRequest::new(
                "bash",
                json!({"command": format!("sleep 2; echo done-{n}")}),
            ));
            let killer = async {
                if n % 5 == 0 {
                    starts.recv().await.expect("a tool.started event");
                    launcher
                        .docker()
                        .kill_container(
                            sandbox.id(),
                            None::<bollard::query_parameters::KillContainerOptions>,
                        )
                        .await
                        .expect("kill");
                }
            };
            let (result, ()) = futures::future::join(call, killer).await;
            sandbox.shutdown().await.expect("shutdown");
            (n, result)
        })
    });
    let results = tokio::time::timeout(Duration::from_secs(300), futures::future::join_all(runs))
        .await
        .expect("every call is answered");
    let (mut answered, mut killed) = (0, 0);
    for joined in results {
        let (n, result) = joined.expect("task");
        match result {
            Ok(response) if n % 5 != 0 => {
                assert_eq!(response.output.trim(), format!("done-{n}"));
                answered += 1;
            }
            Err(CallError::SandboxEnded(ended)) if n % 5 == 0 => {
                let exit = ended
                    .downcast_ref::<SandboxExit>()
                    .expect("Docker's report of the exit");
                assert_eq!(exit.exit_code, Some(137), "sandbox {n}");
                killed += 1;
            }
            other => panic!("sandbox {n}: unexpected {other:?}"),
        }
    }
    assert_eq!((answered, killed), (80, 20));
    let left: Vec<_> = launcher
        .list()
        .await
        .expect("list")
        .into_iter()
        .filter(|s| s.session.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "containers left: {left:?}");
}
