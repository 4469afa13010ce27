//! Declarative tools against a real local HTTP service (axum on
//! 127.0.0.1:0) that records every request it receives, real command
//! processes, and a tools file rewritten while calls run.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::recorder::service;
use secrecy::SecretString;
use serde_json::{Value, json};
use toolwire::declarative::{Credentials, Reload, ToolsFile, watch};
use toolwire::protocol::BusEvent;
use toolwire::tools::ToolsConfig;
use toolwire::{Action, CallError, Executor, LocalExecutor, PermissionRule, ToolRequest};

fn source(url: &str) -> String {
    format!(
        "kind: source\nname: api\ntype: http\nbaseUrl: {url}/api\nallowPrivateNetwork: true\nheaders: {{X-Source: toolwire}}\nqueryParams: {{v: \"1\"}}\ntimeout: 5s\n"
    )
}

/// A workdir, the built-ins and the tools of `yaml`, everything allowed.
fn executor_with(yaml: &str, credentials: &Credentials) -> (tempfile::TempDir, LocalExecutor) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Arc::new(ToolsConfig::default());
    let executor = toolwire::tools::executor(dir.path(), (*config).clone()).expect("executor");
    let file = ToolsFile::parse(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    file.register(&executor, &config, credentials, None)
        .unwrap_or_else(|e| panic!("{e}"));
    executor
        .shared()
        .permissions
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)]);
    (dir, executor)
}

async fn call(executor: &LocalExecutor, tool: &str, input: Value) -> toolwire::ToolResponse {
    common::within(
        Duration::from_secs(20),
        tool,
        executor.execute(ToolRequest::new(tool, input)),
    )
    .await
    .expect("a response")
}

#[tokio::test]
async fn every_parameter_kind_lands_where_it_is_declared() {
    let (service, url, _task) = service().await;
    let yaml = format!(
        r#"{}---
kind: tool
name: create
type: http
source: api
method: POST
path: /items/{{{{.id}}}}
description: Creates an item.
headers: {{X-Static: fixed}}
pathParams:
  - {{name: id, type: string, description: The item.}}
queryParams:
  - {{name: q, type: string}}
  - {{name: limit, type: integer, default: 10}}
headerParams:
  - {{name: X-Trace, type: string, required: false}}
bodyParams:
  - {{name: name, type: string}}
  - {{name: tags, type: array, items: {{type: string}}, required: false}}
  - {{name: size, type: float, allowedValues: [1.5, 2.5], required: false}}
requestBody: '{{"name": {{{{json .name}}}}, "tags": {{{{json .tags}}}}, "raw": "{{{{.name}}}}", "enc": "{{{{queryEscape .name}}}}", "size": {{{{json .size}}}}}}'
---
kind: tool
name: plain_body
type: http
source: api
method: PUT
path: /things
description: Sends its body parameters as a JSON object.
bodyParams:
  - {{name: a, type: integer}}
  - {{name: b, type: map, required: false}}
"#,
        source(&url)
    );
    let (_dir, executor) = executor_with(&yaml, &Credentials::default());
    let response = call(
        &executor,
        "create",
        json!({"id": "a/b c", "q": "x y&z", "name": "Ann & Bo", "tags": ["t1", "t2"], "X-Trace": "abc", "size": 2.5}),
    )
    .await;
    assert!(!response.is_error, "{response:?}");
    assert_eq!(response.metadata["status"], json!(200));
    let got = service.received.lock().expect("lock")[0].clone();
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.path, "/api/items/a%2Fb%20c",
        "a path value stays one segment"
    );
    assert_eq!(
        got.query.as_deref(),
        Some("v=1&q=x+y%26z&limit=10"),
        "source query, then declared, default filled"
    );
    assert_eq!(got.headers["x-source"], "toolwire");
    assert_eq!(got.headers["x-static"], "fixed");
    assert_eq!(got.headers["x-trace"], "abc");
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(
        got.body,
        r#"{"name": "Ann & Bo", "tags": ["t1","t2"], "raw": "Ann & Bo", "enc": "Ann+%26+Bo", "size": 2.5}"#
    );

    // Without a template, the body parameters given are the JSON body.
    let response = call(&executor, "plain_body", json!({"a": 7, "b": {"k": [true]}})).await;
    assert!(!response.is_error, "{response:?}");
    let got = service.received.lock().expect("lock")[1].clone();
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("PUT", "/api/things")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&got.body).expect("json"),
        json!({"a": 7, "b": {"k": [true]}})
    );

    // Required parameters, types and allowed values are checked before anything is sent.
    for (input, problem) in [
        (json!({"id": "1", "name": "n"}), "q"),
        (
            json!({"id": "1", "q": "x", "name": "n", "limit": "ten"}),
            "limit",
        ),
        (
            json!({"id": "1", "q": "x", "name": "n", "size": 9.0}),
            "size",
        ),
        (
            json!({"id": "1", "q": "x", "name": "n", "extra": 1}),
            "extra",
        ),
    ] {
        let refused = call(&executor, "create", input).await;
        assert!(
            refused.is_error && refused.output.contains("invalid input"),
            "{refused:?}"
        );
        assert!(
            refused.output.contains(problem),
            "{problem}: {}",
            refused.output
        );
    }
    // A value `..` cannot walk up the path.
    let climbing = call(
        &executor,
        "create",
        json!({"id": "..", "q": "x", "name": "n"}),
    )
    .await;
    assert!(
        climbing.is_error && climbing.output.contains("`..`"),
        "{climbing:?}"
    );
    assert_eq!(
        service.received.lock().expect("lock").len(),
        2,
        "nothing else was sent"
    );
}

