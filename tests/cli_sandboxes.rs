//! The CLI for orchestrators in any language, on the real Docker engine, as
//! a program would drive it: `toolwire up --json`, `exec` fed a model's
//! answer on stdin, `call`, `down`. stdout must be only the JSON result.
//! Without an engine these tests fail saying so.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// Runs `toolwire ARGS` with `stdin`, its state kept under `runtime`.
fn toolwire(runtime: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolwire"))
        .args(args)
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run toolwire");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("toolwire ends")
}

/// The JSON on stdout of a command that must succeed.
fn json_out(output: &Output, what: &str) -> Value {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not only JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Takes a detached sandbox down when the test ends, passed or failed, so
/// nothing is left behind (no process owns a detached sandbox).
struct Down<'a> {
    runtime: &'a Path,
    name: String,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = toolwire(self.runtime, &["down", &self.name], "");
    }
}

async fn container_exists(id: &str) -> bool {
    let docker = bollard::Docker::connect_with_local_defaults()
        .unwrap_or_else(|e| panic!("this test needs a running Docker engine: {e}"));
    match docker
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
    {
        Ok(_) => true,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => false,
        Err(e) => panic!("inspect {id}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_exec_call_down_as_an_orchestrator_in_another_language_would() {
    if let Err(e) = bollard::Docker::connect_with_local_defaults() {
        panic!("this test needs a running Docker engine: {e}");
    }
    let runtime = tempfile::tempdir().expect("runtime dir");
    let name = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _down = Down {
        runtime: runtime.path(),
        name: name.clone(),
    };
    let up = json_out(
        &toolwire(runtime.path(), &["up", "--name", &name, "--json"], ""),
        "toolwire up",
    );
    assert_eq!(up["name"], json!(name));
    assert!(
        up["url"]
            .as_str()
            .expect("url")
            .starts_with("ws://127.0.0.1:")
    );
    let container = up["container"].as_str().expect("container").to_owned();
    let token_file = Path::new(up["token_file"].as_str().expect("token_file")).to_owned();
    let mode = std::fs::metadata(&token_file)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the token file is the user's only");
    assert!(container_exists(&container).await);

    // A Chat Completions response with three calls, one with malformed arguments.
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [
                {"id": "call_one", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"echo one\"}"}},
                {"id": "call_bad", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"echo"}},
                {"id": "call_two", "type": "function", "function": {"name": "write", "arguments": "{\"path\": \"note.txt\", \"content\": \"two\"}"}}
            ]}}]
    });
    let messages = json_out(
        &toolwire(
            runtime.path(),
            &["exec", &name, "--format", "openai", "--allow-all"],
            &completion.to_string(),
        ),
        "toolwire exec --format openai",
    );
    let messages = messages.as_array().expect("an array of messages");
    assert_eq!(messages.len(), 3);
    let ids: Vec<&str> = messages
        .iter()
        .map(|m| m["tool_call_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["call_one", "call_bad", "call_two"]);
    assert!(messages.iter().all(|m| m["role"] == "tool"));
    assert_eq!(messages[0]["content"], json!("one\n"));
    let bad = messages[1]["content"].as_str().expect("content");
    assert!(
        bad.starts_with("Error:") && bad.contains("not valid JSON"),
        "{bad}"
    );
    assert!(
        messages[2]["content"]
            .as_str()
            .expect("content")
            .contains("note.txt")
    );

    // An Anthropic message; without --allow-all and without a terminal the
    // permission ask is refused, naming the permission and the pattern.
    let message = json!({"role": "assistant", "content": [
        {"type": "text", "text": "Reading it, then cleaning up."},
        {"type": "tool_use", "id": "toolu_read", "name": "read", "input": {"path": "note.txt"}},
        {"type": "tool_use", "id": "toolu_rm", "name": "bash", "input": {"command": "rm note.txt"}}
    ]});
    let output = toolwire(
        runtime.path(),
        &["exec", &name, "--format", "anthropic"],
        &message.to_string(),
    );
    let back = json_out(&output, "toolwire exec --format anthropic");
    assert_eq!(back.as_array().expect("array").len(), 1, "one user message");
    assert_eq!(back[0]["role"], json!("user"));
    let blocks = back[0]["content"].as_array().expect("blocks");
    assert_eq!(blocks[0]["tool_use_id"], json!("toolu_read"));
    assert_eq!(blocks[0]["is_error"], json!(false));
    assert!(blocks[0]["content"].as_str().expect("text").contains("two"));
    assert_eq!(blocks[1]["tool_use_id"], json!("toolu_rm"));
    assert_eq!(blocks[1]["is_error"], json!(true));
    let refusal = blocks[1]["content"].as_str().expect("text");
    assert!(
        refusal.contains("`bash`") && refusal.contains("`rm note.txt`"),
        "{refusal}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("no terminal"));

    // The file is still there: the refused command did not run.
    let read = json_out(
        &toolwire(
            runtime.path(),
            &["call", &name, "read", r#"{"path": "note.txt"}"#],
            "",
        ),
        "toolwire call read",
    );
    assert!(
        read["output"].as_str().expect("output").contains("two"),
        "{read}"
    );

    // A bad answer is a clear error, and nothing on stdout.
    let not_json = toolwire(
        runtime.path(),
        &["exec", &name, "--format", "openai"],
        "not json",
    );
    assert!(!not_json.status.success() && not_json.stdout.is_empty());
    assert!(String::from_utf8_lossy(&not_json.stderr).contains("not valid JSON"));
    let wrong_shape = toolwire(runtime.path(), &["exec", &name, "--format", "gemini"], "42");
    assert!(!wrong_shape.status.success() && wrong_shape.stdout.is_empty());
    assert!(String::from_utf8_lossy(&wrong_shape.stderr).contains("not a gemini"));

    let down = toolwire(runtime.path(), &["down", &name], "");
    assert!(
        down.status.success(),
        "down: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(
        !container_exists(&container).await,
        "down leaves no container"
    );
    assert!(!token_file.exists(), "down forgets the token");
    let again = toolwire(runtime.path(), &["call", &name, "read", "{}"], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no sandbox named"));
}

#[test]
fn bad_input_is_a_clear_error_and_nothing_starts() {
    let runtime = tempfile::tempdir().expect("runtime dir");
    let bad_name = toolwire(runtime.path(), &["up", "--name", "../x"], "");
    assert!(!bad_name.status.success());
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("sandbox name"));
    let no_such = toolwire(
        runtime.path(),
        &["exec", "ghost", "--format", "openai"],
        "{}",
    );
    assert!(!no_such.status.success());
    assert!(String::from_utf8_lossy(&no_such.stderr).contains("no sandbox named \"ghost\""));
    assert!(no_such.stdout.is_empty(), "nothing on stdout but a result");
    let bad_format = toolwire(runtime.path(), &["tools", "--format", "claude"], "");
    assert!(!bad_format.status.success());
    assert!(String::from_utf8_lossy(&bad_format.stderr).contains("one of: openai"));
}

#[tokio::test(flavor = "multi_thread")]
async fn up_serves_a_tools_file_inside_the_sandbox() {
    if let Err(e) = bollard::Docker::connect_with_local_defaults() {
        panic!("this test needs a running Docker engine: {e}");
    }
    let runtime = tempfile::tempdir().expect("runtime dir");
    let files = tempfile::tempdir().expect("files");
    let tools = files.path().join("tools.yaml");
    std::fs::write(
        &tools,
        "kind: tool\nname: count_words\ntype: command\ndescription: Counts words.\ncommand: [sh, -c, 'printf %s \"$1\" | wc -w', sh, '{{.text}}']\nparameters: [{name: text, type: string}]\n",
    )
    .expect("write");
    let broken = files.path().join("broken.yaml");
    std::fs::write(&broken, "kind: tool\nname: x\ntype: teleport\n").expect("write");
    let refused = toolwire(
        runtime.path(),
        &["up", "--tools-file", broken.to_str().expect("utf-8")],
        "",
    );
    assert!(!refused.status.success(), "a broken file starts nothing");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("document 1: field `type`"));

    let name = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _down = Down {
        runtime: runtime.path(),
        name: name.clone(),
    };
    json_out(
        &toolwire(
            runtime.path(),
            &[
                "up",
                "--name",
                &name,
                "--json",
                "--tools-file",
                tools.to_str().expect("utf-8"),
            ],
            "",
        ),
        "toolwire up --tools-file",
    );
    let counted = json_out(
        &toolwire(
            runtime.path(),
            &[
                "call",
                &name,
                "count_words",
                r#"{"text": "one two; three"}"#,
                "--allow-all",
            ],
            "",
        ),
        "toolwire call count_words",
    );
    assert_eq!(
        counted["output"].as_str().map(str::trim),
        Some("3"),
        "{counted}"
    );
    // The file is the server's only: the tool user cannot read it.
    let peek = json_out(
        &toolwire(
            runtime.path(),
            &[
                "call",
                &name,
                "bash",
                r#"{"command": "cat /run/toolwire/tools.yaml"}"#,
                "--allow-all",
            ],
            "",
        ),
        "toolwire call bash",
    );
    assert!(
        peek["output"]
            .as_str()
            .expect("output")
            .contains("Permission denied"),
        "{peek}"
    );
}

/// The stdout of a command that must succeed.
fn text_out(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn cp_copies_files_and_directories_in_and_out_of_a_sandbox() {
    if let Err(e) = bollard::Docker::connect_with_local_defaults() {
        panic!("this test needs a running Docker engine: {e}");
    }
    let runtime = tempfile::tempdir().expect("runtime dir");
    let local = tempfile::tempdir().expect("files");
    let name = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _down = Down {
        runtime: runtime.path(),
        name: name.clone(),
    };
    json_out(
        &toolwire(runtime.path(), &["up", "--name", &name, "--json"], ""),
        "toolwire up",
    );
    let file = local.path().join("notes.txt");
    let content = "line one\nline two\n".repeat(50_000);
    std::fs::write(&file, &content).expect("write");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();

    // Into a directory of the sandbox (a trailing slash keeps the name).
    let copied = text_out(
        &toolwire(
            runtime.path(),
            &["cp", &path(&file), &format!("{name}:inbox/"), "--allow-all"],
            "",
        ),
        "toolwire cp file in",
    );
    let checksum = blake3::hash(content.as_bytes()).to_hex().to_string();
    assert_eq!(
        copied.trim(),
        format!("copied a file: {} bytes, blake3 {checksum}", content.len())
    );
    let listed = json_out(
        &toolwire(
            runtime.path(),
            &[
                "call",
                &name,
                "bash",
                r#"{"command": "wc -c < inbox/notes.txt"}"#,
                "--allow-all",
            ],
            "",
        ),
        "toolwire call bash",
    );
    assert_eq!(
        listed["output"].as_str().map(str::trim),
        Some(content.len().to_string().as_str())
    );

    // A directory in, then out again under a new name.
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).expect("mkdir");
    std::fs::write(tree.join("a/b/c.txt"), "deep").expect("write");
    text_out(
        &toolwire(
            runtime.path(),
            &["cp", &path(&tree), &format!("{name}:tree"), "--allow-all"],
            "",
        ),
        "toolwire cp dir in",
    );
    let back = local.path().join("back");
    let out = text_out(
        &toolwire(
            runtime.path(),
            &["cp", &format!("{name}:tree"), &path(&back)],
            "",
        ),
        "toolwire cp dir out",
    );
    assert!(out.starts_with("copied a directory:"), "{out}");
    assert_eq!(
        std::fs::read_to_string(back.join("a/b/c.txt")).expect("copied back"),
        "deep"
    );

    // Outside the workspace asks; without a terminal the ask is refused.
    let refused = toolwire(
        runtime.path(),
        &[
            "cp",
            &format!("{name}:/etc/hostname"),
            &path(&local.path().join("h")),
        ],
        "",
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("external_directory"), "{stderr}");
    assert!(!local.path().join("h").exists());
    let both_local = toolwire(runtime.path(), &["cp", "a", "b"], "");
    assert!(!both_local.status.success());
    assert!(String::from_utf8_lossy(&both_local.stderr).contains("NAME:path"));
}
