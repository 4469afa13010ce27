//! The fallback when no Docker engine is reachable: a tool server in this
//! process, working in a temporary directory. Nothing is isolated.

use std::sync::Arc;

use toolwire::server::{Auth, ServerConfig, TokenDigest, ToolServer};
use toolwire::tools::{self, ToolsConfig};
use toolwire::{RemoteExecutor, WsConfig, WsTransport};

/// Prints the loud warning.
pub fn warn_not_isolated(reason: &str) {
    eprintln!("\n################################################################");
    eprintln!("# WARNING: no Docker engine ({reason})");
    eprintln!("# Tools run on THIS machine, in a temporary directory.");
    eprintln!("# NOTHING IS ISOLATED: commands can touch your files and network.");
    eprintln!("################################################################\n");
}

/// A local tool server and a connected executor.
pub struct LocalSandbox {
    pub executor: RemoteExecutor,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl LocalSandbox {
    pub async fn start(transport: WsConfig) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let workdir = dir.path().canonicalize()?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let executor = tools::executor(&workdir, ToolsConfig::default())?;
        let server = ToolServer::new(
            executor,
            Auth::Token(TokenDigest::of(&token)?),
            ServerConfig::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}/ws", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server.serve_tcp(listener, async {
            let _ = stopped.await;
        }));
        let client = WsTransport::connect(&url, Some(&token), transport).await?;
        Ok(Self {
            executor: RemoteExecutor::new(Arc::new(client)),
            stop,
            server,
            _dir: dir,
        })
    }

    pub async fn stop(self) {
        self.executor.close().await;
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}
