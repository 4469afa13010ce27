//! The objects a sandbox is: a pure function from the configuration to the
//! Pod, its Secret (token and tools file) and, for [`Network::None`], the
//! NetworkPolicy that denies its egress — so every hardening field is
//! checked by a unit test and a golden manifest without a cluster.
//!
//! The token never enters the server's container as a Secret volume: an
//! init container copies it into a memory-backed emptyDir that only the
//! Pod's containers mount, and the server reads that file once and deletes
//! it (see docs/KUBERNETES.md).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

use super::config::{KubernetesConfig, Network, PodConfig};
use super::error::KubernetesError;
use super::{
    ANNOTATION_OWNER, ANNOTATION_SESSION, LABEL_CREATED, LABEL_MANAGED, LABEL_SANDBOX,
    LABEL_SESSION, OWNER_DETACHED,
};

/// The server's port in the Pod.
pub(super) const SERVER_PORT: u16 = 7000;
/// The uid and gid everything in the Pod runs as.
pub(super) const UID: i64 = 1000;
/// Where the init container finds the Secret.
const SECRET_DIR: &str = "/secret";
/// The memory-backed emptyDir the token is copied to (server's only file).
const RUN_DIR: &str = "/run/toolwire";
/// The tools file's key in the Secret and its name in [`RUN_DIR`].
pub(super) const TOOLS_FILE_KEY: &str = "tools.yaml";
/// The token's key in the Secret.
pub(super) const TOKEN_KEY: &str = "token";

/// The names and identity of one sandbox's objects.
#[derive(Debug, Clone)]
pub(super) struct Identity<'a> {
    /// Name of the Pod, its Secret and its NetworkPolicy.
    pub(super) name: &'a str,
    /// Namespace of all three.
    pub(super) namespace: &'a str,
    /// The owner annotation value (`<host>/<pid>/<start time>`).
    pub(super) owner: &'a str,
    /// Creation time, Unix seconds.
    pub(super) created_unix: u64,
}

/// The labels every object of the sandbox carries; the configuration's own
/// labels first, so toolwire's always win.
fn labels(
    config: &KubernetesConfig,
    pod: &PodConfig,
    who: &Identity<'_>,
) -> BTreeMap<String, String> {
    let mut labels = config.labels.clone();
    labels.extend([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_SANDBOX.to_owned(), who.name.to_owned()),
        (LABEL_SESSION.to_owned(), label_value(&pod.session)),
        (LABEL_CREATED.to_owned(), who.created_unix.to_string()),
    ]);
    labels
}

fn metadata(config: &KubernetesConfig, pod: &PodConfig, who: &Identity<'_>) -> Value {
    let owner = if pod.detached {
        OWNER_DETACHED
    } else {
        who.owner
    };
    let mut meta = json!({
        "name": who.name,
        "namespace": who.namespace,
        "labels": labels(config, pod, who),
        "annotations": {
            ANNOTATION_OWNER: owner,
            ANNOTATION_SESSION: pod.session,
        },
    });
    if let (Some(owner), false) = (&config.owner_pod, pod.detached) {
        meta["ownerReferences"] = json!([{
            "apiVersion": "v1",
            "kind": "Pod",
            "name": owner.name,
            "uid": owner.uid,
            "controller": false,
            "blockOwnerDeletion": false,
        }]);
    }
    meta
}

/// The container security context: nothing to gain, nothing to write but
/// the volumes.
fn container_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": false,
        "privileged": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

/// The server's arguments.
fn server_args(pod: &PodConfig) -> Vec<String> {
    let mut args = vec![
        "--listen".to_owned(),
        format!("0.0.0.0:{SERVER_PORT}"),
        "--workdir".to_owned(),
        "/workspace".to_owned(),
        "--token-file".to_owned(),
        format!("{RUN_DIR}/{TOKEN_KEY}"),
    ];
    if pod.tools_file.is_some() {
        args.extend([
            "--tools-file".to_owned(),
            format!("{RUN_DIR}/{TOOLS_FILE_KEY}"),
        ]);
    }
    if let Some(idle) = pod.idle_timeout {
        args.extend([
            "--idle-timeout-secs".to_owned(),
            idle.as_secs().max(1).to_string(),
        ]);
    }
    args.extend(pod.server_args.iter().cloned());
    args
}

/// The init container's script: copies the Secret's files into the
/// memory-backed run directory, readable by the uid alone.
fn copy_script(pod: &PodConfig) -> String {
    let mut script = format!("umask 077 && cp {SECRET_DIR}/{TOKEN_KEY} {RUN_DIR}/{TOKEN_KEY}");
    if pod.tools_file.is_some() {
        script.push_str(&format!(
            " && cp {SECRET_DIR}/{TOOLS_FILE_KEY} {RUN_DIR}/{TOOLS_FILE_KEY}"
        ));
    }
    script
}

