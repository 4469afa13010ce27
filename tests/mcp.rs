//! The MCP face with the official MCP Python SDK client (`mcp` from PyPI,
//! in the test venv): over streamable HTTP against the real
//! `toolwire-server --mcp`, and over stdio against `toolwire mcp` (a real
//! Docker sandbox). Initialize, list, call bash and read, bad input is
//! `isError`, a denied call is an error result, progress arrives (HTTP), a
//! cancelled long call leaves no process.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The rules both servers run with: everything allowed but `rm`.
const RULES: &str = r#"[
  {"permission": "*", "pattern": "*", "action": "allow"},
  {"permission": "bash", "pattern": "rm *", "action": "deny"}
]"#;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_client.py")
}

fn run_client(args: &[&str]) {
    let python = common::python::python_with(&["mcp"]);
    let output = Command::new(python)
        .arg(script())
        .args(args)
        .output()
        .expect("run the MCP Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("all checks passed"),
        "the MCP Python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_python_sdk_uses_toolwire_server_over_streamable_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, RULES).expect("rules");
    let token = "mcp-test-token-0123456789";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).expect("token");
    let workdir = dir.path().join("work");
    let server = common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--mcp",
        "--token-file",
        token_file.to_str().expect("utf-8"),
        "--rules",
        rules.to_str().expect("utf-8"),
        "--workdir",
        workdir.to_str().expect("utf-8"),
    ]);
    let url = format!("http://{}/mcp", server.ready);
    run_client(&["http", &url, token]);
}

#[test]
fn the_python_sdk_uses_toolwire_mcp_over_stdio_with_a_sandbox() {
    if let Err(e) = Command::new("docker").arg("info").output() {
        panic!("this test needs a running Docker engine: {e}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, RULES).expect("rules");
    run_client(&[
        "stdio",
        env!("CARGO_BIN_EXE_toolwire"),
        "mcp",
        "--rules",
        rules.to_str().expect("utf-8"),
    ]);
}