#[tokio::test]
async fn credentials_apply_at_call_time_are_redacted_and_appear_in_no_event() {
    let (service, url, _task) = service().await;
    let yaml = format!(
        "{}---
kind: authService
name: api-token
secret: {{session: true}}
apply: {{header: Authorization, prefix: \"Bearer \"}}
---
kind: authService
name: api-key
secret: {{session: true}}
apply: {{query: key}}
---
kind: tool
name: whoami
type: http
source: api
method: GET
path: /me
description: Echoes what it received.
authRequired: [api-token, api-key]
",
        source(&url)
    );
    let credentials = Credentials::default();
    let (_dir, executor) = executor_with(&yaml, &credentials);
    let mut events = executor.shared().bus.subscribe();

    // No value supplied: a clear error naming the credential.
    let missing = call(&executor, "whoami", json!({})).await;
    assert!(missing.is_error);
    assert!(
        missing.output.contains("credential `api-token` is missing"),
        "{}",
        missing.output
    );
    assert!(
        service.received.lock().expect("lock").is_empty(),
        "nothing sent without it"
    );

    let token = "tok-3f9a/77+secret";
    let key = "k&ey 42";
    credentials.set("", "api-token", SecretString::from(token.to_owned()));
    credentials.set("", "api-key", SecretString::from(key.to_owned()));
    let response = call(&executor, "whoami", json!({})).await;
    assert!(!response.is_error, "{response:?}");
    let got = service.received.lock().expect("lock")[0].clone();
    assert_eq!(
        got.headers["authorization"],
        format!("Bearer {token}"),
        "applied for real"
    );
    assert_eq!(got.query.as_deref(), Some("v=1&key=k%26ey+42"));
    // The service echoed both: the output shows neither.
    assert!(
        response.output.contains("[redacted]"),
        "{}",
        response.output
    );
    for secret in [token, key, "tok-3f9a%2F77%2Bsecret", "k%26ey+42"] {
        assert!(
            !response.output.contains(secret),
            "{secret} leaked: {}",
            response.output
        );
    }
    let mut seen = String::new();
    while let Ok(event) = events.try_recv() {
        seen.push_str(&serde_json::to_string(&event).expect("event json"));
    }
    assert!(seen.contains("whoami"), "the events were seen: {seen}");
    assert!(
        !seen.contains("tok-3f9a") && !seen.contains("k&ey"),
        "a secret in an event: {seen}"
    );
    let schema = serde_json::to_string(&executor.tool_infos()).expect("json");
    assert!(!schema.contains("tok-3f9a"));
    assert!(!format!("{credentials:?}").contains("tok-3f9a"));
}

#[tokio::test]
async fn a_failing_status_a_big_body_and_a_private_address_give_clear_results() {
    let (service, url, _task) = service().await;
    let closed_url = url.replace("127.0.0.1", "localhost");
    let yaml = format!(
        "{}maxResponseBytes: 1000
---
kind: source
name: guarded
type: http
baseUrl: {url}/api
---
kind: source
name: guarded-by-name
type: http
baseUrl: {closed_url}/api
---
kind: tool
name: fail
type: http
source: api
method: GET
path: /fail
description: Fails.
---
kind: tool
name: big
type: http
source: api
method: GET
path: /big
description: A big body.
---
kind: tool
name: inside
type: http
source: guarded
method: GET
path: /x
description: An address on loopback, not allowed.
---
kind: tool
name: inside_by_name
type: http
source: guarded-by-name
method: GET
path: /x
description: A name resolving to loopback, not allowed.
",
        source(&url)
    );
    let (_dir, executor) = executor_with(&yaml, &Credentials::default());
    let failed = call(&executor, "fail", json!({})).await;
    assert!(failed.is_error);
    assert_eq!(failed.error, "HTTP 503 Service Unavailable");
    assert!(
        failed
            .output
            .starts_with("Error: HTTP 503 Service Unavailable: overloaded: try later"),
        "{}",
        failed.output
    );
    assert!(
        failed.output.len() < 700,
        "only the head of the body: {}",
        failed.output.len()
    );
    assert_eq!(failed.metadata["status"], json!(503));

    let big = call(&executor, "big", json!({})).await;
    assert!(!big.is_error);
    assert_eq!(big.metadata["truncated"], json!(true));
    assert!(
        big.output.starts_with(&"y".repeat(1000))
            && big.output.contains("[response truncated at 1000 bytes]")
    );

    let before = service.received.lock().expect("lock").len();
    for tool in ["inside", "inside_by_name"] {
        let refused = call(&executor, tool, json!({})).await;
        assert!(refused.is_error, "{tool}: {refused:?}");
        assert!(
            refused.output.contains("allowPrivateNetwork: true"),
            "{tool}: {}",
            refused.output
        );
    }
    assert_eq!(
        service.received.lock().expect("lock").len(),
        before,
        "no request reached the service"
    );
}

#[tokio::test]
async fn command_tools_take_parameters_as_argv_never_through_a_shell() {
    let yaml = r#"kind: tool
name: show
type: command
description: Prints its arguments.
command: [printf, "%s|%s|%s", "{{.a}}", "{{.b}}", "${HOME:-none}"]
parameters:
  - {name: a, type: string}
  - {name: b, type: string, default: "$(id)"}
env: {GREETING: "hello {{.a}}"}
---
kind: tool
name: greet
type: command
description: Prints an environment variable.
command: [sh, -c, 'printf "%s" "$GREETING"']
parameters:
  - {name: a, type: string}
env: {GREETING: "hello {{.a}}"}
"#;
    let (dir, executor) = executor_with(yaml, &Credentials::default());
    let shown = call(&executor, "show", json!({"a": "x; touch pwned"})).await;
    assert!(!shown.is_error, "{shown:?}");
    let home = std::env::var("HOME").unwrap_or_else(|_| "none".into());
    assert_eq!(shown.output, format!("x; touch pwned|$(id)|{home}"));
    assert!(
        !dir.path().join("pwned").exists(),
        "no shell ran the parameter"
    );
    let greeted = call(&executor, "greet", json!({"a": "world"})).await;
    assert_eq!(greeted.output, "hello world");
}

#[tokio::test]
async fn the_permission_is_the_tools_name_with_its_inputs_as_patterns() {
    let yaml = "kind: tool\nname: show\ntype: command\ndescription: Echo.\ncommand: [echo, '{{.who}}']\nparameters: [{name: who, type: string}]\n";
    let (dir, executor) = executor_with(yaml, &Credentials::default());
    executor.shared().permissions.set_rules(Vec::new());
    let asked = executor
        .execute(ToolRequest::new("show", json!({"who": "Ann"})))
        .await
        .expect_err("no rule decides");
    let CallError::PermissionNeeded(needed) = asked else {
        panic!("expected a permission ask, got {asked:?}");
    };
    assert_eq!(needed.permission, "show");
    assert_eq!(needed.patterns, ["who=Ann"]);
    executor.shared().permissions.set_rules(vec![
        PermissionRule::new("show", "*", Action::Allow),
        PermissionRule::new("show", "who=Bob*", Action::Deny),
    ]);
    let denied = call(&executor, "show", json!({"who": "Bobby"})).await;
    assert!(denied.denied, "{denied:?}");
    let allowed = call(&executor, "show", json!({"who": "Ann"})).await;
    assert_eq!(allowed.output.trim(), "Ann");
    drop(dir);
}

fn write(path: &std::path::Path, text: &str) {
    // Replaced by rename, as editors do.
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write");
    std::fs::rename(&temp, path).expect("rename");
}

const SLOW: &str = "kind: tool\nname: slow\ntype: command\ndescription: Waits for the file go.\ncommand: [sh, -c, 'until [ -e go ]; do sleep 0.01; done; echo finished']\n";
const HELLO: &str =
    "kind: tool\nname: hello\ntype: command\ndescription: Says hello.\ncommand: [echo, hello]\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_swaps_the_tools_keeps_calls_in_flight_and_refuses_a_bad_file() {
    let files = tempfile::tempdir().expect("tempdir");
    let path = files.path().join("tools.yaml");
    write(&path, SLOW);
    let workdir = tempfile::tempdir().expect("workdir");
    let config = Arc::new(ToolsConfig::default());
    let executor =
        Arc::new(toolwire::tools::executor(workdir.path(), (*config).clone()).expect("executor"));
    executor
        .shared()
        .permissions
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)]);
    let (_watcher, mut reloads) = watch(
        &path,
        executor.clone(),
        config,
        Credentials::default(),
        None,
    )
    .expect("first load");
    assert_eq!(
        *reloads.borrow(),
        Reload::Loaded {
            generation: 1,
            tools: 1
        }
    );

    // A call of `slow` is running ...
    let mut events = executor.shared().bus.subscribe();
    let running = {
        let executor = executor.clone();
        tokio::spawn(async move { executor.execute(ToolRequest::new("slow", json!({}))).await })
    };
    common::within(Duration::from_secs(10), "slow to start", async {
        while !matches!(events.recv().await, Ok(BusEvent::ToolStarted { .. })) {}
    })
    .await;
    // ... when the file changes to a set without it.
    write(&path, HELLO);
    common::within(
        Duration::from_secs(10),
        "the reload",
        reloads.wait_for(|r| matches!(r, Reload::Loaded { generation: 2, .. })),
    )
    .await
    .expect("watching");
    let names: Vec<String> = executor.tool_infos().into_iter().map(|t| t.name).collect();
    assert!(
        names.contains(&"hello".to_owned()) && !names.contains(&"slow".to_owned()),
        "{names:?}"
    );
    std::fs::write(workdir.path().join("go"), "").expect("go");
    let finished = common::within(Duration::from_secs(10), "the call in flight", running)
        .await
        .expect("joined")
        .expect("a response");
    assert_eq!(
        finished.output.trim(),
        "finished",
        "the call in flight finished on the old definition"
    );
    let gone = executor
        .execute(ToolRequest::new("slow", json!({})))
        .await
        .expect("response");
    assert!(
        gone.is_error && gone.output.contains("unknown tool"),
        "{gone:?}"
    );

    // A bad file is refused; the tools of the last good one stay.
    write(
        &path,
        "kind: tool\nname: hello\ntype: command\ndescription: x\ncommand: [echo]\nbogus: 1\n",
    );
    let refused = common::within(
        Duration::from_secs(10),
        "the refusal",
        reloads.wait_for(|r| matches!(r, Reload::Refused { generation: 3, .. })),
    )
    .await
    .expect("watching")
    .clone();
    let Reload::Refused { error, .. } = refused else {
        unreachable!()
    };
    assert!(
        error.contains("document 1") && error.contains("`bogus`"),
        "{error}"
    );
    let hello = executor
        .execute(ToolRequest::new("hello", json!({})))
        .await
        .expect("response");
    assert_eq!(hello.output.trim(), "hello");
}

