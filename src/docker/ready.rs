//! Readiness: the host port Docker published, `/health` polled with a short
//! backoff while racing Docker's own wait for the container to stop, and the
//! container's last log lines for every error that needs them.

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{InspectContainerOptions, LogsOptions, WaitContainerOptions};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::spec::SERVER_PORT;
use super::{LaunchConfig, LaunchError};
use crate::transport::Endpoint;

/// Log lines quoted in errors.
const LOG_LINES: &str = "20";
/// Time to read those log lines at most.
const LOG_WAIT: Duration = Duration::from_secs(2);

/// The host port Docker published for the server. A server that already
/// exited has no mapping any more: that is reported as the exit it is,
/// with the container's last log lines.
pub(super) async fn published_port(docker: &Docker, id: &str) -> Result<u16, LaunchError> {
    let info = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .map_err(LaunchError::docker("inspect the sandbox container"))?;
    let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    let port = info
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|ports| ports.get(SERVER_PORT).cloned().flatten())
        .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
        .and_then(|port| port.parse().ok());
    match port {
        Some(port) => Ok(port),
        None => Err(LaunchError::NotReady {
            reason: if running {
                "docker published no host port for the server".into()
            } else {
                "the tool server exited during start-up".into()
            },
            logs: last_logs(docker, id).await,
        }),
    }
}

/// Polls `/health` until it answers 200, racing Docker's wait for the
/// container to stop: a server that exits during start-up is reported at
/// once, with its logs.
pub(super) async fn wait_ready(
    docker: &Docker,
    id: &str,
    endpoint: &Endpoint,
    config: &LaunchConfig,
) -> Result<(), LaunchError> {
    let limit = config.ready_timeout;
    let poll = async {
        let mut delay = Duration::from_millis(1);
        while !health(endpoint, config.probe_timeout).await {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(config.probe_interval_max);
        }
    };
    let mut stopped = docker.wait_container(
        id,
        Some(WaitContainerOptions {
            condition: "not-running".into(),
        }),
    );
    let reason = tokio::select! {
        () = poll => return Ok(()),
        _ = stopped.next() => "the tool server exited during start-up".to_owned(),
        () = tokio::time::sleep(limit) => format!("no answer on /health within {limit:?}"),
    };
    Err(LaunchError::NotReady {
        reason,
        logs: last_logs(docker, id).await,
    })
}

/// The container's last log lines (stdout and stderr).
pub(super) async fn last_logs(docker: &Docker, id: &str) -> String {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: LOG_LINES.into(),
        ..LogsOptions::default()
    };
    let mut stream = docker.logs(id, Some(options));
    let mut out = String::new();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(LOG_WAIT, stream.next()).await {
        out.push_str(&chunk.to_string());
    }
    out
}

/// Whether `GET /health` answers 200.
async fn health(endpoint: &Endpoint, limit: Duration) -> bool {
    const REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut response = [0u8; 16];
    let exchange = async {
        let n = match endpoint {
            Endpoint::Url(url) => {
                let authority = url
                    .trim_start_matches("ws://")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
                stream.write_all(REQUEST).await.ok()?;
                stream.read(&mut response).await.ok()?
            }
            Endpoint::Unix(path) => {
                let mut stream = tokio::net::UnixStream::connect(path).await.ok()?;
                stream.write_all(REQUEST).await.ok()?;
                stream.read(&mut response).await.ok()?
            }
        };
        Some(response[..n].starts_with(b"HTTP/1.1 200"))
    };
    matches!(tokio::time::timeout(limit, exchange).await, Ok(Some(true)))
}
