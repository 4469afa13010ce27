//! The manifests in deploy/: each document parses into its k8s-openapi type
//! with no field lost (a field the type does not know — a typo, a field of
//! another version — fails), and the Role allows every request the
//! launcher makes in a full life (launch with and without network, a
//! failed launch, list, reap, shutdown), as the fake API server records them.

mod common;

use std::time::Duration;

use common::fake_cluster::{FakeCluster, Kubelet, Recorded};
use common::within;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::Deserialize;
use serde_json::Value;
use toolwire::kubernetes::{KubernetesConfig, KubernetesLauncher, Network, PodConfig};

/// Every YAML document of every file in deploy/, with its file name.
fn documents() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    let mut docs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("deploy/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "deploy/ holds the manifests");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("manifest");
        for document in yaml_serde::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).expect("valid YAML");
            docs.push((path.display().to_string(), value));
        }
    }
    docs
}

/// `value` as a `T`, refusing any field `T` does not carry over.
fn strictly<T: serde::de::DeserializeOwned + serde::Serialize>(file: &str, value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{file}: not a {}: {e}", std::any::type_name::<T>()));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(
        &back,
        value,
        "{file}: a field is unknown to {}",
        std::any::type_name::<T>()
    );
    typed
}

fn role() -> Role {
    let docs = documents();
    let (file, value) = docs
        .iter()
        .find(|(_, v)| v["kind"] == "Role")
        .expect("deploy/ holds a Role");
    strictly(file, value)
}

#[test]
fn every_manifest_parses_strictly_and_deploy_has_a_role_and_a_network_policy() {
    let mut kinds = Vec::new();
    for (file, value) in documents() {
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "Role" => drop(strictly::<Role>(&file, &value)),
            "RoleBinding" => drop(strictly::<RoleBinding>(&file, &value)),
            "ServiceAccount" => drop(strictly::<ServiceAccount>(&file, &value)),
            "NetworkPolicy" => drop(strictly::<NetworkPolicy>(&file, &value)),
            other => panic!("{file}: no check for kind {other:?}; add one"),
        }
        kinds.push(kind);
    }
    assert!(kinds.iter().any(|k| k == "Role"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "NetworkPolicy"), "{kinds:?}");
}

#[test]
fn a_misspelt_field_is_refused() {
    let value = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": { "name": "x" },
        "rules": [{ "apiGroups": [""], "resources": ["pods"], "verb": ["get"] }],
    });
    let caught = std::panic::catch_unwind(|| strictly::<Role>("inline", &value));
    assert!(caught.is_err(), "`verb` is not a field of a PolicyRule");
}

/// The (API group, resource, verb) of a recorded request, as RBAC sees it.
fn rbac_of(request: &Recorded) -> (String, String, String) {
    let path: Vec<&str> = request.path().trim_matches('/').split('/').collect();
    let (group, rest) = match path.as_slice() {
        ["api", "v1", "namespaces", _, rest @ ..] => (String::new(), rest.to_vec()),
        ["apis", group, _, "namespaces", _, rest @ ..] => ((*group).to_owned(), rest.to_vec()),
        other => panic!("a request outside a namespace: {other:?}"),
    };
    let watch = request.uri.contains("watch=true");
    let (resource, verb) = match (request.method.as_str(), rest.as_slice()) {
        ("POST", [kind]) => (kind.to_string(), "create"),
        ("GET", [kind]) if watch => (kind.to_string(), "watch"),
        ("GET", [kind]) => (kind.to_string(), "list"),
        ("GET", [kind, _]) => (kind.to_string(), "get"),
        ("GET", [kind, _, sub]) => (format!("{kind}/{sub}"), "get"),
        ("DELETE", [kind, _]) => (kind.to_string(), "delete"),
        (method, rest) => panic!("no RBAC mapping for {method} {rest:?}"),
    };
    (group, resource, verb.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_allows_every_request_the_launcher_makes() {
    let limit = Duration::from_secs(30);
    let config = KubernetesConfig::default().owner_pod(None);
    let (client, fake) = FakeCluster::start(Kubelet::Run).await;
    let launcher = KubernetesLauncher::from_client(client, config.clone());
    for network in [Network::Cluster, Network::None] {
        let sandbox = within(
            limit,
            "launch",
            launcher.launch(PodConfig::default().network(network)),
        )
        .await
        .expect("launch");
        sandbox.shutdown().await.expect("shutdown");
    }
    launcher.list().await.expect("list");
    launcher.reap().await.expect("reap");
    let mut requests = fake.requests();
    let (client, failing) = FakeCluster::start(Kubelet::PullFails).await;
    let launcher = KubernetesLauncher::from_client(client, config);
    within(
        limit,
        "the failed launch",
        launcher.launch(PodConfig::default()),
    )
    .await
    .expect_err("the pull fails");
    requests.extend(failing.requests());

    let role = role();
    let rules = role.rules.unwrap_or_default();
    let allowed = |(group, resource, verb): &(String, String, String)| {
        rules.iter().any(|rule| {
            rule.api_groups.iter().flatten().any(|g| g == group)
                && rule.resources.iter().flatten().any(|r| r == resource)
                && rule.verbs.iter().any(|v| v == verb)
        })
    };
    let mut needed: Vec<_> = requests.iter().map(rbac_of).collect();
    needed.sort();
    needed.dedup();
    assert!(
        needed.len() >= 10,
        "a full life makes many kinds of request: {needed:?}"
    );
    let missing: Vec<_> = needed.iter().filter(|n| !allowed(n)).collect();
    assert!(
        missing.is_empty(),
        "deploy/role.yaml does not allow {missing:?}"
    );
}
