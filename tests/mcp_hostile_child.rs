//! A hostile MCP server under `--mcp-server` (tests/data/mcp_hostile_child.py,
//! JSON-RPC by hand): tools with bad names, a duplicate or a schema that does
//! not compile are left out while the good ones are served; a server that
//! never answers `initialize` fails the start within `--mcp-start-timeout`
//! and is killed; a tool list whose cursor never ends is read for a bounded
//! number of pages.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use toolwire::{Executor, ToolRequest};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_hostile_child.py")
}

/// The names of the tools served under the MCP server `h`.
async fn served(executor: &toolwire::RemoteExecutor) -> Vec<String> {
    let mut names: Vec<String> = executor
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .filter(|name| name.starts_with("h__"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_a_server_may_not_list_are_left_out_and_the_rest_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = format!("h=python3 {} names", script().display());
    let server = common::binary::start_with_mcp_server(dir.path(), &spec);
    let executor = common::binary::connect(&server.ready, None).await;
    assert_eq!(
        served(&executor).await,
        ["h__also.good-2", "h__dup", "h__good"],
        "bad names, the second `dup` and the bad schema are not served"
    );
    let tools = executor.tools().await.expect("tools");
    let dup = tools.iter().find(|t| t.name == "h__dup").expect("dup");
    assert_eq!(dup.description, "first", "the first of the two is kept");
    assert!(
        tools.iter().any(|t| t.name == "bash"),
        "the built-ins are served beside them"
    );
    executor
        .set_rules(vec![toolwire::PermissionRule::new(
            "h__*",
            "*",
            toolwire::Action::Allow,
        )])
        .await
        .expect("rules");
    for (tool, said) in [("h__good", "good ran"), ("h__dup", "dup ran")] {
        let response = executor
            .execute(ToolRequest::new(tool, json!({})))
            .await
            .expect("call");
        assert_eq!(response.output, said, "{response:?}");
    }
}

#[test]
fn a_server_that_never_answers_initialize_fails_the_start_in_time_and_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A marker in the child's command line, to find it among the processes.
    let marker = dir.path().join("silent-marker");
    let spec = format!(
        "h=python3 {} silent {}",
        script().display(),
        marker.display()
    );
    let started = Instant::now();
    let mut server = Command::new(env!("CARGO_BIN_EXE_toolwire-server"))
        .args(["--listen", "127.0.0.1:0", "--insecure-no-auth"])
        .arg("--workdir")
        .arg(dir.path().join("work"))
        .args(["--mcp-start-timeout", "1s", "--mcp-server", &spec])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toolwire-server");
    let stderr = server.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        let _ = sender.send(text);
    });
    let Ok(stderr) = receiver.recv_timeout(Duration::from_secs(30)) else {
        let _ = server.kill();
        panic!("toolwire-server still runs 30 s after a 1 s start timeout");
    };
    let status = server.wait().expect("wait");
    assert!(!status.success(), "the start failed: {stderr}");
    assert!(
        stderr.contains("MCP server `h`")
            && stderr.contains("did not answer `initialize` within 1s"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // The child was sent SIGKILL before the server exited; it is gone once
    // the kernel has run its exit (a bounded wait for that state).
    let deadline = Instant::now() + Duration::from_secs(5);
    while running_with(&marker) {
        assert!(
            Instant::now() < deadline,
            "the silent MCP server outlived toolwire-server by 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a live (not zombie) process has `marker` in its command line.
fn running_with(marker: &Path) -> bool {
    let marker = marker.to_str().expect("utf-8");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        panic!("/proc is needed to look for the child");
    };
    entries.flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains(marker)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_list_that_never_ends_is_read_for_a_bounded_number_of_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let count = dir.path().join("list-requests");
    let spec = format!(
        "h=python3 {} endless {}",
        script().display(),
        count.display()
    );
    let server = common::binary::start_with_mcp_server(dir.path(), &spec);
    let executor = common::binary::connect(&server.ready, None).await;
    assert_eq!(served(&executor).await, ["h__good"]);
    let requests = std::fs::read_to_string(&count).expect("the child counted its pages");
    assert_eq!(
        requests,
        toolwire::mcp::listing::MAX_LIST_PAGES.to_string(),
        "pages read"
    );
}
