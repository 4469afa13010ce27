//! Every hardening field of the sandbox Pod, one test each, and the
//! manifests' round trip through the typed objects (a field the API types
//! do not know would be lost on the way to the cluster).

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::kubernetes::config::OwnerPod;

const WHO: Identity<'static> = Identity {
    name: "toolwire-s1-0123456789ab",
    namespace: "agents",
    owner: "host/42/7",
    created_unix: 1_700_000_000,
};

fn config() -> KubernetesConfig {
    KubernetesConfig::default()
        .image("toolwire-sandbox:test")
        .owner_pod(None)
}

fn pod() -> Value {
    pod_json(&config(), &PodConfig::default().session("s1"), &WHO)
}

fn server(pod: &Value) -> &Value {
    &pod["spec"]["containers"][0]
}

#[test]
fn the_manifests_survive_the_typed_round_trip() {
    let config = config().runtime_class("gvisor");
    let launch = PodConfig::default()
        .network(Network::None)
        .tools_file("/x/tools.yaml")
        .idle_timeout(Duration::from_secs(30));
    let json = pod_json(&config, &launch, &WHO);
    let typed = serde_json::to_value(pod_manifest(&config, &launch, &WHO).expect("a Pod"))
        .expect("test data");
    assert_eq!(typed, json);
    let policy = network_policy_json(&config, &launch, &WHO).expect("test data");
    let typed =
        serde_json::to_value(network_policy_manifest(&config, &launch, &WHO).expect("a policy"))
            .expect("test data");
    assert_eq!(typed, policy);
}

#[test]
fn the_pod_matches_its_golden_manifest() {
    let golden: Value = serde_json::from_str(include_str!("../../tests/data/kubernetes/pod.json"))
        .expect("test data");
    assert_eq!(
        pod(),
        golden,
        "regenerate tests/data/kubernetes/pod.json only on purpose"
    );
}

#[test]
fn it_runs_as_a_fixed_non_root_uid() {
    let pod = pod();
    let ctx = &pod["spec"]["securityContext"];
    assert_eq!(ctx["runAsNonRoot"], true);
    assert_eq!(ctx["runAsUser"], 1000);
    assert_eq!(ctx["runAsGroup"], 1000);
    assert_eq!(ctx["fsGroup"], 1000);
    for container in [server(&pod), &pod["spec"]["initContainers"][0]] {
        assert_eq!(container["securityContext"]["runAsNonRoot"], true);
        assert_eq!(container["securityContext"]["runAsUser"], 1000);
    }
}

#[test]
fn no_privilege_can_be_gained_and_every_capability_is_dropped() {
    let pod = pod();
    for container in [server(&pod), &pod["spec"]["initContainers"][0]] {
        let ctx = &container["securityContext"];
        assert_eq!(ctx["allowPrivilegeEscalation"], false);
        assert_eq!(ctx["privileged"], false);
        assert_eq!(ctx["capabilities"], json!({ "drop": ["ALL"] }));
        assert!(ctx["capabilities"].get("add").is_none());
    }
}

