//! The API objects of one sandbox — its Pod, its Secret and, in
//! [`Network::None`](super::Network::None), its NetworkPolicy — and their
//! deletion: at once, or in a task the launcher owns when a handle is
//! dropped (`Drop` never waits on the API server).

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, DeleteParams};
use tokio_util::task::TaskTracker;

use super::KubernetesError;

/// One sandbox's objects by name.
#[derive(Clone)]
pub(super) struct Objects {
    pub(super) client: Client,
    pub(super) namespace: String,
    /// The name of the Pod, the Secret and the NetworkPolicy.
    pub(super) name: String,
    /// Whether a NetworkPolicy was made.
    pub(super) network_policy: bool,
    /// The Pod's termination grace, seconds.
    pub(super) grace_secs: u32,
}

impl Objects {
    /// The Pods of the sandbox's namespace.
    pub(super) fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Deletes the Pod, its Secret and its NetworkPolicy; what is already
    /// gone counts as deleted. Every deletion is tried, the first error returned.
    pub(super) async fn delete(&self) -> Result<(), KubernetesError> {
        let pod = DeleteParams {
            grace_period_seconds: Some(self.grace_secs),
            ..DeleteParams::background()
        };
        let mut first = gone_is_fine(self.pods().delete(&self.name, &pod).await)
            .map_err(KubernetesError::api("delete the sandbox Pod"));
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret = gone_is_fine(
            secrets
                .delete(&self.name, &DeleteParams::background())
                .await,
        )
        .map_err(KubernetesError::api("delete the sandbox Secret"));
        first = first.and(secret);
        if self.network_policy {
            let policies: Api<NetworkPolicy> =
                Api::namespaced(self.client.clone(), &self.namespace);
            let policy = gone_is_fine(
                policies
                    .delete(&self.name, &DeleteParams::background())
                    .await,
            )
            .map_err(KubernetesError::api("delete the sandbox NetworkPolicy"));
            first = first.and(policy);
        }
        first
    }

    /// Deletes the objects in a task of `removals`, if a runtime is there
    /// to run it (otherwise `toolwire reap` will).
    pub(super) fn schedule_delete(&self, removals: &TaskTracker) {
        let objects = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                removals.spawn_on(
                    async move {
                        if let Err(e) = objects.delete().await {
                            tracing::warn!(pod = %objects.name, error = %e, "could not delete a dropped sandbox; `toolwire reap` will");
                        }
                    },
                    &runtime,
                );
            }
            Err(_) => {
                tracing::warn!(pod = %self.name, "no runtime to delete a dropped sandbox; `toolwire reap` will");
            }
        }
    }
}

/// A deletion of what is already gone (404) succeeded.
fn gone_is_fine<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