/// The sandbox Pod as JSON (see [`pod_manifest`]).
pub(super) fn pod_json(config: &KubernetesConfig, pod: &PodConfig, who: &Identity<'_>) -> Value {
    let limits = json!({
        "cpu": pod.cpu,
        "memory": pod.memory,
        "ephemeral-storage": pod.ephemeral_storage,
    });
    let mut spec = json!({
        "restartPolicy": "Never",
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "hostNetwork": false,
        "hostPID": false,
        "hostIPC": false,
        "shareProcessNamespace": false,
        "terminationGracePeriodSeconds": pod.stop_grace.as_secs(),
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "initContainers": [{
            "name": "token",
            "image": config.image,
            "imagePullPolicy": config.image_pull_policy,
            "command": ["/bin/sh", "-c", copy_script(pod)],
            "securityContext": container_security(),
            "resources": {
                "limits": { "cpu": "100m", "memory": "32Mi", "ephemeral-storage": "1Mi" },
                "requests": { "cpu": "10m", "memory": "8Mi", "ephemeral-storage": "1Mi" },
            },
            "volumeMounts": [
                { "name": "secret", "mountPath": SECRET_DIR, "readOnly": true },
                { "name": "run", "mountPath": RUN_DIR },
            ],
        }],
        "containers": [{
            "name": "server",
            "image": config.image,
            "imagePullPolicy": config.image_pull_policy,
            "args": server_args(pod),
            "env": [{ "name": "RUST_LOG", "value": "info" }],
            "ports": [{ "name": "ws", "containerPort": SERVER_PORT, "protocol": "TCP" }],
            "readinessProbe": {
                "httpGet": { "path": "/health", "port": SERVER_PORT },
                "periodSeconds": 1,
                "timeoutSeconds": 1,
                "failureThreshold": 3,
            },
            "securityContext": container_security(),
            "resources": { "limits": limits, "requests": limits },
            "volumeMounts": [
                { "name": "workspace", "mountPath": "/workspace" },
                { "name": "tmp", "mountPath": "/tmp" },
                { "name": "run", "mountPath": RUN_DIR },
            ],
        }],
        "volumes": [
            { "name": "workspace", "emptyDir": { "sizeLimit": pod.workspace_size } },
            { "name": "tmp", "emptyDir": { "medium": "Memory", "sizeLimit": pod.tmp_size } },
            { "name": "run", "emptyDir": { "medium": "Memory", "sizeLimit": "1Mi" } },
            { "name": "secret", "secret": { "secretName": who.name, "defaultMode": 0o400 } },
        ],
    });
    if let Some(class) = &config.runtime_class {
        spec["runtimeClassName"] = json!(class);
    }
    if !config.node_selector.is_empty() {
        spec["nodeSelector"] = json!(config.node_selector);
    }
    if !config.tolerations.is_empty() {
        spec["tolerations"] = json!(config.tolerations);
    }
    if !config.image_pull_secrets.is_empty() {
        spec["imagePullSecrets"] = config
            .image_pull_secrets
            .iter()
            .map(|name| json!({ "name": name }))
            .collect();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(config, pod, who),
        "spec": spec,
    })
}

/// The sandbox Pod: one hardened server container (uid 1000, no
/// capabilities, read-only root, seccomp RuntimeDefault, no service account
/// token, no host namespaces, limits), an init container that moves the
/// token into place, and emptyDir volumes for the workspace, /tmp and the
/// token.
///
/// # Errors
/// [`KubernetesError::Manifest`] if the manifest does not read as a Pod.
pub(super) fn pod_manifest(
    config: &KubernetesConfig,
    pod: &PodConfig,
    who: &Identity<'_>,
) -> Result<Pod, KubernetesError> {
    serde_json::from_value(pod_json(config, pod, who)).map_err(KubernetesError::manifest("Pod"))
}

/// The sandbox's Secret: the token and, when given, the tools file.
///
/// # Errors
/// [`KubernetesError::Manifest`] if the manifest does not read as a Secret.
pub(super) fn secret_manifest(
    config: &KubernetesConfig,
    pod: &PodConfig,
    who: &Identity<'_>,
    token: &str,
    tools_file: Option<&[u8]>,
) -> Result<Secret, KubernetesError> {
    use k8s_openapi::ByteString;
    let mut data = BTreeMap::from([(TOKEN_KEY.to_owned(), ByteString(token.as_bytes().to_vec()))]);
    if let Some(bytes) = tools_file {
        data.insert(TOOLS_FILE_KEY.to_owned(), ByteString(bytes.to_vec()));
    }
    let mut secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(config, pod, who),
        "type": "Opaque",
        "immutable": true,
    }))
    .map_err(KubernetesError::manifest("Secret"))?;
    secret.data = Some(data);
    Ok(secret)
}

/// The NetworkPolicy of a [`Network::None`] sandbox: selects its Pod alone
/// and allows no egress at all (ingress is not restricted by it).
pub(super) fn network_policy_json(
    config: &KubernetesConfig,
    pod: &PodConfig,
    who: &Identity<'_>,
) -> Option<Value> {
    (pod.network == Network::None).then(|| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(config, pod, who),
            "spec": {
                "podSelector": { "matchLabels": { LABEL_SANDBOX: who.name } },
                "policyTypes": ["Egress"],
                "egress": [],
            },
        })
    })
}

/// The NetworkPolicy as the typed object (see [`network_policy_json`]).
///
/// # Errors
/// [`KubernetesError::Manifest`] if the manifest does not read as a
/// NetworkPolicy.
pub(super) fn network_policy_manifest(
    config: &KubernetesConfig,
    pod: &PodConfig,
    who: &Identity<'_>,
) -> Result<Option<NetworkPolicy>, KubernetesError> {
    network_policy_json(config, pod, who)
        .map(serde_json::from_value)
        .transpose()
        .map_err(KubernetesError::manifest("NetworkPolicy"))
}

/// A label value from any text: `[A-Za-z0-9_.-]`, at most 63 characters,
/// alphanumeric at both ends (Kubernetes' rule), `session` when nothing is left.
pub(super) fn label_value(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let trimmed = kept.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "session".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A DNS-1123 name part from any text: lowercase `[a-z0-9-]`, at most 40
/// characters, alphanumeric at both ends.
pub(super) fn name_part(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let trimmed = kept.trim_matches('-');
    if trimmed.is_empty() {
        "session".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
