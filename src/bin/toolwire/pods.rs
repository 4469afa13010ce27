//! `--backend kubernetes`: `up`, `call`/`exec`/`cp`, `down`, `ps` and
//! `reap` over sandbox Pods. The kubeconfig (`KUBECONFIG`, else
//! `~/.kube/config`) or the in-cluster service account says which cluster;
//! every later command reaches the Pod again through the API server's
//! port-forward, so nothing of the sandbox is exposed on a network.

use std::path::Path;

use anyhow::{Context, bail};
use clap::Args;
use toolwire::kubernetes::{KubernetesConfig, KubernetesLauncher, Network, PodConfig};
use toolwire::{Peer, PeerConfig, WsConfig};

use crate::detached::{self, Backend, Detached};
use crate::sandboxes::{NetworkArg, UpArgs};

/// Which backend a command works on, and for Kubernetes in which namespace.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// Where the sandboxes run: the local Docker engine, or the cluster of
    /// the current kubeconfig context.
    #[arg(long, value_enum, default_value_t = Backend::Docker)]
    pub backend: Backend,
    /// The namespace of the sandbox Pods (`--backend kubernetes`; default:
    /// the kubeconfig context's, else `default`).
    #[arg(long)]
    pub namespace: Option<String>,
}

impl BackendArgs {
    /// Refuses a namespace for Docker, which has none.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.backend == Backend::Docker && self.namespace.is_some() {
            bail!("--namespace is for --backend kubernetes");
        }
        Ok(())
    }
}

/// Connects to the cluster; `reap_orphans` also deletes the Pods of dead
/// processes of this host on the way, as the Docker side reaps containers.
pub async fn launcher(
    namespace: Option<&str>,
    image: Option<&str>,
    reap_orphans: bool,
) -> anyhow::Result<KubernetesLauncher> {
    let mut config = KubernetesConfig::default();
    if let Some(namespace) = namespace {
        config = config.namespace(namespace);
    }
    if let Some(image) = image {
        config = config.image(image);
    }
    const NO_CLUSTER: &str =
        "no Kubernetes cluster to reach (set KUBECONFIG, or run in a Pod with a service account)";
    if reap_orphans {
        return KubernetesLauncher::connect(config)
            .await
            .context(NO_CLUSTER);
    }
    let client = kube::Client::try_default().await.context(NO_CLUSTER)?;
    Ok(KubernetesLauncher::from_client(client, config))
}

/// `toolwire up --backend kubernetes`: a detached Pod, recorded in `dir`.
pub async fn up(args: &UpArgs, name: &str, dir: &Path) -> anyhow::Result<Detached> {
    if args.workspace.is_some() {
        bail!(
            "--workspace mounts a directory of this machine, which a Pod cannot; copy files in with toolwire cp"
        );
    }
    let mut config =
        PodConfig::default()
            .session(name)
            .detached(true)
            .network(match args.network {
                NetworkArg::Bridge => Network::Cluster,
                NetworkArg::None => Network::None,
            });
    let limit = args.workspace_limit.as_u64();
    config.workspace_size = limit.to_string();
    // The workspace is on the node's disk: the ephemeral-storage limit must
    // hold it and the container's own writes.
    config.ephemeral_storage = limit.saturating_add(1 << 30).max(3 << 30).to_string();
    if !args.idle_timeout.is_zero() {
        config = config.idle_timeout(args.idle_timeout);
    }
    if let Some(file) = &args.tools_file {
        config = config.tools_file(file);
    }
    let launcher = launcher(
        args.backend.namespace.as_deref(),
        args.image.as_deref(),
        true,
    )
    .await?;
    let sandbox = launcher.launch(config).await?;
    let pod = sandbox.detach().await?;
    let state = Detached {
        name: name.to_owned(),
        backend: Backend::Kubernetes,
        url: format!("k8s://{}/{}", pod.namespace, pod.name),
        token_file: detached::token_file(dir, name),
        container: pod.name.clone(),
        namespace: Some(pod.namespace.clone()),
        socket_dir: None,
    };
    if let Err(e) = detached::save(dir, &state, &pod.token) {
        let _ = launcher.remove(&pod.name).await;
        detached::forget(dir, &state);
        return Err(e.context("could not record the sandbox; its Pod was deleted"));
    }
    Ok(state)
}

/// A connection to the recorded sandbox Pod `state`, through a new port-forward.
pub async fn reconnect(state: &Detached, peer: PeerConfig) -> anyhow::Result<Peer> {
    let launcher = launcher(state.namespace.as_deref(), None, false).await?;
    launcher
        .reconnect(&state.container, &state.token()?, &WsConfig::default(), peer)
        .await
        .with_context(|| {
            format!(
                "could not reach sandbox {:?} (Pod {}; is it still up? toolwire ps --backend kubernetes)",
                state.name, state.url
            )
        })
}

/// `toolwire down` of a recorded Pod: deletes the Pod, its Secret and its
/// NetworkPolicy.
pub async fn down(state: &Detached) -> anyhow::Result<()> {
    let launcher = launcher(state.namespace.as_deref(), None, false).await?;
    launcher.remove(&state.container).await?;
    Ok(())
}

/// `toolwire ps --backend kubernetes`: every toolwire Pod of the namespace.
pub async fn ps(namespace: Option<&str>) -> anyhow::Result<()> {
    let launcher = launcher(namespace, None, false).await?;
    let pods = launcher.list().await?;
    let recorded: Vec<Detached> = detached::all(&detached::state_dir()?)
        .into_iter()
        .filter(|d| {
            d.backend == Backend::Kubernetes && d.namespace.as_deref() == Some(launcher.namespace())
        })
        .collect();
    println!(
        "{:<16} {:<44} {:<10} {:<16} OWNER",
        "SANDBOX", "POD", "PHASE", "NAMESPACE"
    );
    for pod in &pods {
        println!(
            "{:<16} {:<44} {:<10} {:<16} {}",
            detached::name_of(&recorded, &pod.name),
            pod.name,
            pod.phase,
            pod.namespace,
            pod.owner
        );
    }
    detached::report_gone(&recorded, pods.iter().map(|p| p.name.as_str()), "Pod");
    Ok(())
}

/// `toolwire reap --backend kubernetes [--all]`: the number of Pods deleted.
pub async fn reap(namespace: Option<&str>, all: bool) -> anyhow::Result<usize> {
    let launcher = launcher(namespace, None, false).await?;
    Ok(if all {
        launcher.remove_all().await?
    } else {
        launcher.reap().await?
    })
}
