//! The Kubernetes launcher against a real cluster (kind, k3s, any): the
//! Docker launcher's behavioural checks — tools run, files round-trip, a
//! killed server fails the pending call with its exit, no network means no
//! egress, shutdown and reap delete. Ignored by default (no cluster runs on
//! CI here); run as docs/KUBERNETES.md says:
//!
//! ```text
//! TOOLWIRE_K8S_TESTS=1 TOOLWIRE_K8S_IMAGE=toolwire-sandbox:dev \
//!   cargo test --test kubernetes_cluster -- --ignored --test-threads 1
//! ```

mod common;

use std::time::Duration;

use common::within;
use serde_json::json;
use toolwire::kubernetes::{KubernetesConfig, KubernetesLauncher, Network, PodConfig};
use toolwire::{Action, CallError, Executor, PermissionRule, ToolRequest};

const LIMIT: Duration = Duration::from_secs(180);

async fn cluster() -> KubernetesLauncher {
    assert_eq!(
        std::env::var("TOOLWIRE_K8S_TESTS").as_deref(),
        Ok("1"),
        "these tests need a cluster: set TOOLWIRE_K8S_TESTS=1 and a kubeconfig (docs/KUBERNETES.md)"
    );
    let mut config = KubernetesConfig::default();
    if let Ok(image) = std::env::var("TOOLWIRE_K8S_IMAGE") {
        config = config.image(image);
    }
    if let Ok(namespace) = std::env::var("TOOLWIRE_K8S_NAMESPACE") {
        config = config.namespace(namespace);
    }
    KubernetesLauncher::connect(config)
        .await
        .unwrap_or_else(|e| panic!("no cluster reachable: {e}"))
}

async fn run(executor: &toolwire::RemoteExecutor, command: &str) -> toolwire::ToolResponse {
    within(
        LIMIT,
        "a bash call",
        executor.execute(ToolRequest::new("bash", json!({ "command": command }))),
    )
    .await
    .expect("an answer")
}

#[tokio::test]
#[ignore = "needs a cluster: TOOLWIRE_K8S_TESTS=1 cargo test --test kubernetes_cluster -- --ignored"]
async fn a_pod_runs_tools_as_uid_1000_with_a_read_only_root() {
    let launcher = cluster().await;
    let sandbox = within(
        LIMIT,
        "launch",
        launcher.launch(PodConfig::default().session("cluster")),
    )
    .await
    .expect("launch");
    let executor = sandbox.executor();
    executor
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
    assert_eq!(run(executor, "id -u").await.output.trim(), "1000");
    assert!(
        run(executor, "touch /etc/x").await.is_error,
        "the root is read-only"
    );
    assert_eq!(
        run(executor, "echo ok > f && cat f").await.output.trim(),
        "ok"
    );
    assert!(
        run(executor, "ls /run/toolwire")
            .await
            .output
            .trim()
            .is_empty(),
        "the token file is gone once the server read it"
    );
    let name = sandbox.name().to_owned();
    sandbox.shutdown().await.expect("shutdown");
    assert!(
        !launcher
            .list()
            .await
            .expect("test data")
            .iter()
            .any(|p| p.name == name && p.phase == "Running")
    );
}

#[tokio::test]
#[ignore = "needs a cluster: TOOLWIRE_K8S_TESTS=1 cargo test --test kubernetes_cluster -- --ignored"]
async fn a_killed_server_fails_the_pending_call() {
    let launcher = cluster().await;
    let sandbox = within(LIMIT, "launch", launcher.launch(PodConfig::default()))
        .await
        .expect("launch");
    let executor = sandbox.executor();
    executor
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
    let result = within(
        LIMIT,
        "the call to fail",
        executor.execute(ToolRequest::new(
            "bash",
            json!({ "command": "kill -9 $PPID; sleep 60" }),
        )),
    )
    .await;
    assert!(
        matches!(
            result,
            Err(CallError::SandboxEnded(_) | CallError::ConnectionLost { .. })
        ),
        "{result:?}"
    );
    drop(sandbox);
    launcher.drain().await;
}

#[tokio::test]
#[ignore = "needs a cluster: TOOLWIRE_K8S_TESTS=1 cargo test --test kubernetes_cluster -- --ignored"]
async fn no_network_has_no_egress() {
    let launcher = cluster().await;
    let sandbox = within(
        LIMIT,
        "launch",
        launcher.launch(PodConfig::default().network(Network::None)),
    )
    .await
    .expect("launch");
    let executor = sandbox.executor();
    executor
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
    let probe = "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), 3)\"";
    assert!(run(executor, probe).await.is_error, "egress must be denied");
    sandbox.shutdown().await.expect("shutdown");
}
