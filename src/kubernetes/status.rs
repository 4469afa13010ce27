//! Reading a Pod's status: whether it is Ready, still coming, or will never
//! be ([`judge`]); and, once it has ended, how ([`ended`]). Pure functions
//! of the Pod object, so every reason is tested without a cluster.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Waiting reasons after which a container will not start without a change
/// to the Pod: the launch fails at once instead of at its bound.
const HOPELESS_WAITING: [&str; 7] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "CrashLoopBackOff",
];

/// Where a Pod stands on its way to Ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Readiness {
    /// Its server answers the readiness probe.
    Ready,
    /// Not yet; the note says what it waits for when the status says
    /// (`unschedulable: 0/3 nodes are available…`), for the error at the bound.
    Coming(Option<String>),
    /// It never will be: why.
    Never(String),
}

/// Where `pod` stands on its way to Ready.
pub(super) fn judge(pod: &Pod) -> Readiness {
    let Some(status) = &pod.status else {
        return Readiness::Coming(None);
    };
    if let Some(end) = ended(pod) {
        return Readiness::Never(end.describe());
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        if let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.as_deref().unwrap_or_default();
            if HOPELESS_WAITING.contains(&reason) {
                return Readiness::Never(format!(
                    "container {}: {reason}: {}",
                    container.name,
                    waiting.message.as_deref().unwrap_or("no message")
                ));
            }
        }
        if let Some(terminated) = container.state.as_ref().and_then(|s| s.terminated.as_ref())
            && terminated.exit_code != 0
        {
            return Readiness::Never(format!(
                "container {} exited with code {} ({})",
                container.name,
                terminated.exit_code,
                terminated.reason.as_deref().unwrap_or("no reason")
            ));
        }
    }
    let conditions = status.conditions.iter().flatten();
    let mut note = None;
    for condition in conditions {
        match (condition.type_.as_str(), condition.status.as_str()) {
            ("Ready", "True") => return Readiness::Ready,
            ("PodScheduled", "False") => {
                note = Some(format!(
                    "{}: {}",
                    condition
                        .reason
                        .as_deref()
                        .unwrap_or("not scheduled")
                        .to_lowercase(),
                    condition.message.as_deref().unwrap_or("no message")
                ));
            }
            _ => {}
        }
    }
    Readiness::Coming(note)
}

/// How a Pod ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ended {
    /// The server container's exit code, when it has one.
    pub(super) exit_code: Option<i32>,
    /// The kernel's OOM killer ended it.
    pub(super) oom_killed: bool,
    /// Kubernetes' reason (`OOMKilled`, `Error`, `Evicted`, `Completed`).
    pub(super) reason: String,
}

impl Ended {
    fn describe(&self) -> String {
        match self.exit_code {
            Some(code) => format!("the server exited with code {code} ({})", self.reason),
            None => format!("the Pod ended ({})", self.reason),
        }
    }
}

/// How `pod` ended, once its server container terminated or the Pod failed
/// (evicted, say); `None` while it runs or has yet to start.
pub(super) fn ended(pod: &Pod) -> Option<Ended> {
    let status = pod.status.as_ref()?;
    let server = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == "server");
    if let Some(terminated) = server.and_then(terminated_state) {
        let reason = terminated.reason.clone().unwrap_or_else(|| "Error".into());
        return Some(Ended {
            exit_code: Some(terminated.exit_code),
            oom_killed: reason == "OOMKilled",
            reason,
        });
    }
    match status.phase.as_deref() {
        Some("Failed" | "Succeeded") => Some(Ended {
            exit_code: None,
            oom_killed: false,
            reason: match (&status.reason, &status.message) {
                (Some(reason), Some(message)) => format!("{reason}: {message}"),
                (Some(reason), None) => reason.clone(),
                _ => status.phase.clone().unwrap_or_default(),
            },
        }),
        _ => None,
    }
}

fn terminated_state(
    container: &ContainerStatus,
) -> Option<&k8s_openapi::api::core::v1::ContainerStateTerminated> {
    container.state.as_ref()?.terminated.as_ref()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({ "metadata": { "name": "p" }, "status": status }))
            .expect("test data")
    }

    #[test]
    fn a_ready_condition_is_ready() {
        let p = pod(json!({ "phase": "Running", "conditions": [
            { "type": "PodScheduled", "status": "True" },
            { "type": "Ready", "status": "True" },
        ]}));
        assert_eq!(judge(&p), Readiness::Ready);
    }

    #[test]
    fn an_image_pull_failure_or_a_crash_loop_is_final_at_once() {
        for reason in [
            "ErrImagePull",
            "ImagePullBackOff",
            "InvalidImageName",
            "CrashLoopBackOff",
        ] {
            let p = pod(json!({ "phase": "Pending", "containerStatuses": [{
                "name": "server", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                "state": { "waiting": { "reason": reason, "message": "no such image x" } },
            }]}));
            let Readiness::Never(why) = judge(&p) else {
                panic!("{reason} must be final")
            };
            assert!(
                why.contains(reason) && why.contains("no such image"),
                "{why}"
            );
        }
    }

    #[test]
    fn a_failed_init_container_is_final() {
        let p = pod(json!({ "phase": "Pending", "initContainerStatuses": [{
            "name": "token", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": { "terminated": { "exitCode": 1, "reason": "Error" } },
        }]}));
        let Readiness::Never(why) = judge(&p) else {
            panic!("must be final")
        };
        assert!(why.contains("token exited with code 1"), "{why}");
    }

    #[test]
    fn unschedulable_waits_and_says_why() {
        let p = pod(json!({ "phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient memory.",
        }]}));
        assert_eq!(
            judge(&p),
            Readiness::Coming(Some(
                "unschedulable: 0/3 nodes are available: 3 Insufficient memory.".into()
            ))
        );
    }

    #[test]
    fn an_oom_killed_server_has_ended_with_its_code() {
        let p = pod(json!({ "phase": "Failed", "containerStatuses": [{
            "name": "server", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": { "terminated": { "exitCode": 137, "reason": "OOMKilled" } },
        }]}));
        assert_eq!(
            ended(&p),
            Some(Ended {
                exit_code: Some(137),
                oom_killed: true,
                reason: "OOMKilled".into()
            })
        );
        assert!(matches!(judge(&p), Readiness::Never(_)));
    }

    #[test]
    fn an_evicted_pod_has_ended_with_the_kubelets_reason() {
        let p = pod(json!({ "phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: ephemeral-storage." }));
        let end = ended(&p).expect("test data");
        assert_eq!(end.exit_code, None);
        assert!(
            end.reason.starts_with("Evicted: The node was low"),
            "{}",
            end.reason
        );
    }

    #[test]
    fn a_running_pod_has_not_ended() {
        let p = pod(json!({ "phase": "Running", "containerStatuses": [{
            "name": "server", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
            "state": { "running": {} },
        }]}));
        assert_eq!(ended(&p), None);
        assert_eq!(judge(&p), Readiness::Coming(None));
    }
}
