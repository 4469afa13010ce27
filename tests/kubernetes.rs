//! The Kubernetes launcher against kube's mock service (tower-test), where
//! no cluster can run: every request it makes is recorded and checked — the
//! Pod and Secret bodies against the golden manifest, the watch, the
//! port-forward upgrade, the deletes — and every error path: an image that
//! cannot be pulled, a Pod no node takes, an OOM-killed server, the API
//! server going away mid-call. The fake's kubelet runs each Pod as the real
//! `toolwire-server`, and the port-forward is a real `v4.channel.k8s.io`
//! WebSocket, so calls travel the same path as in a cluster.

mod common;

use std::time::Duration;

use common::fake_cluster::{FakeCluster, Kubelet, Recorded};
use common::within;
use serde_json::{Value, json};
use toolwire::kubernetes::{
    ConnectMode, KubernetesConfig, KubernetesError, KubernetesLauncher, KubernetesSandbox, Network,
    PodConfig, PodExit,
};
use toolwire::launcher::PoolConfig;
use toolwire::protocol::BusEvent;
use toolwire::{
    Action, CallError, Executor, PeerConfig, PermissionRule, Sandbox, SandboxPool, ToolRequest,
};

const LIMIT: Duration = Duration::from_secs(30);

fn config() -> KubernetesConfig {
    KubernetesConfig::default()
        .image("toolwire-sandbox:test")
        .owner_pod(None)
}

async fn launcher(kubelet: Kubelet) -> (KubernetesLauncher, FakeCluster) {
    let (client, fake) = FakeCluster::start(kubelet).await;
    (KubernetesLauncher::from_client(client, config()), fake)
}

async fn bash(sandbox: &KubernetesSandbox, command: &str) -> String {
    sandbox
        .executor()
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
    let response = within(
        LIMIT,
        "the bash call",
        sandbox
            .executor()
            .execute(ToolRequest::new("bash", json!({ "command": command }))),
    )
    .await
    .expect("an answer");
    assert!(!response.is_error, "{response:?}");
    response.output
}

fn made(requests: &[Recorded], method: &str, path_end: &str) -> Vec<Recorded> {
    requests
        .iter()
        .filter(|r| r.method == method && r.path().ends_with(path_end))
        .cloned()
        .collect()
}

