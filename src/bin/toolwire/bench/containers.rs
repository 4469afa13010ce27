//! Container figures: a bare container start (the floor) vs `launch()` until
//! the first tool answer, and a warm pool acquire.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Container figures (medians, ms): floor, cold start, pool acquire.
pub(super) async fn containers(launches: usize) -> anyhow::Result<(f64, f64, f64)> {
    let launcher = DockerLauncher::connect(ImageConfig::default()).await?;
    let image = launcher.ensure_image(&|_| {}).await?;
    let docker = launcher.docker().clone();
    let mut floor = Vec::new();
    for _ in 0..launches {
        let started = Instant::now();
        let id = bare_container(&docker, &image, launcher.owner()).await?;
        floor.push(started.elapsed());
        let _ = docker
            .remove_container(
                &id,
                Some(bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
    }
    let mut cold = Vec::new();
    for _ in 0..launches {
        let started = Instant::now();
        let sandbox = launcher
            .launch(LaunchConfig::default().session("bench"))
            .await?;
        sandbox
            .executor()
            .execute(ToolRequest::new("ls", json!({})))
            .await?;
        cold.push(started.elapsed());
        sandbox.shutdown().await?;
    }
    let pool = SandboxPool::new(
        launcher.clone(),
        LaunchConfig::default().session("bench-pool"),
        PoolConfig::size(1),
    );
    let mut acquire = Vec::new();
    for _ in 0..launches {
        anyhow::ensure!(
            pool.wait_warm(1, Duration::from_secs(60)).await,
            "the pool did not warm up"
        );
        let started = Instant::now();
        let sandbox = pool.acquire().await?;
        sandbox
            .executor()
            .execute(ToolRequest::new("ls", json!({})))
            .await?;
        acquire.push(started.elapsed());
        sandbox.shutdown().await?;
    }
    pool.shutdown().await;
    Ok((
        median_ms(&mut floor),
        median_ms(&mut cold),
        median_ms(&mut acquire),
    ))
}

/// A bare container of `image` running `true`, labelled as toolwire's:
/// created and started, then waited for until it exits. The floor of a
/// launch. Returns its id (the caller removes it).
pub(super) async fn bare_container(
    docker: &bollard::Docker,
    image: &str,
    owner: &str,
) -> anyhow::Result<String> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::{
        CreateContainerOptions, StartContainerOptions, WaitContainerOptions,
    };
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        entrypoint: Some(vec!["true".into()]),
        cmd: Some(vec![]),
        labels: Some(
            [
                (
                    toolwire::docker::LABEL_MANAGED.to_owned(),
                    "true".to_owned(),
                ),
                (toolwire::docker::LABEL_OWNER.to_owned(), owner.to_owned()),
            ]
            .into(),
        ),
        host_config: Some(HostConfig {
            init: Some(true),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await?
        .id;
    docker
        .start_container(&id, None::<StartContainerOptions>)
        .await?;
    let _ = docker
        .wait_container(&id, None::<WaitContainerOptions>)
        .next()
        .await;
    Ok(id)
}