#[test]
fn a_bad_file_is_refused_naming_the_document_and_the_field() {
    let cases: [(&str, &str); 12] = [
        (
            "kind: mcpServer\nname: 'no dots.here'\ncommand: [python3, s.py]\n",
            "document 1: field `name`: an MCP server's name is letters, digits",
        ),
        (
            "kind: mcpServer\nname: notes\ncommand: []\n",
            "document 1: field `command`: the program to run is missing",
        ),
        (
            "kind: mcpServer\nname: notes\ncommand: [a]\n---\nkind: mcpServer\nname: notes\ncommand: [b]\n",
            "document 2: field `name`: a second MCP server named `notes`",
        ),
        (
            "kind: tool\nname: t\ntype: command\ndescription: d\ncommand: [echo]\ncolour: red\n",
            "document 1: field `colour`: unknown field `colour`",
        ),
        (
            "kind: source\nname: s\ntype: http\nbaseUrl: http://x\n---\nkind: tool\nname: t\ntype: http\nsource: s\nmethod: GET\npath: /\ndescription: d\nqueryParams: [{name: q, type: text}]\n",
            "document 2: field `queryParams[0].type`: unknown variant `text`",
        ),
        (
            "kind: tool\nname: t\ntype: http\nsource: nowhere\nmethod: GET\npath: /\ndescription: d\n",
            "document 1: field `source`: no source named `nowhere`",
        ),
        (
            "kind: tool\nname: t\ntype: command\ndescription: d\ncommand: [echo, '{{.x | printf}}']\nparameters: [{name: x, type: string}]\n",
            "field `command[1]`: unsupported template",
        ),
        (
            "kind: tool\nname: t\ntype: command\ndescription: d\ncommand: [echo, '{{.y}}']\nparameters: [{name: x, type: string}]\n",
            "names `y`, which is not a parameter here",
        ),
        (
            "kind: widget\nname: w\n",
            "document 1: field `kind`: unknown kind `widget`",
        ),
        (
            "kind: toolset\nname: s\ntools: [ghost]\n",
            "document 1: field `tools[0]`: no tool named `ghost`",
        ),
        (
            "kind: source\nname: s\ntype: http\nbaseUrl: ${TOOLWIRE_TEST_UNSET_VARIABLE}\n",
            "document 1: the environment variable TOOLWIRE_TEST_UNSET_VARIABLE is not set",
        ),
        (
            "kind: tool\nname: t\ntype: command\ndescription: d\ncommand: [echo]\nparameters: [{name: n, type: integer, default: x}]\n",
            "field `parameters[0]`: default \"x\" is not a integer",
        ),
    ];
    for (yaml, expected) in cases {
        let error = ToolsFile::parse(yaml, "bad.yaml")
            .expect_err(expected)
            .to_string();
        assert!(error.starts_with("bad.yaml: "), "{error}");
        assert!(
            error.contains(expected),
            "expected {expected:?} in {error:?}"
        );
    }
}

#[test]
fn mcp_servers_are_read_in_order_with_their_argv() {
    let file = ToolsFile::parse(
        "kind: mcpServer\nname: notes\ncommand: [python3, /opt/notes.py, --quiet]\n---\nkind: mcpServer\nname: gh\ncommand: [/opt/gh, stdio]\n",
        "servers.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let servers: Vec<(&str, Vec<&str>)> = file
        .mcp_servers()
        .iter()
        .map(|s| (s.name.as_str(), s.argv.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        servers,
        [
            ("notes", vec!["python3", "/opt/notes.py", "--quiet"]),
            ("gh", vec!["/opt/gh", "stdio"])
        ]
    );
    assert!(file.tool_infos().is_empty());
}

#[test]
fn the_example_file_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tools.yaml");
    let file = ToolsFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = file.tool_infos().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["forecast", "create_ticket", "count_lines"]);
    let weather: Vec<String> = file
        .select(Some("weather"))
        .expect("toolset")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(weather, ["forecast", "create_ticket"]);
    assert!(file.select(Some("nope")).is_err());
}
