//! `launch`: one hardened Pod with a connected executor. The Secret (token,
//! tools file) is created first, then the NetworkPolicy when the sandbox
//! has no network, then the Pod; readiness is awaited with a bound, the
//! peer connects through the port-forward (or to the Pod IP), and the end
//! watcher starts. A launch that fails — or is dropped half-way — deletes
//! what it created.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use super::config::PodConfig;
use super::forward::Route;
use super::objects::Objects;
use super::ready::wait_ready;
use super::sandbox::KubernetesSandbox;
use super::spec::{Identity, name_part, network_policy_manifest, pod_manifest, secret_manifest};
use super::watch::{Watched, watch};
use super::{KubernetesError, KubernetesLauncher};
use crate::launcher::Launcher;
use crate::peer::Peer;
use crate::remote::RemoteExecutor;

/// Deletes a half-launched sandbox's objects unless defused: at once on an
/// error path, through the launcher's removal tasks when the launch is dropped.
struct CreatedGuard {
    objects: Option<Objects>,
    removals: TaskTracker,
}

impl CreatedGuard {
    async fn delete(&mut self) {
        if let Some(objects) = self.objects.take() {
            let _ = objects.delete().await;
        }
    }
}

impl Drop for CreatedGuard {
    fn drop(&mut self) {
        if let Some(objects) = self.objects.take() {
            objects.schedule_delete(&self.removals);
        }
    }
}

impl KubernetesLauncher {
    /// Launches a sandbox Pod: creates its Secret, its NetworkPolicy (no
    /// network) and the hardened Pod, waits until it is Ready, connects
    /// and returns the handle, all within [`PodConfig::launch_timeout`].
    ///
    /// # Errors
    /// [`KubernetesError`]: an API error, a Pod that will not become ready
    /// (with the reason, its events and its last log lines), a connection
    /// that fails, or the launch timeout; whatever was created is deleted.
    pub async fn launch(&self, config: PodConfig) -> Result<KubernetesSandbox, KubernetesError> {
        let limit = config.launch_timeout;
        tokio::time::timeout(limit, self.launch_unbounded(config))
            .await
            .unwrap_or(Err(KubernetesError::Timeout(limit)))
    }

    async fn launch_unbounded(
        &self,
        config: PodConfig,
    ) -> Result<KubernetesSandbox, KubernetesError> {
        let tools_file = match &config.tools_file {
            Some(path) => Some(std::fs::read(path).map_err(|source| KubernetesError::Io {
                action: format!("read the tools file {}", path.display()),
                source,
            })?),
            None => None,
        };
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let short = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("toolwire-{}-{}", name_part(&config.session), &short[..12]);
        let created_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let who = Identity {
            name: &name,
            namespace: &self.namespace,
            owner: &self.owner,
            created_unix,
        };
        let objects = Objects {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            name: name.clone(),
            network_policy: false,
            grace_secs: u32::try_from(config.stop_grace.as_secs()).unwrap_or(u32::MAX),
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret = secret_manifest(&self.config, &config, &who, &token, tools_file.as_deref())?;
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map_err(KubernetesError::api("create the sandbox Secret"))?;
        let mut guard = CreatedGuard {
            objects: Some(objects.clone()),
            removals: self.removals.clone(),
        };
        let made = async {
            let mut objects = objects.clone();
            if let Some(policy) = network_policy_manifest(&self.config, &config, &who)? {
                objects.network_policy = true;
                guard.objects = Some(objects.clone());
                let policies: Api<NetworkPolicy> =
                    Api::namespaced(self.client.clone(), &self.namespace);
                policies
                    .create(&PostParams::default(), &policy)
                    .await
                    .map_err(KubernetesError::api("create the sandbox NetworkPolicy"))?;
            }
            let pods = objects.pods();
            pods.create(
                &PostParams::default(),
                &pod_manifest(&self.config, &config, &who)?,
            )
            .await
            .map_err(KubernetesError::api("create the sandbox Pod"))?;
            tracing::debug!(pod = %name, "launch: created");
            let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
            let ready = wait_ready(&pods, &events, &name, config.ready_timeout).await?;
            tracing::debug!(pod = %name, "launch: ready");
            let route = Route {
                pods,
                name: name.clone(),
                mode: self.config.connect,
                pod_ip: ready.status.and_then(|s| s.pod_ip),
                token: token.clone(),
                ws: config.ws.clone(),
            };
            let peer = Peer::connect_with(route.connector(), config.peer.clone()).await?;
            Ok::<_, KubernetesError>((Arc::new(peer), objects))
        }
        .await;
        let (peer, objects) = match made {
            Ok(made) => made,
            Err(e) => {
                tracing::debug!(pod = %name, error = %e, "launch failed: deleting its objects");
                guard.delete().await;
                return Err(e);
            }
        };
        guard.objects = None;

        let stopping = CancellationToken::new();
        let removed = Arc::new(AtomicBool::new(false));
        let (verdict, verdict_rx) = watch::channel(None);
        peer.explain_loss_with(verdict_rx.clone());
        let watcher = tokio::spawn(watch(Watched {
            objects: objects.clone(),
            peer: peer.clone(),
            verdict,
            stopping: stopping.clone(),
            removed: removed.clone(),
        }));
        tracing::debug!(pod = %name, "sandbox ready");
        Ok(KubernetesSandbox {
            objects,
            executor: RemoteExecutor::new(peer.clone()),
            peer,
            verdict: verdict_rx,
            stopping,
            removed,
            removals: self.removals.clone(),
            _watcher: AbortOnDropHandle::new(watcher),
            detached_token: config.detached.then_some(token),
        })
    }

    /// Connects to a detached sandbox Pod of this launcher's namespace
    /// (as [`KubernetesSandbox::detach`] described it).
    ///
    /// # Errors
    /// [`KubernetesError::Api`] when the Pod cannot be read,
    /// [`KubernetesError::Connect`] when the server cannot be reached.
    pub async fn reconnect(
        &self,
        name: &str,
        token: &str,
        ws: &crate::transport::WsConfig,
        peer: crate::peer::PeerConfig,
    ) -> Result<Peer, KubernetesError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let pod = pods
            .get(name)
            .await
            .map_err(KubernetesError::api("read the sandbox Pod"))?;
        let route = Route {
            pods,
            name: name.to_owned(),
            mode: self.config.connect,
            pod_ip: pod.status.and_then(|s| s.pod_ip),
            token: token.to_owned(),
            ws: ws.clone(),
        };
        Ok(Peer::connect_with(route.connector(), peer).await?)
    }
}

#[async_trait]
impl Launcher for KubernetesLauncher {
    type Config = PodConfig;
    type Sandbox = KubernetesSandbox;
    type Error = KubernetesError;

    async fn launch(&self, config: PodConfig) -> Result<KubernetesSandbox, KubernetesError> {
        KubernetesLauncher::launch(self, config).await
    }
}
