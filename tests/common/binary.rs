//! The real `toolwire-server` binary as a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use toolwire::{Endpoint, Peer, PeerConfig, RemoteExecutor, WsConfig};

/// A running `toolwire-server` process, killed when dropped.
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// The address from its ready line (`127.0.0.1:PORT` or `unix:PATH`).
    pub ready: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real binary with `args` and waits (10 s at most) for its
/// ready line.
pub fn start_server_binary(args: &[&str]) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolwire-server"))
        .args(args)
        .env("TOOLWIRE_TOKEN_CANARY", "not-for-tools")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start toolwire-server");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let ready = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("ready line within 10 s");
    assert!(ready.starts_with("toolwire-server ready on "), "{ready}");
    ServerProcess {
        child,
        ready: ready
            .trim()
            .trim_start_matches("toolwire-server ready on ")
            .to_owned(),
    }
}

/// The real binary without auth, its workdir `DIR/work`, running the MCP
/// server `spec` (`NAME=COMMAND`) as a child.
pub fn start_with_mcp_server(dir: &std::path::Path, spec: &str) -> ServerProcess {
    start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--workdir",
        dir.join("work").to_str().expect("utf-8"),
        "--mcp-server",
        spec,
    ])
}

/// A `RemoteExecutor` over a WebSocket to `ws://ADDRESS/ws` (a server's
/// ready address), with `token` if it wants one.
pub async fn connect(address: &str, token: Option<&str>) -> RemoteExecutor {
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{address}/ws")),
        token,
        &WsConfig::default(),
        PeerConfig::default(),
    )
    .await
    .expect("connect");
    RemoteExecutor::new(Arc::new(peer))
}