#[test]
fn the_root_filesystem_is_read_only() {
    let pod = pod();
    assert_eq!(
        server(&pod)["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    assert_eq!(
        pod["spec"]["initContainers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
}

#[test]
fn seccomp_is_the_runtime_default() {
    let pod = pod();
    let default = json!({ "type": "RuntimeDefault" });
    assert_eq!(pod["spec"]["securityContext"]["seccompProfile"], default);
    assert_eq!(server(&pod)["securityContext"]["seccompProfile"], default);
}

#[test]
fn no_service_account_token_no_service_links_no_host_namespaces() {
    let spec = &pod()["spec"];
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(spec["enableServiceLinks"], false);
    assert_eq!(spec["hostNetwork"], false);
    assert_eq!(spec["hostPID"], false);
    assert_eq!(spec["hostIPC"], false);
    assert_eq!(spec["shareProcessNamespace"], false);
    assert_eq!(spec["restartPolicy"], "Never");
}

#[test]
fn cpu_memory_and_ephemeral_storage_are_limited() {
    let launch = PodConfig::default().memory("512Mi");
    let pod = pod_json(&config(), &launch, &WHO);
    let resources = &server(&pod)["resources"];
    let expected = json!({ "cpu": "1", "memory": "512Mi", "ephemeral-storage": "3Gi" });
    assert_eq!(resources["limits"], expected);
    assert_eq!(resources["requests"], expected);
}

#[test]
fn the_workspace_and_tmp_are_size_limited_empty_dirs() {
    let pod = pod();
    let volumes = pod["spec"]["volumes"].as_array().expect("test data");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .expect("test data")
            .clone()
    };
    assert_eq!(
        volume("workspace")["emptyDir"],
        json!({ "sizeLimit": "2Gi" })
    );
    assert_eq!(
        volume("tmp")["emptyDir"],
        json!({ "medium": "Memory", "sizeLimit": "256Mi" })
    );
    let mounts = server(&pod)["volumeMounts"]
        .as_array()
        .expect("test data")
        .clone();
    let paths: Vec<_> = mounts.iter().map(|m| m["mountPath"].clone()).collect();
    assert_eq!(
        paths,
        [json!("/workspace"), json!("/tmp"), json!("/run/toolwire")]
    );
}

#[test]
fn only_the_init_container_mounts_the_secret() {
    let pod = pod();
    let mounts = |c: &Value| -> Vec<String> {
        c["volumeMounts"]
            .as_array()
            .expect("test data")
            .iter()
            .map(|m| m["name"].as_str().expect("test data").to_owned())
            .collect()
    };
    assert!(!mounts(server(&pod)).contains(&"secret".to_owned()));
    let init = &pod["spec"]["initContainers"][0];
    assert!(mounts(init).contains(&"secret".to_owned()));
    let secret = pod["spec"]["volumes"]
        .as_array()
        .expect("test data")
        .iter()
        .find(|v| v["name"] == "secret")
        .expect("test data")
        .clone();
    assert_eq!(secret["secret"]["secretName"], WHO.name);
    assert_eq!(secret["secret"]["defaultMode"], 0o400);
    let run = pod["spec"]["volumes"]
        .as_array()
        .expect("test data")
        .iter()
        .find(|v| v["name"] == "run")
        .expect("test data")
        .clone();
    assert_eq!(run["emptyDir"]["medium"], "Memory");
    let args: Vec<_> = server(&pod)["args"].as_array().expect("test data").clone();
    let at = args
        .iter()
        .position(|a| a == "--token-file")
        .expect("test data");
    assert_eq!(args[at + 1], "/run/toolwire/token");
}

#[test]
fn labels_name_the_sandbox_and_the_owner_is_an_annotation() {
    let pod = pod();
    let meta = &pod["metadata"];
    assert_eq!(meta["labels"][LABEL_MANAGED], "true");
    assert_eq!(meta["labels"][LABEL_SANDBOX], WHO.name);
    assert_eq!(meta["labels"][LABEL_SESSION], "s1");
    assert_eq!(meta["annotations"][ANNOTATION_OWNER], "host/42/7");
    assert!(meta.get("ownerReferences").is_none());
}

#[test]
fn the_configured_labels_never_replace_toolwires() {
    let mut config = config();
    config.labels.insert(LABEL_MANAGED.into(), "false".into());
    config.labels.insert("team".into(), "a".into());
    let pod = pod_json(&config, &PodConfig::default(), &WHO);
    assert_eq!(pod["metadata"]["labels"][LABEL_MANAGED], "true");
    assert_eq!(pod["metadata"]["labels"]["team"], "a");
}

#[test]
fn an_orchestrator_pod_owns_the_sandbox_unless_detached() {
    let config = config().owner_pod(Some(OwnerPod {
        name: "orchestrator-0".into(),
        uid: "1234-uid".into(),
    }));
    let pod = pod_json(&config, &PodConfig::default(), &WHO);
    assert_eq!(
        pod["metadata"]["ownerReferences"],
        json!([{
            "apiVersion": "v1", "kind": "Pod", "name": "orchestrator-0", "uid": "1234-uid",
            "controller": false, "blockOwnerDeletion": false,
        }])
    );
    let detached = pod_json(&config, &PodConfig::default().detached(true), &WHO);
    assert!(detached["metadata"].get("ownerReferences").is_none());
    assert_eq!(
        detached["metadata"]["annotations"][ANNOTATION_OWNER],
        OWNER_DETACHED
    );
}

#[test]
fn scheduling_and_runtime_class_come_from_the_config() {
    let mut config = config().runtime_class("gvisor");
    config
        .node_selector
        .insert("pool".into(), "sandboxes".into());
    config.image_pull_secrets.push("regcred".into());
    config.tolerations.push(
        serde_json::from_value(json!({
            "key": "sandbox", "operator": "Exists", "effect": "NoSchedule"
        }))
        .expect("test data"),
    );
    let pod = pod_json(&config, &PodConfig::default(), &WHO);
    let spec = &pod["spec"];
    assert_eq!(spec["runtimeClassName"], "gvisor");
    assert_eq!(spec["nodeSelector"], json!({ "pool": "sandboxes" }));
    assert_eq!(spec["imagePullSecrets"], json!([{ "name": "regcred" }]));
    assert_eq!(spec["tolerations"][0]["key"], "sandbox");
}

#[test]
fn no_network_denies_all_egress_of_this_pod_only() {
    let launch = PodConfig::default().network(Network::None);
    let policy = network_policy_json(&config(), &launch, &WHO).expect("test data");
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"][LABEL_SANDBOX],
        WHO.name
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Egress"]));
    assert_eq!(policy["spec"]["egress"], json!([]));
    assert!(network_policy_json(&config(), &PodConfig::default(), &WHO).is_none());
}

#[test]
fn the_secret_holds_the_token_and_the_tools_file() {
    let secret = secret_manifest(&config(), &PodConfig::default(), &WHO, "tok", Some(b"x: 1"))
        .expect("a Secret");
    let data = secret.data.expect("test data");
    assert_eq!(data[TOKEN_KEY].0, b"tok");
    assert_eq!(data[TOOLS_FILE_KEY].0, b"x: 1");
    assert_eq!(secret.immutable, Some(true));
    assert_eq!(secret.metadata.name.as_deref(), Some(WHO.name));
}

#[test]
fn the_idle_timeout_and_tools_file_reach_the_server() {
    let launch = PodConfig::default()
        .idle_timeout(Duration::from_millis(200))
        .tools_file("/x/t.yaml");
    let pod = pod_json(&config(), &launch, &WHO);
    let args = server(&pod)["args"].to_string();
    assert!(args.contains(r#""--idle-timeout-secs","1""#), "{args}");
    assert!(
        args.contains(r#""--tools-file","/run/toolwire/tools.yaml""#),
        "{args}"
    );
    let script = pod["spec"]["initContainers"][0]["command"][2]
        .as_str()
        .expect("test data");
    assert!(script.contains("/secret/tools.yaml"), "{script}");
}

#[test]
fn names_and_label_values_follow_kubernetes_rules() {
    assert_eq!(name_part("My Session/1"), "my-session-1");
    assert_eq!(name_part("--"), "session");
    assert_eq!(label_value("a b/c"), "a-b-c");
    assert_eq!(label_value(&"x".repeat(100)).len(), 63);
    assert_eq!(label_value("-x-"), "x");
}
