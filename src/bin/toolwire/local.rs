//! `--local`: a tool server in this process, working in a temporary
//! directory, reached over an in-memory frame transport. Nothing is
//! isolated, so it runs only when the user asked for it by name.

use std::sync::Arc;

use toolwire::server::{Auth, ServerConfig, ToolServer};
use toolwire::tools::{self, ToolsConfig};
use toolwire::{Peer, PeerConfig, RemoteExecutor, channel_pair};

/// Frames either end may have unread before its sender waits.
const CHANNEL_FRAMES: usize = 64;

/// Prints the loud warning.
fn warn_not_isolated() {
    eprintln!("\n################################################################");
    eprintln!("# --local: tools run on THIS machine, in a temporary directory.");
    eprintln!("# NOTHING IS ISOLATED: commands can touch your files and network.");
    eprintln!("################################################################\n");
}

/// A local tool server and a connected executor.
pub struct LocalSandbox {
    pub executor: RemoteExecutor,
    session: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl LocalSandbox {
    pub async fn start(peer: PeerConfig) -> anyhow::Result<Self> {
        warn_not_isolated();
        let dir = tempfile::tempdir()?;
        let workdir = dir.path().canonicalize()?;
        let executor = tools::executor(&workdir, ToolsConfig::default())?;
        // In-process: no socket, so nobody else can connect; no token needed.
        let server = ToolServer::new(executor, Auth::InsecureNoAuth, ServerConfig::default());
        let (client_end, server_end) = channel_pair(CHANNEL_FRAMES);
        let session = tokio::spawn(server.serve_connection(server_end));
        let peer = Peer::start(client_end, peer).await?;
        Ok(Self {
            executor: RemoteExecutor::new(Arc::new(peer)),
            session,
            _dir: dir,
        })
    }

    pub async fn stop(self) {
        self.executor.close().await;
        let _ = self.session.await;
    }
}
