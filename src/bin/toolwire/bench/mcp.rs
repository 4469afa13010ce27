//! `mcp_echo_p50_us`: the `echo` tool over `/mcp` with rmcp's own client
//! (streamable HTTP), against the same server the native WebSocket figures
//! come from, measured in alternating rounds with them.

use std::time::{Duration, Instant};

use anyhow::bail;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use super::PAYLOAD;

/// An initialized MCP session with the server's `/mcp`.
pub(super) struct McpClient {
    service: RunningService<RoleClient, ()>,
}

impl McpClient {
    /// Connects and initializes (bearer `token`).
    pub(super) async fn connect(address: &str, token: &str) -> anyhow::Result<Self> {
        let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{address}/mcp"))
            .auth_header(token);
        let service = ().serve(StreamableHttpClientTransport::from_config(config)).await?;
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

    /// Ends the MCP session.
    pub(super) async fn close(self) {
        let _ = self.service.cancel().await;
    }
}
