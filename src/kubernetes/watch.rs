//! The end watcher of one sandbox Pod: watches it until its server
//! terminates, the Pod fails (evicted, say) or is deleted; unless the handle
//! is stopping it, records how it ended ([`PodExit`]), fails every pending
//! call with that at once, and deletes the sandbox's objects. An API server
//! that goes away is retried with a backoff: the Pod may well still run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, WatchEvent, WatchParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::PodExit;
use super::objects::Objects;
use super::ready::last_logs;
use super::status::{Ended, ended};
use crate::error::{CallError, SandboxEnded};
use crate::peer::Peer;

/// Longest pause between retries while the API server does not answer.
const RETRY_MAX: Duration = Duration::from_secs(10);

/// What the watcher shares with the sandbox handle.
pub(super) struct Watched {
    pub(super) objects: Objects,
    pub(super) peer: Arc<Peer>,
    /// How it ended, for the peer's loss explanation and for `ended()`.
    pub(super) verdict: watch::Sender<Option<CallError>>,
    /// Fires when the handle deletes the Pod itself.
    pub(super) stopping: CancellationToken,
    pub(super) removed: Arc<AtomicBool>,
}

/// Runs until the Pod ends or the handle stops it.
pub(super) async fn watch(w: Watched) {
    let pods = w.objects.pods();
    let end = tokio::select! {
        end = until_ended(&pods, &w.objects.name) => end,
        () = w.stopping.cancelled() => return,
    };
    if w.stopping.is_cancelled() {
        return;
    }
    let logs = last_logs(&pods, &w.objects.name).await;
    tracing::warn!(pod = %w.objects.name, exit_code = ?end.exit_code, reason = %end.reason, "sandbox Pod ended on its own");
    let exit = CallError::SandboxEnded(SandboxEnded::new(PodExit {
        exit_code: end.exit_code,
        oom_killed: end.oom_killed,
        reason: end.reason,
        logs,
    }));
    w.verdict.send_replace(Some(exit.clone()));
    w.peer.abort(exit);
    if w.objects.delete().await.is_ok() {
        w.removed.store(true, Ordering::SeqCst);
    }
}

/// How the Pod ended, watching it (and reading it afresh whenever a watch
/// ends or fails).
async fn until_ended(pods: &Api<Pod>, name: &str) -> Ended {
    let deleted = || Ended {
        exit_code: None,
        oom_killed: false,
        reason: "the Pod was deleted".into(),
    };
    let mut pause = Duration::from_millis(100);
    loop {
        let pod = match pods.get(name).await {
            Ok(pod) => pod,
            Err(kube::Error::Api(status)) if status.code == 404 => return deleted(),
            Err(e) => {
                tracing::debug!(pod = %name, error = %e, "cannot read the sandbox Pod; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
                continue;
            }
        };
        if let Some(end) = ended(&pod) {
            return end;
        }
        let version = pod.metadata.resource_version.clone().unwrap_or_default();
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(290);
        let Ok(stream) = pods.watch(&params, &version).await else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
            continue;
        };
        pause = Duration::from_millis(100);
        let mut stream = std::pin::pin!(stream);
        while let Ok(Some(event)) = stream.try_next().await {
            match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => {
                    if let Some(end) = ended(&pod) {
                        return end;
                    }
                }
                WatchEvent::Deleted(pod) => return ended(&pod).unwrap_or_else(deleted),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(_) => break,
            }
        }
    }
}
