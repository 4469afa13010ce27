//! `mcp_echo_p50_us`: the `echo` tool over `/mcp` with rmcp's own client
//! (streamable HTTP), against the same server the native WebSocket figures
//! come from, measured in alternating rounds with them — once in a session
//! (`initialize`, protocol versions before 2026-07-28, what most MCP hosts
//! speak today) and once stateless (`server/discover`, 2026-07-28: each call
//! a self-contained request answered with one JSON body).

use std::time::{Duration, Instant};

use anyhow::bail;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use super::PAYLOAD;

/// An initialized MCP session with the server's `/mcp`.
pub(super) struct McpClient {
    service: RunningService<RoleClient, ()>,
}

impl McpClient {
    /// Connects and initializes a session (bearer `token`).
    pub(super) async fn connect(address: &str, token: &str) -> anyhow::Result<Self> {
        let transport = StreamableHttpClientTransport::with_client(
            keep_alive_client()?,
            endpoint(address, token),
        );
        let service = ().serve(transport).await?;
        Ok(Self { service })
    }

    /// Connects with `server/discover` and the 2026-07-28 protocol: no
    /// session, every call a request of its own.
    pub(super) async fn connect_stateless(address: &str, token: &str) -> anyhow::Result<Self> {
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        let service = ()
            .serve_with_lifecycle(
                StreamableHttpClientTransport::with_client(
                    keep_alive_client()?,
                    endpoint(address, token),
                ),
                lifecycle,
            )
            .await?;
        Ok(Self { service })
    }

    /// `n` echo calls one after the other, each timed.
    pub(super) async fn latency(&self, n: usize) -> anyhow::Result<Vec<Duration>> {
        let arguments = json!({ "text": "x".repeat(PAYLOAD) });
        let serde_json::Value::Object(arguments) = arguments else {
            bail!("the echo input is an object");
        };
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            let result = self
                .service
                .call_tool(CallToolRequestParams::new("echo").with_arguments(arguments.clone()))
                .await?;
            samples.push(started.elapsed());
            if result.is_error == Some(true) {
                bail!("the echo call over MCP failed: {result:?}");
            }
        }
        Ok(samples)
    }

    /// Ends the MCP client.
    pub(super) async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// The HTTP client under rmcp's: one that keeps its connection between
/// requests. rmcp's default client opens a connection per request (it turns
/// pooling off: on a server that delays small writes, a reused connection
/// whose previous event stream was not read to its end stalls on delayed
/// ACKs). toolwire-server sends with `TCP_NODELAY`, so nothing stalls, and
/// a connection per call only adds a TCP handshake to each (measured in
/// docs/PERFORMANCE.md, thirteenth session).
fn keep_alive_client() -> anyhow::Result<reqwest_rmcp::Client> {
    Ok(reqwest_rmcp::Client::builder().build()?)
}

/// rmcp's streamable HTTP client configured for `/mcp` at `address`.
fn endpoint(address: &str, token: &str) -> StreamableHttpClientTransportConfig {
    StreamableHttpClientTransportConfig::with_uri(format!("http://{address}/mcp"))
        .auth_header(token)
}
