//! Readiness: the Pod is watched until its server answers the readiness
//! probe, fails at once when the status says it never will (image pull,
//! crash, a failed init container), and at the bound says what it waited
//! for (unschedulable, say) — always with the Pod's events and the
//! server's last log lines.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams, WatchEvent, WatchParams};

use super::KubernetesError;
use super::status::{Readiness, judge};

/// Log lines quoted in errors.
const LOG_LINES: i64 = 20;
/// Time to fetch events or logs for an error at most.
const DIAGNOSE_WAIT: Duration = Duration::from_secs(3);

/// Waits until Pod `name` is Ready, at most `limit`; returns it then.
///
/// # Errors
/// [`KubernetesError::NotReady`] with the reason, the Pod's events and its
/// last log lines; [`KubernetesError::Api`] when the API server fails.
pub(super) async fn wait_ready(
    pods: &Api<Pod>,
    events: &Api<Event>,
    name: &str,
    limit: Duration,
) -> Result<Pod, KubernetesError> {
    let mut note = None;
    let waited = tokio::time::timeout(limit, until_ready(pods, name, &mut note)).await;
    let reason = match waited {
        Ok(Ok(pod)) => return Ok(pod),
        Ok(Err(Verdict::Never(reason))) => reason,
        Ok(Err(Verdict::Api(e))) => return Err(e),
        Err(_) => match note {
            Some(note) => format!("not ready within {limit:?}: {note}"),
            None => format!("not ready within {limit:?}"),
        },
    };
    Err(not_ready(pods, events, name, reason).await)
}

/// Why waiting stopped short of Ready.
enum Verdict {
    /// The Pod will never be Ready.
    Never(String),
    /// The API server failed.
    Api(KubernetesError),
}

async fn until_ready(
    pods: &Api<Pod>,
    name: &str,
    note: &mut Option<String>,
) -> Result<Pod, Verdict> {
    loop {
        let pod = pods
            .get(name)
            .await
            .map_err(|e| Verdict::Api(KubernetesError::api("read the sandbox Pod")(e)))?;
        match judge(&pod) {
            Readiness::Ready => return Ok(pod),
            Readiness::Never(reason) => return Err(Verdict::Never(reason)),
            Readiness::Coming(now) => *note = now.or(note.take()),
        }
        let version = pod.metadata.resource_version.clone().unwrap_or_default();
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(60);
        let stream = pods
            .watch(&params, &version)
            .await
            .map_err(|e| Verdict::Api(KubernetesError::api("watch the sandbox Pod")(e)))?;
        let mut stream = std::pin::pin!(stream);
        // A watch that ends, errs or expires is followed by a fresh read.
        while let Ok(Some(event)) = stream.try_next().await {
            match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => match judge(&pod) {
                    Readiness::Ready => return Ok(pod),
                    Readiness::Never(reason) => return Err(Verdict::Never(reason)),
                    Readiness::Coming(now) => *note = now.or(note.take()),
                },
                WatchEvent::Deleted(_) => {
                    return Err(Verdict::Never("the Pod was deleted".into()));
                }
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(_) => break,
            }
        }
    }
}

/// The error for a Pod that will not be ready, with its events and logs.
pub(super) async fn not_ready(
    pods: &Api<Pod>,
    events: &Api<Event>,
    name: &str,
    reason: String,
) -> KubernetesError {
    KubernetesError::NotReady {
        pod: name.to_owned(),
        reason,
        events: pod_events(events, name).await,
        logs: last_logs(pods, name).await,
    }
}

/// The Pod's events, oldest first, one `reason: message` per line.
pub(super) async fn pod_events(events: &Api<Event>, name: &str) -> String {
    let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let Ok(Ok(list)) = tokio::time::timeout(DIAGNOSE_WAIT, events.list(&params)).await else {
        return "(could not list the Pod's events)".into();
    };
    let mut lines: Vec<_> = list
        .items
        .into_iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push("(none)".into());
    }
    lines.join("\n")
}

/// The server container's last log lines.
pub(super) async fn last_logs(pods: &Api<Pod>, name: &str) -> String {
    let params = LogParams {
        container: Some("server".into()),
        tail_lines: Some(LOG_LINES),
        ..LogParams::default()
    };
    match tokio::time::timeout(DIAGNOSE_WAIT, pods.logs(name, &params)).await {
        Ok(Ok(logs)) => logs,
        _ => "(no logs)".into(),
    }
}
