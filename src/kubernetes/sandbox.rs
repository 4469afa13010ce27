//! [`KubernetesSandbox`]: the handle of one running sandbox Pod — its
//! objects, its connected executor and its end watcher.
//! [`KubernetesSandbox::shutdown`] deletes the Pod, its Secret and its
//! NetworkPolicy and waits; dropping the handle only signals: the deletion
//! runs in a task the launcher owns
//! ([`KubernetesLauncher::drain`](super::KubernetesLauncher::drain) waits
//! for it), and `reap` (or the ownerReference) stays the backstop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use super::KubernetesError;
use super::objects::Objects;
use crate::error::{CallError, SandboxEnded};
use crate::launcher::Sandbox;
use crate::peer::Peer;
use crate::remote::RemoteExecutor;

/// A running sandbox Pod and a connected executor.
pub struct KubernetesSandbox {
    pub(super) objects: Objects,
    pub(super) peer: Arc<Peer>,
    pub(super) executor: RemoteExecutor,
    pub(super) verdict: watch::Receiver<Option<CallError>>,
    pub(super) stopping: CancellationToken,
    pub(super) removed: Arc<AtomicBool>,
    /// The launcher's removal tasks, where a dropped handle's deletion runs.
    pub(super) removals: TaskTracker,
    pub(super) _watcher: AbortOnDropHandle<()>,
    /// Kept for [`KubernetesSandbox::detach`] (a detached launch only).
    pub(super) detached_token: Option<String>,
}

impl std::fmt::Debug for KubernetesSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesSandbox")
            .field("namespace", &self.objects.namespace)
            .field("name", &self.objects.name)
            .finish_non_exhaustive()
    }
}

/// What a later process needs to reach a detached sandbox Pod. Holds the
/// bearer token: store it as a secret, never log it.
pub struct DetachedPod {
    /// The Pod's namespace.
    pub namespace: String,
    /// The Pod's name.
    pub name: String,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for DetachedPod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedPod")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl KubernetesSandbox {
    /// The executor to give the agent loop.
    pub fn executor(&self) -> &RemoteExecutor {
        &self.executor
    }

    /// The Pod's name (also its Secret's and NetworkPolicy's).
    pub fn name(&self) -> &str {
        &self.objects.name
    }

    /// The Pod's namespace.
    pub fn namespace(&self) -> &str {
        &self.objects.namespace
    }

    /// Whether the connection to the sandbox still stands.
    pub fn is_alive(&self) -> bool {
        !self.peer.is_closed() && !self.removed.load(Ordering::SeqCst)
    }

    /// How the Pod ended, once it ended on its own ([`PodExit`](super::PodExit) inside).
    pub fn ended(&self) -> Option<SandboxEnded> {
        match self.verdict.borrow().clone() {
            Some(CallError::SandboxEnded(ended)) => Some(ended),
            _ => None,
        }
    }

    /// Closes the connection and deletes the Pod (the kubelet gives the
    /// server its grace period), its Secret and its NetworkPolicy.
    ///
    /// # Errors
    /// [`KubernetesError::Api`] when an object cannot be deleted.
    pub async fn shutdown(self) -> Result<(), KubernetesError> {
        self.stopping.cancel();
        self.peer.abort(CallError::Closed);
        self.objects.delete().await?;
        self.removed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Lets the Pod outlive this handle and this process: closes the
    /// connection (the server keeps running) and returns what a later
    /// process needs to connect. Only a sandbox launched with
    /// [`PodConfig::detached`](super::PodConfig::detached) can be detached.
    ///
    /// # Errors
    /// [`KubernetesError::NotDetached`] otherwise (it is deleted as a
    /// dropped handle is).
    pub async fn detach(mut self) -> Result<DetachedPod, KubernetesError> {
        let Some(token) = self.detached_token.take() else {
            return Err(KubernetesError::NotDetached);
        };
        self.stopping.cancel();
        self.peer.close().await;
        self.removed.store(true, Ordering::SeqCst);
        Ok(DetachedPod {
            namespace: self.objects.namespace.clone(),
            name: self.objects.name.clone(),
            token,
        })
    }
}

impl Drop for KubernetesSandbox {
    /// Signals only: pending calls fail, and the deletion is handed to the
    /// launcher's removal tasks.
    fn drop(&mut self) {
        if self.removed.load(Ordering::SeqCst) {
            return;
        }
        self.stopping.cancel();
        self.peer.abort(CallError::Closed);
        self.objects.schedule_delete(&self.removals);
    }
}

#[async_trait]
impl Sandbox for KubernetesSandbox {
    type Error = KubernetesError;

    fn executor(&self) -> &RemoteExecutor {
        KubernetesSandbox::executor(self)
    }

    fn name(&self) -> &str {
        KubernetesSandbox::name(self)
    }

    fn is_alive(&self) -> bool {
        KubernetesSandbox::is_alive(self)
    }

    fn ended(&self) -> Option<SandboxEnded> {
        KubernetesSandbox::ended(self)
    }

    async fn shutdown(self) -> Result<(), KubernetesError> {
        KubernetesSandbox::shutdown(self).await
    }
}
