//! Reaching a sandbox's server without exposing it: by default through the
//! API server's port-forward of the Pod (one WebSocket per connection,
//! kube-rs's `Portforwarder`, the toolwire WebSocket spoken over its
//! stream), or straight to the Pod IP when the orchestrator runs in the
//! cluster ([`ConnectMode::PodIp`]). Either way a [`Connector`], so the
//! peer opens the next connection the same way after a loss.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use super::config::ConnectMode;
use super::spec::SERVER_PORT;
use crate::peer::Connector;
use crate::transport::{ConnectError, Endpoint, FrameTransport, WsConfig, WsTransport};

/// How to reach one sandbox's server.
#[derive(Clone)]
pub(super) struct Route {
    /// The Pods of the sandbox's namespace.
    pub(super) pods: Api<Pod>,
    /// The Pod's name.
    pub(super) name: String,
    /// Port-forward or Pod IP.
    pub(super) mode: ConnectMode,
    /// The Pod's IP (for [`ConnectMode::PodIp`]).
    pub(super) pod_ip: Option<String>,
    /// The bearer token.
    pub(super) token: String,
    /// The WebSocket's limits.
    pub(super) ws: WsConfig,
}

impl Route {
    /// Opens one WebSocket to the server.
    pub(super) async fn open(&self) -> Result<WsTransport, ConnectError> {
        match self.mode {
            ConnectMode::PortForward => {
                let limit = self.ws.connect_timeout;
                let forwarding = self.pods.portforward(&self.name, &[SERVER_PORT]);
                let mut forwarder = tokio::time::timeout(limit, forwarding)
                    .await
                    .map_err(|_| ConnectError::Timeout(limit))?
                    .map_err(|e| io_error(format!("port-forward to Pod {}: {e}", self.name)))?;
                let stream = forwarder
                    .take_stream(SERVER_PORT)
                    .ok_or_else(|| io_error("the port-forward has no stream".into()))?;
                // The forwarder's own task ends when this stream closes.
                drop(forwarder);
                WsTransport::connect_over(stream, Some(&self.token), &self.ws).await
            }
            ConnectMode::PodIp => {
                let ip = self
                    .pod_ip
                    .as_deref()
                    .ok_or_else(|| io_error(format!("Pod {} has no IP", self.name)))?;
                let host = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_owned()
                };
                let endpoint = Endpoint::Url(format!("ws://{host}:{SERVER_PORT}/ws"));
                WsTransport::connect(&endpoint, Some(&self.token), &self.ws).await
            }
        }
    }

    /// The route as the peer's connector (for the first connection and
    /// every reconnection).
    pub(super) fn connector(self) -> Connector {
        let route = Arc::new(self);
        Arc::new(move || {
            let route = route.clone();
            Box::pin(async move { route.open().await.map(FrameTransport::into_split) })
        })
    }
}

fn io_error(message: String) -> ConnectError {
    ConnectError::Io(tokio_tungstenite::tungstenite::Error::Io(
        std::io::Error::other(message),
    ))
}
