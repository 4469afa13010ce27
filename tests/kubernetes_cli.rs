//! `toolwire up/call/ps/reap/down --backend kubernetes`, the real binary as
//! an orchestrator or a person runs it, against the fake API server served
//! over real HTTP with a kubeconfig that points there. Each Pod runs as the
//! real `toolwire-server`, and every `call` reaches it through a real
//! port-forward upgrade.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::fake_cluster::{FakeCluster, Kubelet};
use common::within;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs `toolwire ARGS` with `kubeconfig`, its state kept under `runtime`.
async fn toolwire(runtime: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolwire"))
        .args(args)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_PROXY", "*")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("RUST_BACKTRACE")
        .kill_on_drop(true)
        .output();
    within(LIMIT, &format!("toolwire {}", args.join(" ")), command)
        .await
        .expect("run toolwire")
}

/// The fake cluster over HTTP, its kubeconfig, and a runtime dir for the
/// CLI's records, all under one temporary directory.
async fn cluster() -> (FakeCluster, tempfile::TempDir, PathBuf, PathBuf) {
    let (_client, fake) = FakeCluster::start(Kubelet::Run).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = fake.serve_http(dir.path()).await;
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).expect("runtime dir");
    (fake, dir, kubeconfig, runtime)
}

fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(output: &Output, what: &str) -> String {
    assert!(!output.status.success(), "{what} should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_call_ps_reap_down_work_on_pods() {
    let (fake, _dir, kubeconfig, runtime) = cluster().await;

    let up = toolwire(
        &runtime,
        &kubeconfig,
        &["up", "--backend", "kubernetes", "--name", "k1", "--json"],
    )
    .await;
    let state: Value = serde_json::from_str(&succeeded(&up, "up")).expect("up prints JSON");
    assert_eq!(state["backend"], "kubernetes");
    assert_eq!(state["namespace"], "agents");
    let pod = state["container"]
        .as_str()
        .expect("the Pod's name")
        .to_owned();
    assert_eq!(state["url"], format!("k8s://agents/{pod}"));
    assert_eq!(fake.pod_names(), std::slice::from_ref(&pod));
    assert_eq!(fake.secret_names(), std::slice::from_ref(&pod));
    let created = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path().ends_with("/pods"))
        .expect("the Pod was created");
    let body = created.body.expect("a Pod body");
    assert_eq!(
        body["metadata"]["annotations"]["toolwire.dev/owner"], "detached",
        "a Pod of `up` outlives the command and reap leaves it"
    );

    // A later process reaches the Pod again, through a new port-forward.
    let call = toolwire(
        &runtime,
        &kubeconfig,
        &[
            "call",
            "k1",
            "bash",
            r#"{"command":"echo from-the-pod"}"#,
            "--allow-all",
        ],
    )
    .await;
    let response: Value =
        serde_json::from_str(&succeeded(&call, "call")).expect("call prints JSON");
    assert!(
        response["output"]
            .as_str()
            .is_some_and(|o| o.contains("from-the-pod")),
        "{response}"
    );

    let me = toolwire::launcher::owner::owner_id(std::process::id());
    let host = me.split('/').next().expect("an owner id");
    fake.add_pod("toolwire-dead-1", &format!("{host}/4000000/1"));
    let ps = succeeded(
        &toolwire(&runtime, &kubeconfig, &["ps", "--backend", "kubernetes"]).await,
        "ps",
    );
    let k1_line = ps
        .lines()
        .find(|l| l.contains(&pod))
        .unwrap_or_else(|| panic!("ps lists the Pod:\n{ps}"));
    assert!(
        k1_line.starts_with("k1 ") && k1_line.contains("Running"),
        "{k1_line}"
    );
    assert!(ps.contains("toolwire-dead-1"), "{ps}");

    let reap = succeeded(
        &toolwire(&runtime, &kubeconfig, &["reap", "--backend", "kubernetes"]).await,
        "reap",
    );
    assert_eq!(reap.trim(), "removed 1 Pod(s)");
    assert_eq!(
        fake.pod_names(),
        std::slice::from_ref(&pod),
        "the detached Pod stays"
    );

    succeeded(
        &toolwire(&runtime, &kubeconfig, &["down", "k1"]).await,
        "down",
    );
    assert!(fake.pod_names().is_empty(), "{:?}", fake.pod_names());
    assert!(fake.secret_names().is_empty(), "{:?}", fake.secret_names());
    let again = toolwire(
        &runtime,
        &kubeconfig,
        &["call", "k1", "bash", r#"{"command":"true"}"#],
    )
    .await;
    assert!(
        failed(&again, "a call after down").contains("no sandbox named \"k1\""),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_kubernetes_command_lines_are_refused_with_the_reason() {
    let (fake, dir, kubeconfig, runtime) = cluster().await;

    let mount = toolwire(
        &runtime,
        &kubeconfig,
        &["up", "--backend", "kubernetes", "--workspace", "/tmp"],
    )
    .await;
    assert!(
        failed(&mount, "up --workspace").contains("a Pod cannot"),
        "{}",
        String::from_utf8_lossy(&mount.stderr)
    );
    let namespace = toolwire(&runtime, &kubeconfig, &["ps", "--namespace", "agents"]).await;
    assert!(
        failed(&namespace, "ps --namespace on Docker")
            .contains("--namespace is for --backend kubernetes")
    );
    let missing = dir.path().join("no-such-kubeconfig");
    let nowhere = toolwire(&runtime, &missing, &["ps", "--backend", "kubernetes"]).await;
    assert!(
        failed(&nowhere, "ps without a cluster").contains("no Kubernetes cluster to reach"),
        "{}",
        String::from_utf8_lossy(&nowhere.stderr)
    );
    assert!(
        fake.pod_names().is_empty(),
        "nothing was created by a refused command"
    );
}
