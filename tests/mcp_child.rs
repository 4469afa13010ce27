//! MCP servers run by toolwire-server (`--mcp-server NAME=COMMAND`): a small
//! server written with the official MCP Python SDK has its tools listed and
//! called through the WebSocket and through `/mcp`, a deny rule for one of
//! its tools holds, its environment is the clean one, and it is restarted
//! when it dies — on this machine, and inside a real sandbox (with the
//! venv's packages copied into a mounted workspace).

mod common;

use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use serde_json::json;
use toolwire::{
    Action, CallOptions, Endpoint, Executor, Peer, PeerConfig, PermissionRule, RemoteExecutor,
    ToolRequest, WsConfig,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_python_mcp_server_is_served_behind_the_rules_and_restarted() {
    let python = common::python::python_with(&["mcp"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_child_server.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"[{"permission": "*", "pattern": "*", "action": "allow"},
            {"permission": "notes__shout", "pattern": "text=*secret*", "action": "deny"}]"#,
    )
    .expect("rules");
    let token = "mcp-child-token-0123456789";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).expect("token");
    let spec = format!("notes={} {}", python.display(), script.display());
    let server = common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--mcp",
        "--token-file",
        token_file.to_str().expect("utf-8"),
        "--rules",
        rules.to_str().expect("utf-8"),
        "--workdir",
        dir.path().join("work").to_str().expect("utf-8"),
        "--mcp-server",
        &spec,
    ]);
    let executor = common::binary::connect(&server.ready, Some(token)).await;
    let names: Vec<String> = executor
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    for name in ["notes__add", "notes__shout", "notes__whoami", "bash"] {
        assert!(
            names.contains(&name.to_owned()),
            "{name} missing from {names:?}"
        );
    }
    let call =
        |tool: &str, input: serde_json::Value| executor.execute(ToolRequest::new(tool, input));
    let sum = call("notes__add", json!({"a": 2, "b": 40}))
        .await
        .expect("add");
    assert_eq!(sum.output, "42", "{sum:?}");
    let loud = call("notes__shout", json!({"text": "hello"}))
        .await
        .expect("shout");
    assert_eq!(loud.output, "HELLO");
    let denied = call("notes__shout", json!({"text": "my secret plan"}))
        .await
        .expect("shout");
    assert!(denied.denied, "the deny rule holds: {denied:?}");
    let bad = call("notes__add", json!({"a": "two"})).await.expect("add");
    assert!(
        bad.is_error && bad.output.contains("invalid input"),
        "{bad:?}"
    );
    let who = call("notes__whoami", json!({})).await.expect("whoami");
    assert!(
        !who.output.contains("TOOLWIRE_TOKEN_CANARY"),
        "the server's environment leaked: {}",
        who.output
    );

    // Through /mcp too, with the same rules.
    let mcp = common::python::python_with(&["mcp"]);
    let check = format!(
        r#"
import anyio, httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
async def main():
    http = httpx2.AsyncClient(headers={{"Authorization": "Bearer {token}"}}, timeout=60)
    async with Client(streamable_http_client("http://{addr}/mcp", http_client=http)) as client:
        names = {{t.name for t in (await client.list_tools()).tools}}
        assert "notes__add" in names, names
        r = await client.call_tool("notes__add", {{"a": 1, "b": 2}})
        assert not r.is_error and r.content[0].text == "3", r
        r = await client.call_tool("notes__shout", {{"text": "top secret"}})
        assert r.is_error and "Denied" in r.content[0].text, r
        # The child's progress reaches this client; it opens the gate.
        seen = []
        async def on_progress(progress, total, message):
            seen.append(message)
            open("{gate}", "w").close()
        r = await client.call_tool("notes__wait_for", {{"path": "{gate}"}}, progress_callback=on_progress)
        assert not r.is_error and r.content[0].text == "done", r
        assert seen and seen[0].startswith("waiting for {gate}"), seen
    print("mcp ok")
anyio.run(main)
"#,
        addr = server.ready,
        gate = dir.path().join("mcp-gate").display()
    );
    let output = std::process::Command::new(mcp)
        .arg("-c")
        .arg(check)
        .output()
        .expect("python");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("mcp ok"),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // It dies; the next calls fail clearly until it is back, then work.
    let crashed = call("notes__crash", json!({})).await.expect("crash");
    assert!(crashed.is_error, "{crashed:?}");
    let back = common::within(Duration::from_secs(20), "the restart", async {
        loop {
            let sum = call("notes__add", json!({"a": 1, "b": 1}))
                .await
                .expect("add");
            if !sum.is_error {
                return sum;
            }
            assert!(
                sum.output.contains("restarting") || sum.output.contains("MCP server `notes`"),
                "{sum:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(back.output, "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tools_file_names_an_mcp_server_that_the_server_starts() {
    let python = common::python::python_with(&["mcp"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_child_server.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let tools_file = dir.path().join("tools.yaml");
    std::fs::write(
        &tools_file,
        format!(
            "kind: mcpServer\nname: notes\ncommand: [{:?}, {:?}]\n",
            python.display().to_string(),
            script.display().to_string()
        ),
    )
    .expect("tools file");
    let server = common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--workdir",
        dir.path().join("work").to_str().expect("utf-8"),
        "--tools-file",
        tools_file.to_str().expect("utf-8"),
    ]);
    let executor = common::binary::connect(&server.ready, None).await;
    executor
        .set_rules(vec![toolwire::PermissionRule::new(
            "notes__*",
            "*",
            toolwire::Action::Allow,
        )])
        .await
        .expect("rules");
    let sum = executor
        .execute(ToolRequest::new("notes__add", json!({"a": 20, "b": 22})))
        .await
        .expect("add");
    assert_eq!(sum.output, "42", "{sum:?}");
}

/// A child tool's `notifications/progress` reach a WebSocket client that
/// asked for progress, as the call's output chunks, while the call runs;
/// cancelling the call cancels it in the child.
#[tokio::test(flavor = "multi_thread")]
async fn progress_of_an_mcp_servers_tool_reaches_the_caller_while_it_runs() {
    let python = common::python::python_with(&["mcp"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_child_server.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = format!("notes={} {}", python.display(), script.display());
    let server = common::binary::start_with_mcp_server(dir.path(), &spec);
    let (sender, mut chunks) = tokio::sync::mpsc::unbounded_channel::<String>();
    let config = PeerConfig::default().on_progress(move |_id, chunk| {
        let _ = sender.send(chunk.to_owned());
    });
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{}/ws", server.ready)),
        None,
        &WsConfig::default(),
        config,
    )
    .await
    .expect("connect");
    let executor = RemoteExecutor::new(Arc::new(peer));
    executor
        .set_rules(vec![PermissionRule::new("notes__*", "*", Action::Allow)])
        .await
        .expect("rules");
    let gate = dir.path().join("gate");
    let call = executor.execute(ToolRequest::new(
        "notes__wait_for",
        json!({"path": gate.display().to_string()}),
    ));
    tokio::pin!(call);
    // The tool reports progress, then waits for the gate: the chunk must
    // come while the call still runs.
    let first = common::within(Duration::from_secs(30), "the first progress", async {
        tokio::select! {
            chunk = chunks.recv() => chunk.expect("a progress chunk"),
            response = &mut call => panic!("the call ended before any progress: {response:?}"),
        }
    })
    .await;
    assert_eq!(first, format!("waiting for {}\n", gate.display()));
    std::fs::write(&gate, "").expect("open the gate");
    let response = common::within(Duration::from_secs(30), "the call", call)
        .await
        .expect("wait_for");
    assert_eq!(response.output, "done", "{response:?}");

    // A cancelled call is cancelled in the child too.
    let gate = dir.path().join("never");
    let marker = dir.path().join("never.cancelled");
    let (created_tx, mut created) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let _ = created_tx.send(event.paths);
        }
    })
    .expect("a file watcher");
    notify::Watcher::watch(
        &mut watcher,
        dir.path(),
        notify::RecursiveMode::NonRecursive,
    )
    .expect("watch the directory");
    let stop = tokio_util::sync::CancellationToken::new();
    let call = executor.execute_with(
        ToolRequest::new(
            "notes__wait_for",
            json!({"path": gate.display().to_string()}),
        ),
        CallOptions::default().cancel(stop.clone()),
    );
    tokio::pin!(call);
    common::within(
        Duration::from_secs(30),
        "progress of the second call",
        async {
            tokio::select! {
                chunk = chunks.recv() => chunk.expect("a progress chunk"),
                response = &mut call => panic!("the call ended before any progress: {response:?}"),
            }
        },
    )
    .await;
    stop.cancel();
    let ended = common::within(Duration::from_secs(30), "the cancelled call", call).await;
    assert!(
        matches!(ended, Err(toolwire::CallError::Cancelled)),
        "{ended:?}"
    );
    common::within(Duration::from_secs(30), "the child's cancellation", async {
        while !marker.exists() {
            let paths = created.recv().await.expect("file events");
            if paths.contains(&marker) {
                break;
            }
        }
    })
    .await;
}

/// The same Python SDK server inside a real sandbox: the host's venv
/// packages are copied into a mounted workspace (the image's Python is
/// 3.11, as the venv's), the server runs it as the tool user with a clean
/// environment, and its tools are served behind the rules.
#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_server_runs_inside_a_real_sandbox_behind_the_rules() {
    use std::os::unix::fs::PermissionsExt;
    let python = common::python::python_with(&["mcp"]);
    let venv = python
        .parent()
        .and_then(Path::parent)
        .expect("the venv of its python");
    let site = venv.join("lib/python3.11/site-packages");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(&site)
        .arg(dir.path().join("site"))
        .status()
        .expect("cp");
    assert!(copied.success(), "copying {} failed", site.display());
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcp_child_server.py"),
        dir.path().join("notes.py"),
    )
    .expect("copy the server");
    let launcher = common::docker::launcher().await;
    let sandbox = launcher
        .launch(
            toolwire::docker::LaunchConfig::default()
                .session("mcp-child")
                .workspace(dir.path())
                .server_args(vec![
                    "--mcp-server".to_owned(),
                    "notes=env PYTHONPATH=/workspace/site python3 /workspace/notes.py".to_owned(),
                ]),
        )
        .await
        .expect("launch with an MCP server inside");
    let executor = sandbox.executor();
    executor
        .set_rules(vec![
            toolwire::PermissionRule::new("notes__*", "*", toolwire::Action::Allow),
            toolwire::PermissionRule::new("notes__shout", "text=*secret*", toolwire::Action::Deny),
        ])
        .await
        .expect("rules");
    let names: Vec<String> = executor
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(names.contains(&"notes__add".to_owned()), "{names:?}");
    let sum = executor
        .execute(ToolRequest::new("notes__add", json!({"a": 2, "b": 40})))
        .await
        .expect("add");
    assert_eq!(sum.output, "42", "{sum:?}");
    let denied = executor
        .execute(ToolRequest::new(
            "notes__shout",
            json!({"text": "a secret"}),
        ))
        .await
        .expect("shout");
    assert!(denied.denied, "the deny rule holds: {denied:?}");
    let who = executor
        .execute(ToolRequest::new("notes__whoami", json!({})))
        .await
        .expect("whoami");
    assert!(
        who.output.starts_with("uid=1000 "),
        "as the tool user: {}",
        who.output
    );
    sandbox.shutdown().await.expect("shutdown");
}
