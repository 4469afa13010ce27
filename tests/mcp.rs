//! The MCP face with the official MCP Python SDK client (`mcp` from PyPI,
//! in the test venv): over streamable HTTP against the real
//! `toolwire-server --mcp`, and over stdio against `toolwire mcp` (a real
//! Docker sandbox). Initialize, list, call bash and read, bad input is
//! `isError`, a denied call is an error result, progress arrives (over both
//! transports), a cancelled long call leaves no process; asks and questions
//! reach a person through elicitation.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The rules both servers run with: everything allowed but `rm`.
const RULES: &str = r#"[
  {"permission": "*", "pattern": "*", "action": "allow"},
  {"permission": "bash", "pattern": "rm *", "action": "deny"}
]"#;

/// Rules under which `touch asked-*` asks a person and the rest runs.
const ASK_RULES: &str = r#"[
  {"permission": "*", "pattern": "*", "action": "allow"},
  {"permission": "bash", "pattern": "touch asked-*", "action": "ask"}
]"#;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run_client(args: &[&str]) {
    run_script("mcp_client.py", args);
}

fn run_script(name: &str, args: &[&str]) {
    let python = common::python::python_with(&["mcp"]);
    let output = Command::new(python)
        .arg(script(name))
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

/// A `toolwire-server --mcp` with `rules`, kept in `dir`; its `/mcp` URL
/// and token.
fn mcp_server(dir: &Path, rules: &str) -> (common::binary::ServerProcess, String, &'static str) {
    let rules_file = dir.join("rules.json");
    std::fs::write(&rules_file, rules).expect("rules");
    let token = "mcp-test-token-0123456789";
    let token_file = dir.join("token");
    std::fs::write(&token_file, token).expect("token");
    let workdir = dir.join("work");
    let server = common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--mcp",
        "--token-file",
        token_file.to_str().expect("utf-8"),
        "--rules",
        rules_file.to_str().expect("utf-8"),
        "--workdir",
        workdir.to_str().expect("utf-8"),
    ]);
    let url = format!("http://{}/mcp", server.ready);
    (server, url, token)
}

#[test]
fn the_python_sdk_uses_toolwire_server_over_streamable_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, url, token) = mcp_server(dir.path(), RULES);
    run_client(&["http", &url, token]);
}

/// A person answers asks and a question through the client's elicitation
/// callback, in `mode` (the Python SDK's connect mode).
fn asks_and_questions_reach_the_person(mode: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, url, token) = mcp_server(dir.path(), ASK_RULES);
    run_script("mcp_elicit.py", &[mode, "http", &url, token]);
    let work = dir.path().join("work");
    assert!(
        work.join("asked-yes").exists(),
        "the allowed command did not run"
    );
    assert!(!work.join("asked-no").exists(), "the declined command ran");
}

#[test]
fn asks_and_questions_reach_the_person_in_rounds_on_the_newest_protocol() {
    asks_and_questions_reach_the_person("auto");
}

#[test]
fn asks_and_questions_reach_the_person_within_the_call_on_older_protocols() {
    asks_and_questions_reach_the_person("legacy");
}

#[test]
fn asks_reach_the_person_through_toolwire_mcp_in_a_sandbox() {
    if let Err(e) = Command::new("docker").arg("info").output() {
        panic!("this test needs a running Docker engine: {e}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, ASK_RULES).expect("rules");
    run_script(
        "mcp_elicit.py",
        &[
            "auto",
            "stdio",
            env!("CARGO_BIN_EXE_toolwire"),
            "mcp",
            "--rules",
            rules.to_str().expect("utf-8"),
        ],
    );
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
