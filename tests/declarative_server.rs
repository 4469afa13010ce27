//! As a user would: a tools.yaml against a local HTTP service, served by
//! the real `toolwire-server --tools-file`, called over the wire. The
//! service records every request: each must be exactly the declared one.
//! The file is reloaded on change and on SIGHUP; a broken file stops the
//! server at start with the document and field.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::json;
use toolwire::{Action, Executor, PermissionRule, RemoteExecutor, ToolRequest};

const SECRET: &str = "sk-live-0a1b2c3d4e5f";

/// The server, its address, and its stderr lines as they come.
struct Server {
    child: Child,
    address: String,
    log: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits for a stderr line containing `text` (10 s at most).
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {text:?} within 10 s"),
            }
        }
    }
}

fn spawn(tools_file: &std::path::Path, workdir: &std::path::Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolwire-server"))
        .args(["--listen", "127.0.0.1:0", "--insecure-no-auth", "--workdir"])
        .arg(workdir)
        .arg("--tools-file")
        .arg(tools_file)
        .env("TOOLWIRE_TEST_API_TOKEN", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toolwire-server");
    let (lines, log) = channel();
    for pipe in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    (child, log)
}

fn start(tools_file: &std::path::Path, workdir: &std::path::Path) -> Server {
    let (child, log) = spawn(tools_file, workdir);
    let mut server = Server {
        child,
        address: String::new(),
        log,
    };
    let ready = server.wait_for_log("toolwire-server ready on ");
    server.address = ready
        .trim()
        .trim_start_matches("toolwire-server ready on ")
        .to_owned();
    server
}

async fn connect(server: &Server) -> RemoteExecutor {
    common::binary::connect(&server.address, None).await
}

fn tools_yaml(url: &str, extra: &str) -> String {
    format!(
        r#"kind: source
name: api
type: http
baseUrl: {url}/api
allowPrivateNetwork: true
---
kind: authService
name: token
secret: {{env: TOOLWIRE_TEST_API_TOKEN}}
apply: {{header: Authorization, prefix: "Bearer "}}
---
kind: tool
name: get_order
type: http
source: api
method: GET
path: /orders/{{{{.order}}}}
description: One order.
pathParams: [{{name: order, type: integer}}]
queryParams: [{{name: fields, type: string, default: "id,total"}}]
headerParams: [{{name: X-Request-Id, type: string}}]
authRequired: [token]
{extra}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tools_file_is_served_over_the_wire_exactly_as_declared_and_reloaded() {
    let (service, url, _task) = common::recorder::service().await;
    let files = tempfile::tempdir().expect("tempdir");
    let workdir = tempfile::tempdir().expect("workdir");
    let path = files.path().join("tools.yaml");
    std::fs::write(&path, tools_yaml(&url, "")).expect("write");
    let server = start(&path, workdir.path());
    let executor = connect(&server).await;
    executor
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("rules");
    let names: Vec<String> = executor
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(
        names.contains(&"get_order".to_owned()) && names.contains(&"bash".to_owned()),
        "{names:?}"
    );

    let response = executor
        .execute(ToolRequest::new(
            "get_order",
            json!({"order": 42, "X-Request-Id": "r-1"}),
        ))
        .await
        .expect("response");
    assert!(!response.is_error, "{response:?}");
    let got = service.received.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "exactly one request");
    let got = &got[0];
    assert_eq!(got.method, "GET");
    assert_eq!(got.path, "/api/orders/42");
    assert_eq!(got.query.as_deref(), Some("fields=id%2Ctotal"));
    assert_eq!(got.headers["x-request-id"], "r-1");
    assert_eq!(got.headers["authorization"], format!("Bearer {SECRET}"));
    assert!(
        got.body.is_empty(),
        "a GET without body parameters has no body"
    );
    let declared = ["accept", "authorization", "host", "x-request-id"];
    let extra: Vec<&String> = got
        .headers
        .keys()
        .filter(|h| !declared.contains(&h.as_str()))
        .collect();
    assert!(extra.is_empty(), "headers nobody declared: {extra:?}");
    assert!(
        !response.output.contains(SECRET) && response.output.contains("[redacted]"),
        "{}",
        response.output
    );

    // A change of the file is picked up ...
    std::fs::write(
        &path,
        tools_yaml(
            &url,
            "---\nkind: tool\nname: hello\ntype: command\ndescription: Hi.\ncommand: [echo, hi]\n",
        ),
    )
    .expect("rewrite");
    server.wait_for_log("tools file reloaded");
    let fresh = connect(&server).await;
    let names: Vec<String> = fresh
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(names.contains(&"hello".to_owned()), "{names:?}");
    // ... and so is SIGHUP.
    // SAFETY: kill(2) sends a signal to our own child; no memory is touched.
    let pid = i32::try_from(server.child.id()).expect("pid");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    server.wait_for_log("tools file reloaded");
    let logged: Vec<String> = server.log.try_iter().collect();
    assert!(
        !logged.iter().any(|line| line.contains(SECRET)),
        "the secret was logged"
    );
}

#[test]
fn a_broken_file_stops_the_server_naming_the_document_and_field() {
    let files = tempfile::tempdir().expect("tempdir");
    let path = files.path().join("tools.yaml");
    std::fs::write(
        &path,
        "kind: source\nname: api\ntype: http\nbaseUrl: http://127.0.0.1:1\n---\nkind: tool\nname: t\ntype: http\nsource: api\nmethod: FETCH\npath: /\ndescription: d\n",
    )
    .expect("write");
    let (mut child, log) = spawn(&path, files.path());
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "a broken tools file must stop the server"
    );
    // Both pipe readers end at the child's exit: every line is in.
    let text: Vec<String> = log.iter().collect();
    let text = text.join("\n");
    assert!(
        text.contains("document 2") && text.contains("field `method`"),
        "{text}"
    );
}
