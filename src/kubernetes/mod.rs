//! The Kubernetes backend of [`Launcher`](crate::Launcher) (kube-rs): each
//! sandbox is a hardened Pod with its own Secret (and, without network, a
//! NetworkPolicy denying its egress), reached through the API server's
//! port-forward — nothing is exposed — or at its Pod IP from inside the
//! cluster. Pods are deleted on shutdown, on drop, on a failed launch, by
//! `reap` after their owning process died, and by Kubernetes' garbage
//! collector when the orchestrator's own Pod goes (an ownerReference).
//! See docs/KUBERNETES.md.
//!
//! - `config`: [`KubernetesConfig`], [`PodConfig`], [`ConnectMode`], [`Network`], [`OwnerPod`].
//! - `error`: [`KubernetesError`], [`PodExit`].
//! - `spec`: the Pod, Secret and NetworkPolicy, pure, a test per hardening field.
//! - `status`: what a Pod's status says (ready, never, ended how).
//! - `ready`: waiting for Ready, with events and logs for every failure.
//! - `forward`: the port-forward or Pod IP connector.
//! - `launch`: create, wait, connect, watch.
//! - `watch`: the end watcher.
//! - `objects`: a sandbox's objects and their deletion.
//! - `sandbox`: the [`KubernetesSandbox`] handle.

mod config;
mod error;
mod forward;
mod launch;
mod objects;
mod ready;
mod sandbox;
mod spec;
mod status;
mod watch;

pub use config::{ConnectMode, KubernetesConfig, Network, OwnerPod, PodConfig};
pub use error::{KubernetesError, PodExit};
pub use sandbox::{DetachedPod, KubernetesSandbox};

/// The sandbox pool over Kubernetes.
pub type SandboxPool = crate::launcher::SandboxPool<KubernetesLauncher>;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::launcher::owner::{owner_alive, owner_id};
use objects::Objects;

/// Label on every object toolwire creates.
pub const LABEL_MANAGED: &str = "toolwire.managed";
/// Label with the sandbox's name, on its Pod, Secret and NetworkPolicy
/// (the NetworkPolicy selects the Pod by it).
pub const LABEL_SANDBOX: &str = "toolwire.sandbox";
/// Label with the session name, as far as a label value can carry it.
pub const LABEL_SESSION: &str = "toolwire.session";
/// Label with the creation time (Unix seconds).
pub const LABEL_CREATED: &str = "toolwire.created";
/// Annotation naming the owning process, `<hostname>/<pid>/<start time>`
/// (an annotation: a label value cannot hold `/`).
pub const ANNOTATION_OWNER: &str = "toolwire.dev/owner";
/// Annotation with the session name as given.
pub const ANNOTATION_SESSION: &str = "toolwire.dev/session";
/// The owner annotation of a detached sandbox: `reap` leaves it.
pub const OWNER_DETACHED: &str = "detached";

/// One toolwire Pod, as `toolwire ps` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSummary {
    /// The Pod's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Kubernetes' phase (`Pending`, `Running`, `Failed`, ...).
    pub phase: String,
    /// The owner annotation.
    pub owner: String,
    /// The session annotation.
    pub session: String,
}

/// Launches sandbox Pods in one namespace. Cheap to clone.
#[derive(Clone)]
pub struct KubernetesLauncher {
    client: Client,
    config: KubernetesConfig,
    namespace: String,
    owner: String,
    /// Deletions of dropped sandboxes and cut launches, shared by clones.
    removals: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for KubernetesLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesLauncher")
            .field("namespace", &self.namespace)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl KubernetesLauncher {
    /// Connects with the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or the
    /// in-cluster service account, and deletes orphans of dead owners
    /// ([`KubernetesLauncher::reap`]).
    ///
    /// # Errors
    /// [`KubernetesError::NoConfig`] when neither configuration loads.
    pub async fn connect(config: KubernetesConfig) -> Result<Self, KubernetesError> {
        let client = Client::try_default()
            .await
            .map_err(|e| KubernetesError::NoConfig {
                reason: e.to_string(),
            })?;
        let launcher = Self::from_client(client, config);
        match launcher.reap().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "deleted toolwire Pods left by dead processes"),
            Err(e) => tracing::warn!(error = %e, "could not reap orphaned Pods"),
        }
        Ok(launcher)
    }

    /// A launcher over an existing client (its default namespace unless
    /// [`KubernetesConfig::namespace`] says otherwise). Does not reap.
    pub fn from_client(client: Client, config: KubernetesConfig) -> Self {
        let namespace = config
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned());
        Self {
            client,
            config,
            namespace,
            owner: owner_id(std::process::id()),
            removals: tokio_util::task::TaskTracker::new(),
        }
    }

    /// The namespace of the sandboxes.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// This process's owner annotation value.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Waits until every deletion of a dropped sandbox (or of a launch cut
    /// half-way) has finished. Call it before the runtime ends.
    pub async fn drain(&self) {
        self.removals.close();
        self.removals.wait().await;
        self.removals.reopen();
    }

    /// Every toolwire Pod of the namespace, running or not.
    ///
    /// # Errors
    /// [`KubernetesError::Api`] when the list fails.
    pub async fn list(&self) -> Result<Vec<PodSummary>, KubernetesError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = pods
            .list(&ListParams::default().labels(&format!("{LABEL_MANAGED}=true")))
            .await
            .map_err(KubernetesError::api("list the sandbox Pods"))?;
        Ok(list
            .items
            .into_iter()
            .map(|pod| {
                let annotations = pod.metadata.annotations.unwrap_or_default();
                PodSummary {
                    name: pod.metadata.name.unwrap_or_default(),
                    namespace: pod
                        .metadata
                        .namespace
                        .unwrap_or_else(|| self.namespace.clone()),
                    phase: pod.status.and_then(|s| s.phase).unwrap_or_default(),
                    owner: annotations
                        .get(ANNOTATION_OWNER)
                        .cloned()
                        .unwrap_or_default(),
                    session: annotations
                        .get(ANNOTATION_SESSION)
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Deletes the sandboxes whose owning process is gone (processes of
    /// this host only; others' and detached ones are left alone). Returns
    /// how many were deleted.
    ///
    /// # Errors
    /// [`KubernetesError::Api`] when listing fails; a sandbox that cannot
    /// be deleted is logged and skipped.
    pub async fn reap(&self) -> Result<usize, KubernetesError> {
        let mut removed = 0;
        for pod in self.list().await? {
            if pod.owner == OWNER_DETACHED || owner_alive(&pod.owner) {
                continue;
            }
            match self.remove(&pod.name).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(pod = %pod.name, error = %e, "could not delete an orphaned Pod");
                }
            }
        }
        Ok(removed)
    }

    /// Deletes one sandbox: its Pod, Secret and NetworkPolicy (what is gone
    /// counts as deleted).
    ///
    /// # Errors
    /// [`KubernetesError::Api`] when the API server refuses.
    pub async fn remove(&self, name: &str) -> Result<(), KubernetesError> {
        self.objects(name).delete().await
    }

    /// Deletes every toolwire sandbox of the namespace, whoever owns it.
    ///
    /// # Errors
    /// [`KubernetesError::Api`] when listing fails.
    pub async fn remove_all(&self) -> Result<usize, KubernetesError> {
        let mut removed = 0;
        for pod in self.list().await? {
            if self.remove(&pod.name).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn objects(&self, name: &str) -> Objects {
        Objects {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            network_policy: true,
            grace_secs: 5,
        }
    }
}