/// The recorded Pod body with its per-launch values (name, owner, time)
/// set to the golden manifest's.
fn normalized(mut pod: Value) -> Value {
    let name = "toolwire-s1-0123456789ab";
    let meta = &mut pod["metadata"];
    meta["name"] = json!(name);
    meta["labels"]["toolwire.sandbox"] = json!(name);
    meta["labels"]["toolwire.created"] = json!("1700000000");
    meta["annotations"]["toolwire.dev/owner"] = json!("host/42/7");
    let volumes = pod
        .get_mut("spec")
        .and_then(|spec| spec["volumes"].as_array_mut());
    for volume in volumes.into_iter().flatten() {
        if volume["name"] == "secret" {
            volume["secret"]["secretName"] = json!(name);
        }
    }
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_pod_runs_tools_through_the_port_forward_and_is_deleted_on_shutdown() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let sandbox = within(
        LIMIT,
        "the launch",
        launcher.launch(PodConfig::default().session("s1")),
    )
    .await
    .expect("launch");
    let name = sandbox.name().to_owned();
    assert!(name.starts_with("toolwire-s1-"), "{name}");
    assert_eq!(
        bash(&sandbox, "echo hi from the pod").await.trim(),
        "hi from the pod"
    );

    let requests = fake.requests();
    let secrets = made(&requests, "POST", "/namespaces/agents/secrets");
    let pods = made(&requests, "POST", "/namespaces/agents/pods");
    assert_eq!((secrets.len(), pods.len()), (1, 1), "one Secret, one Pod");
    let first_post = requests
        .iter()
        .position(|r| r.method == "POST")
        .expect("test data");
    assert!(
        requests[first_post].path().ends_with("/secrets"),
        "the Secret comes before the Pod"
    );
    let golden: Value =
        serde_json::from_str(include_str!("data/kubernetes/pod.json")).expect("test data");
    assert_eq!(normalized(pods[0].body.clone().expect("test data")), golden);
    let secret = secrets[0].body.clone().expect("test data");
    assert_eq!(secret["metadata"]["name"], name.as_str());
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["immutable"], true);
    let token = secret["data"]["token"]
        .as_str()
        .expect("test data")
        .to_owned();
    assert!(token.len() >= 64, "a random token, base64");
    let mut secret = normalized(secret);
    secret["data"]["token"] = json!("<token>");
    let golden_secret: Value =
        serde_json::from_str(include_str!("data/kubernetes/secret.json")).expect("test data");
    assert_eq!(secret, golden_secret);
    assert!(!made(&requests, "GET", &format!("/pods/{name}/portforward")).is_empty());
    let forward = made(&requests, "GET", "/portforward")[0].clone();
    assert!(forward.uri.contains("ports=7000"), "{}", forward.uri);
    let watch = requests
        .iter()
        .find(|r| r.uri.contains("watch=true"))
        .expect("a watch");
    assert!(
        watch.uri.contains(&format!("metadata.name%3D{name}"))
            || watch.uri.contains(&format!("metadata.name={name}")),
        "{}",
        watch.uri
    );
    assert!(
        fake.policy_names().is_empty(),
        "no NetworkPolicy with the cluster network"
    );

    within(LIMIT, "the shutdown", sandbox.shutdown())
        .await
        .expect("shutdown");
    let requests = fake.requests();
    assert_eq!(made(&requests, "DELETE", &format!("/pods/{name}")).len(), 1);
    assert_eq!(
        made(&requests, "DELETE", &format!("/secrets/{name}")).len(),
        1
    );
    assert!(fake.pod_names().is_empty() && fake.secret_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_ip_mode_connects_straight_to_the_pod() {
    let (client, fake) = FakeCluster::start(Kubelet::Run).await;
    let launcher = KubernetesLauncher::from_client(client, config().connect(ConnectMode::PodIp));
    let sandbox = within(LIMIT, "the launch", launcher.launch(PodConfig::default()))
        .await
        .expect("launch");
    assert_eq!(bash(&sandbox, "echo direct").await.trim(), "direct");
    assert!(
        made(&fake.requests(), "GET", "/portforward").is_empty(),
        "no port-forward"
    );
    sandbox.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_network_adds_a_policy_that_denies_all_egress_and_deletes_it() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let sandbox = within(
        LIMIT,
        "the launch",
        launcher.launch(PodConfig::default().network(Network::None)),
    )
    .await
    .expect("launch");
    let name = sandbox.name().to_owned();
    let policies = made(
        &fake.requests(),
        "POST",
        "/apis/networking.k8s.io/v1/namespaces/agents/networkpolicies",
    );
    assert_eq!(policies.len(), 1);
    let policy = policies[0].body.clone().expect("test data");
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["toolwire.sandbox"],
        name.as_str()
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Egress"]));
    assert_eq!(policy["spec"]["egress"], json!([]));
    sandbox.shutdown().await.expect("shutdown");
    assert_eq!(
        made(
            &fake.requests(),
            "DELETE",
            &format!("/networkpolicies/{name}")
        )
        .len(),
        1
    );
    assert!(fake.policy_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_pull_failure_fails_the_launch_at_once_and_deletes_everything() {
    let (launcher, fake) = launcher(Kubelet::PullFails).await;
    // The bound is far away: the error must come from the status, not the clock.
    let launch = PodConfig::default().ready_timeout(Duration::from_secs(600));
    let error = within(LIMIT, "the failed launch", launcher.launch(launch))
        .await
        .expect_err("the image cannot be pulled");
    let KubernetesError::NotReady { reason, events, .. } = &error else {
        panic!("expected NotReady, got {error}");
    };
    assert!(
        reason.contains("ErrImagePull") && reason.contains("not found"),
        "{reason}"
    );
    assert!(events.contains("Failed to pull image"), "{events}");
    assert!(
        fake.pod_names().is_empty() && fake.secret_names().is_empty(),
        "all deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_is_reported_at_the_bound_with_the_schedulers_words() {
    let (launcher, fake) = launcher(Kubelet::Unschedulable).await;
    let launch = PodConfig::default().ready_timeout(Duration::from_millis(500));
    let error = within(LIMIT, "the failed launch", launcher.launch(launch))
        .await
        .expect_err("no node fits");
    let message = error.to_string();
    assert!(
        message.contains("unschedulable: 0/3 nodes are available: 3 Insufficient memory."),
        "{message}"
    );
    assert!(
        fake.pod_names().is_empty() && fake.secret_names().is_empty(),
        "all deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_killed_server_fails_the_pending_call_at_once_with_its_exit() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    let peer = PeerConfig::default().on_event(move |event| {
        if matches!(event, BusEvent::ToolStarted { .. }) {
            let _ = started.send(());
        }
    });
    let sandbox = within(
        LIMIT,
        "the launch",
        launcher.launch(PodConfig::default().peer(peer)),
    )
    .await
    .expect("launch");
    let name = sandbox.name().to_owned();
    bash(&sandbox, "echo warm").await;
    let pending = sandbox
        .executor()
        .execute(ToolRequest::new("bash", json!({ "command": "sleep 60" })));
    let killer = async {
        within(LIMIT, "the call to start", starts.recv()).await;
        fake.kill_server(&name, "OOMKilled", 137);
    };
    let (result, ()) = within(
        LIMIT,
        "the call to fail",
        futures::future::join(pending, killer),
    )
    .await;
    let Err(CallError::SandboxEnded(ended)) = &result else {
        panic!("expected SandboxEnded, got {result:?}");
    };
    let exit = ended.downcast_ref::<PodExit>().expect("the Pod's exit");
    assert_eq!(exit.exit_code, Some(137));
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.reason, "OOMKilled");
    assert!(
        exit.logs.contains("toolwire"),
        "the server's last log lines: {:?}",
        exit.logs
    );
    assert!(sandbox.ended().is_some(), "the handle reports the end");
    fake.wait_until("the watcher to delete the Pod and its Secret", LIMIT, |f| {
        f.pod_names().is_empty() && f.secret_names().is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_going_away_mid_call_fails_the_call_instead_of_hanging() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    // The peer tries to resume over a new port-forward for 2 s, then gives up.
    let peer = PeerConfig::default()
        .resume(true, Duration::from_secs(2))
        .on_event(move |event| {
            if matches!(event, BusEvent::ToolStarted { .. }) {
                let _ = started.send(());
            }
        });
    let sandbox = within(
        LIMIT,
        "the launch",
        launcher.launch(PodConfig::default().peer(peer)),
    )
    .await
    .expect("launch");
    bash(&sandbox, "echo warm").await;
    let pending = sandbox
        .executor()
        .execute(ToolRequest::new("bash", json!({ "command": "sleep 60" })));
    let cut = async {
        within(LIMIT, "the call to start", starts.recv()).await;
        fake.stop_api();
    };
    let (result, ()) = within(
        LIMIT,
        "the call to fail",
        futures::future::join(pending, cut),
    )
    .await;
    assert!(
        matches!(result, Err(CallError::ConnectionLost { .. })),
        "expected a lost connection, got {result:?}"
    );
    let shutdown = within(LIMIT, "the shutdown", sandbox.shutdown()).await;
    assert!(
        matches!(shutdown, Err(KubernetesError::Api { .. })),
        "{shutdown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_sandbox_is_deleted_by_the_launchers_tasks() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let sandbox = within(LIMIT, "the launch", launcher.launch(PodConfig::default()))
        .await
        .expect("launch");
    drop(sandbox);
    within(LIMIT, "the drain", launcher.drain()).await;
    assert!(fake.pod_names().is_empty() && fake.secret_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reap_deletes_the_pods_of_dead_owners_only() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let me = launcher.owner().to_owned();
    let host = me.split('/').next().expect("test data").to_owned();
    fake.add_pod("toolwire-dead-1", &format!("{host}/4000000/1"));
    fake.add_pod("toolwire-mine-1", &me);
    fake.add_pod("toolwire-detached-1", "detached");
    fake.add_pod("toolwire-elsewhere-1", "other-host/1/1");
    assert_eq!(launcher.list().await.expect("list").len(), 4);
    assert_eq!(launcher.reap().await.expect("reap"), 1);
    let mut left = fake.pod_names();
    left.sort();
    assert_eq!(
        left,
        [
            "toolwire-detached-1",
            "toolwire-elsewhere-1",
            "toolwire-mine-1"
        ]
    );
    assert!(!fake.secret_names().contains(&"toolwire-dead-1".to_owned()));
    assert_eq!(launcher.remove_all().await.expect("remove all"), 3);
    assert!(fake.pod_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_works_unchanged_over_the_kubernetes_launcher() {
    let (launcher, fake) = launcher(Kubelet::Run).await;
    let pool = SandboxPool::new(launcher, PodConfig::default(), PoolConfig::default());
    assert!(pool.wait_warm(1, LIMIT).await, "one warm sandbox");
    let sandbox = within(LIMIT, "acquire", pool.acquire())
        .await
        .expect("acquire");
    assert_eq!(bash(&sandbox, "echo pooled").await.trim(), "pooled");
    Sandbox::shutdown(sandbox).await.expect("shutdown");
    pool.shutdown().await;
    fake.wait_until("every pooled Pod deleted", LIMIT, |f| {
        f.pod_names().is_empty()
    })
    .await;
}
