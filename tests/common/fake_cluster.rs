//! A fake Kubernetes API server for the launcher's tests, where no cluster
//! can run: kube's mock service (tower-test) receives every request the
//! launcher makes, records it, and answers as the API server would. Its
//! "kubelet" runs each created Pod as the real `toolwire-server` binary,
//! listening on the Pod's own loopback IP (127.77.0.N:7000), with the
//! token from the Pod's Secret; its exit becomes the Pod's status. The
//! port-forward is real too: the mock hands the upgrade request to a
//! loopback HTTP server that speaks the `v4.channel.k8s.io` port-forward
//! protocol and relays to the Pod's port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

/// The response body of the mock service.
pub type BoxBody =
    http_body_util::combinators::BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// What the fake kubelet does with a new Pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kubelet {
    /// Runs it: the real server, Ready once it listens.
    Run,
    /// The image cannot be pulled (`ErrImagePull`, with an event).
    PullFails,
    /// No node fits it (`PodScheduled: False, Unschedulable`).
    Unschedulable,
}

/// One request the launcher made.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, `DELETE`, ...
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The JSON body, when there was one.
    pub body: Option<Value>,
}

impl Recorded {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

struct PodEntry {
    object: Value,
    ip: String,
    /// Kills the server (the reason to report, the exit code).
    kill: Option<mpsc::UnboundedSender<(String, i32)>>,
    _dir: Option<tempfile::TempDir>,
    log: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct State {
    pods: HashMap<String, PodEntry>,
    secrets: HashMap<String, Value>,
    policies: HashMap<String, Value>,
    events: HashMap<String, Vec<Value>>,
    watchers: Vec<(String, mpsc::UnboundedSender<Value>)>,
    requests: Vec<Recorded>,
    version: u64,
    /// Bumped on every change, for tests that wait on one.
    changes: Option<tokio::sync::watch::Sender<u64>>,
}

impl State {
    fn bump(&mut self, name: &str) -> Option<Value> {
        self.version += 1;
        let version = self.version.to_string();
        let entry = self.pods.get_mut(name)?;
        entry.object["metadata"]["resourceVersion"] = json!(version);
        Some(entry.object.clone())
    }

    fn notify(&mut self, name: &str, kind: &str, object: Value) {
        let event = json!({ "type": kind, "object": object });
        self.watchers
            .retain(|(watched, tx)| watched != name || tx.send(event.clone()).is_ok());
    }

    fn changed(&self) {
        if let Some(changes) = &self.changes {
            changes.send_modify(|n| *n += 1);
        }
    }

    fn set_status(&mut self, name: &str, status: Value) {
        if let Some(entry) = self.pods.get_mut(name) {
            entry.object["status"] = status;
        }
        if let Some(object) = self.bump(name) {
            self.notify(name, "MODIFIED", object);
        }
        self.changed();
    }
}

/// The fake API server; dropping it stops the Pods' servers.
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
    down: CancellationToken,
    kubelet: Kubelet,
    forward_addr: SocketAddr,
    _forward: tokio::task::JoinHandle<()>,
    _api: tokio::task::JoinHandle<()>,
}

static NEXT_IP: AtomicU32 = AtomicU32::new(1);

impl FakeCluster {
    /// Starts the fake with `kubelet`'s behaviour; the client's default
    /// namespace is `agents`.
    pub async fn start(kubelet: Kubelet) -> (kube::Client, Self) {
        let (service, mut handle) =
            tower_test::mock::pair::<Request<kube::client::Body>, Response<BoxBody>>();
        let state = Arc::new(Mutex::new(State {
            changes: Some(tokio::sync::watch::Sender::new(0)),
            ..State::default()
        }));
        let down = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake cluster");
        let forward_addr = listener.local_addr().expect("fake cluster");
        let forward = tokio::spawn(serve_port_forward(listener, state.clone(), down.clone()));
        let api = {
            let (state, down) = (state.clone(), down.clone());
            tokio::spawn(async move {
                while let Some((request, send)) = handle.next_request().await {
                    if down.is_cancelled() {
                        // The API server is gone: the request fails.
                        drop(send);
                        continue;
                    }
                    let (state, down) = (state.clone(), down.clone());
                    tokio::spawn(async move {
                        let response = answer(&state, request, kubelet, forward_addr, down).await;
                        send.send_response(response);
                        state.lock().expect("fake cluster").changed();
                    });
                }
            })
        };
        let client = kube::Client::new(service, "agents");
        (
            client,
            Self {
                state,
                down,
                kubelet,
                forward_addr,
                _forward: forward,
                _api: api,
            },
        )
    }

    /// Waits (on the fake's changes, no polling) until `done` holds, at most `limit`.
    pub async fn wait_until(
        &self,
        what: &str,
        limit: std::time::Duration,
        done: impl Fn(&Self) -> bool,
    ) {
        let mut changes = self
            .state
            .lock()
            .expect("fake cluster")
            .changes
            .as_ref()
            .expect("fake cluster")
            .subscribe();
        super::within(limit, what, async {
            while !done(self) {
                changes.changed().await.expect("fake cluster");
            }
        })
        .await;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("fake cluster").requests.clone()
    }

    /// The Pods that exist now.
    pub fn pod_names(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("fake cluster")
            .pods
            .keys()
            .cloned()
            .collect()
    }

    /// The Secrets that exist now.
    pub fn secret_names(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("fake cluster")
            .secrets
            .keys()
            .cloned()
            .collect()
    }

    /// The NetworkPolicies that exist now.
    pub fn policy_names(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("fake cluster")
            .policies
            .keys()
            .cloned()
            .collect()
    }

    /// Kills Pod `name`'s server with SIGKILL and reports it as ended for
    /// `reason` with `exit_code` (`OOMKilled`, 137: what the kernel's OOM
    /// killer does to a container).
    pub fn kill_server(&self, name: &str, reason: &str, exit_code: i32) {
        let state = self.state.lock().expect("fake cluster");
        let kill = state.pods[name].kill.as_ref().expect("a running server");
        kill.send((reason.to_owned(), exit_code))
            .expect("fake cluster");
    }

    /// Adds a Pod as another process left it: annotated with `owner`.
    pub fn add_pod(&self, name: &str, owner: &str) {
        let mut state = self.state.lock().expect("fake cluster");
        let object = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": "agents",
                "labels": { "toolwire.managed": "true" },
                "annotations": { "toolwire.dev/owner": owner, "toolwire.dev/session": "old" },
            },
            "status": { "phase": "Running" },
        });
        state.pods.insert(
            name.to_owned(),
            PodEntry {
                object,
                ip: String::new(),
                kill: None,
                _dir: None,
                log: None,
            },
        );
        state
            .secrets
            .insert(name.to_owned(), json!({ "metadata": { "name": name } }));
    }

    /// The API server goes away: every later request fails, every
    /// port-forward connection is cut.
    pub fn stop_api(&self) {
        self.down.cancel();
        self.state.lock().expect("fake cluster").watchers.clear();
    }

    /// Serves this fake API over real HTTP on loopback too, and writes a
    /// kubeconfig for it (default namespace `agents`) into `dir`; returns
    /// the kubeconfig's path.
    pub async fn serve_http(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let (state, kubelet, forward_addr) = (self.state.clone(), self.kubelet, self.forward_addr);
        let down = self.down.clone();
        let handler = move |request| {
            let (state, down) = (state.clone(), down.clone());
            async move {
                let response = answer(&state, request, kubelet, forward_addr, down).await;
                state.lock().expect("fake cluster").changed();
                response
            }
        };
        let addr = super::http_api::serve(handler, forward_addr, self.down.clone()).await;
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\nusers:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: agents\ncurrent-context: fake\n"
            ),
        )
        .expect("write the kubeconfig");
        path
    }

    /// The kubelet behaviour it was started with.
    pub fn kubelet(&self) -> Kubelet {
        self.kubelet
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        let state = self.state.lock().expect("fake cluster");
        for entry in state.pods.values() {
            if let Some(kill) = &entry.kill {
                let _ = kill.send(("Error".into(), 137));
            }
        }
    }
}

fn full(status: StatusCode, body: Value) -> Response<BoxBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body.to_string()))
                .map_err(Into::into)
                .boxed(),
        )
        .expect("fake cluster")
}

fn not_found(what: &str, name: &str) -> Response<BoxBody> {
    full(
        StatusCode::NOT_FOUND,
        json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": format!("{what} \"{name}\" not found"), "reason": "NotFound", "code": 404 }),
    )
}

fn query_param(uri: &http::Uri, key: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn answer(
    state: &Arc<Mutex<State>>,
    request: Request<kube::client::Body>,
    kubelet: Kubelet,
    forward_addr: SocketAddr,
    down: CancellationToken,
) -> Response<BoxBody> {
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let uri = parts.uri.clone();
    state.lock().expect("fake cluster").requests.push(Recorded {
        method: parts.method.to_string(),
        uri: uri.to_string(),
        body: body.clone(),
    });
    let path: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    // /api/v1/namespaces/NS/KIND[/NAME[/SUB]] or /apis/GROUP/VERSION/namespaces/NS/KIND[/NAME]
    let rest: &[&str] = match path.as_slice() {
        ["api", "v1", "namespaces", _, rest @ ..] => rest,
        ["apis", _, _, "namespaces", _, rest @ ..] => rest,
        _ => return not_found("path", uri.path()),
    };
    match (&parts.method, rest) {
        (&Method::POST, ["secrets"]) => {
            let secret = body.expect("fake cluster");
            let name = secret["metadata"]["name"]
                .as_str()
                .expect("fake cluster")
                .to_owned();
            state
                .lock()
                .expect("fake cluster")
                .secrets
                .insert(name, secret.clone());
            full(StatusCode::CREATED, secret)
        }
        (&Method::POST, ["networkpolicies"]) => {
            let policy = body.expect("fake cluster");
            let name = policy["metadata"]["name"]
                .as_str()
                .expect("fake cluster")
                .to_owned();
            state
                .lock()
                .expect("fake cluster")
                .policies
                .insert(name, policy.clone());
            full(StatusCode::CREATED, policy)
        }
        (&Method::POST, ["pods"]) => {
            let pod = body.expect("fake cluster");
            let name = pod["metadata"]["name"]
                .as_str()
                .expect("fake cluster")
                .to_owned();
            create_pod(state, &name, pod.clone(), kubelet);
            full(StatusCode::CREATED, pod)
        }
        (&Method::GET, ["pods"]) if query_param(&uri, "watch").as_deref() == Some("true") => {
            let selector = query_param(&uri, "fieldSelector").unwrap_or_default();
            let name = selector.trim_start_matches("metadata.name=").to_owned();
            let (tx, rx) = mpsc::unbounded_channel::<Value>();
            let since: u64 = query_param(&uri, "resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut state = state.lock().expect("fake cluster");
            // As the API server does: what changed after the version asked for comes first.
            if let Some(entry) = state.pods.get(&name) {
                let version: u64 = entry.object["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if version > since {
                    let _ = tx.send(json!({ "type": "MODIFIED", "object": entry.object }));
                }
            }
            state.watchers.push((name, tx));
            drop(state);
            let lines = tokio_stream_of(rx, down).map(|event| {
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(Bytes::from(
                    format!("{event}\n"),
                )))
            });
            Response::builder()
                .status(StatusCode::OK)
                .body(BodyExt::boxed(StreamBody::new(lines)))
                .expect("fake cluster")
        }
        (&Method::GET, ["pods"]) => {
            let state = state.lock().expect("fake cluster");
            let items: Vec<Value> = state.pods.values().map(|p| p.object.clone()).collect();
            full(
                StatusCode::OK,
                json!({ "apiVersion": "v1", "kind": "PodList",
                        "metadata": { "resourceVersion": state.version.to_string() }, "items": items }),
            )
        }
        (&Method::GET, ["pods", name]) => match state.lock().expect("fake cluster").pods.get(*name)
        {
            Some(entry) => full(StatusCode::OK, entry.object.clone()),
            None => not_found("pods", name),
        },
        (&Method::GET, ["pods", name, "log"]) => {
            let log = state
                .lock()
                .expect("fake cluster")
                .pods
                .get(*name)
                .and_then(|p| p.log.clone());
            let text = match log {
                Some(path) => {
                    let all = std::fs::read_to_string(path).unwrap_or_default();
                    let lines: Vec<&str> = all.lines().collect();
                    let tail = query_param(&uri, "tailLines")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(lines.len());
                    lines[lines.len().saturating_sub(tail)..].join("\n")
                }
                None => String::new(),
            };
            Response::builder()
                .status(StatusCode::OK)
                .body(Full::new(Bytes::from(text)).map_err(Into::into).boxed())
                .expect("fake cluster")
        }
        (&Method::GET, ["pods", _, "portforward"]) => forward_upgrade(parts, forward_addr).await,
        (&Method::GET, ["events"]) => {
            let selector = query_param(&uri, "fieldSelector").unwrap_or_default();
            let name = selector.trim_start_matches("involvedObject.name=");
            let items = state
                .lock()
                .expect("fake cluster")
                .events
                .get(name)
                .cloned()
                .unwrap_or_default();
            full(
                StatusCode::OK,
                json!({ "apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": items }),
            )
        }
        (&Method::DELETE, ["pods", name]) => {
            let mut state = state.lock().expect("fake cluster");
            match state.pods.remove(*name) {
                Some(entry) => {
                    if let Some(kill) = &entry.kill {
                        let _ = kill.send(("Deleted".into(), 143));
                    }
                    state.notify(name, "DELETED", entry.object.clone());
                    full(StatusCode::OK, entry.object)
                }
                None => not_found("pods", name),
            }
        }
        (&Method::DELETE, ["secrets", name]) => {
            match state.lock().expect("fake cluster").secrets.remove(*name) {
                Some(secret) => full(StatusCode::OK, secret),
                None => not_found("secrets", name),
            }
        }
        (&Method::DELETE, ["networkpolicies", name]) => {
            match state.lock().expect("fake cluster").policies.remove(*name) {
                Some(policy) => full(StatusCode::OK, policy),
                None => not_found("networkpolicies", name),
            }
        }
        _ => not_found("path", uri.path()),
    }
}

/// The watch events until the channel closes or the API server goes away.
fn tokio_stream_of(
    rx: mpsc::UnboundedReceiver<Value>,
    down: CancellationToken,
) -> impl futures::Stream<Item = Value> + Send + 'static {
    futures::stream::unfold((rx, down), |(mut rx, down)| async move {
        let next = tokio::select! {
            v = rx.recv() => v,
            () = down.cancelled() => None,
        };
        next.map(|v| (v, (rx, down)))
    })
}

fn create_pod(state: &Arc<Mutex<State>>, name: &str, mut pod: Value, kubelet: Kubelet) {
    let n = NEXT_IP.fetch_add(1, Ordering::SeqCst);
    let ip = format!("127.77.{}.{}", n / 250, n % 250 + 1);
    pod["status"] = json!({ "phase": "Pending" });
    {
        let mut s = state.lock().expect("fake cluster");
        s.pods.insert(
            name.to_owned(),
            PodEntry {
                object: pod.clone(),
                ip: ip.clone(),
                kill: None,
                _dir: None,
                log: None,
            },
        );
        s.bump(name);
    }
    let state = state.clone();
    let name = name.to_owned();
    tokio::spawn(async move {
        match kubelet {
            Kubelet::PullFails => {
                let mut s = state.lock().expect("fake cluster");
                s.events.insert(
                    name.clone(),
                    vec![json!({
                        "metadata": { "name": format!("{name}.1") },
                        "involvedObject": { "kind": "Pod", "name": name },
                        "type": "Warning", "reason": "Failed",
                        "message": "Failed to pull image \"toolwire-sandbox:missing\": not found",
                    })],
                );
                s.set_status(&name, json!({ "phase": "Pending", "containerStatuses": [{
                    "name": "server", "ready": false, "restartCount": 0, "image": "toolwire-sandbox:missing", "imageID": "",
                    "state": { "waiting": { "reason": "ErrImagePull",
                        "message": "rpc error: toolwire-sandbox:missing: not found" } },
                }]}));
            }
            Kubelet::Unschedulable => {
                state.lock().expect("fake cluster").set_status(
                    &name,
                    json!({ "phase": "Pending", "conditions": [{
                        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient memory.",
                    }]}),
                );
            }
            Kubelet::Run => run_pod(state, name, pod, ip).await,
        }
    });
}

/// Runs the Pod's server as the real binary, with the Pod's arguments
/// (paths moved into a temporary directory), on the Pod's IP.
async fn run_pod(state: Arc<Mutex<State>>, name: String, pod: Value, ip: String) {
    let dir = tempfile::tempdir().expect("fake cluster");
    let secret = state
        .lock()
        .expect("fake cluster")
        .secrets
        .get(&name)
        .cloned();
    let Some(secret) = secret else {
        state.lock().expect("fake cluster").set_status(&name, json!({ "phase": "Pending", "containerStatuses": [{
            "name": "server", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": { "waiting": { "reason": "CreateContainerConfigError", "message": "secret not found" } },
        }]}));
        return;
    };
    let decode = |key: &str| {
        secret["data"][key].as_str().map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("fake cluster")
        })
    };
    std::fs::write(
        dir.path().join("token"),
        decode("token").expect("fake cluster"),
    )
    .expect("fake cluster");
    if let Some(tools) = decode("tools.yaml") {
        std::fs::write(dir.path().join("tools.yaml"), tools).expect("fake cluster");
    }
    std::fs::create_dir(dir.path().join("workspace")).expect("fake cluster");
    let moved = |value: &str| -> String {
        match value {
            "0.0.0.0:7000" => format!("{ip}:7000"),
            "/workspace" => dir.path().join("workspace").display().to_string(),
            "/run/toolwire/token" => dir.path().join("token").display().to_string(),
            "/run/toolwire/tools.yaml" => dir.path().join("tools.yaml").display().to_string(),
            other => other.to_owned(),
        }
    };
    let args: Vec<String> = pod["spec"]["containers"][0]["args"]
        .as_array()
        .expect("fake cluster")
        .iter()
        .map(|a| moved(a.as_str().expect("fake cluster")))
        .collect();
    let log = dir.path().join("server.log");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolwire-server"))
        .args(&args)
        .arg("--bench-tools")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("fake cluster"))
        .kill_on_drop(true)
        .spawn()
        .expect("start toolwire-server");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("fake cluster")).lines();
    let ready = lines.next_line().await.ok().flatten().unwrap_or_default();
    // The kubelet's log holds stdout and stderr.
    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(&log) {
        use std::io::Write;
        let _ = writeln!(file, "{ready}");
    }
    let (kill_tx, mut kill_rx) = mpsc::unbounded_channel::<(String, i32)>();
    {
        let mut s = state.lock().expect("fake cluster");
        let Some(entry) = s.pods.get_mut(&name) else {
            return;
        };
        entry.kill = Some(kill_tx);
        entry.log = Some(log);
        entry._dir = Some(dir);
        if ready.starts_with("toolwire-server ready on ") {
            s.set_status(&name, json!({
                "phase": "Running", "podIP": ip,
                "conditions": [
                    { "type": "PodScheduled", "status": "True" },
                    { "type": "Ready", "status": "True" },
                ],
                "containerStatuses": [{
                    "name": "server", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                    "state": { "running": {} },
                }],
            }));
        }
    }
    let (reason, code) = tokio::select! {
        status = child.wait() => {
            let code = status.ok().and_then(|s| s.code()).unwrap_or(137);
            (if code == 0 { "Completed".to_owned() } else { "Error".to_owned() }, code)
        }
        Some((reason, code)) = kill_rx.recv() => {
            let _ = child.kill().await;
            (reason, code)
        }
    };
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    state.lock().expect("fake cluster").set_status(
        &name,
        json!({
            "phase": phase, "podIP": ip,
            "conditions": [{ "type": "Ready", "status": "False" }],
            "containerStatuses": [{
                "name": "server", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                "state": { "terminated": { "exitCode": code, "reason": reason } },
            }],
        }),
    );
}

/// Sends the launcher's upgrade request to the loopback port-forward server
/// over a real HTTP/1 connection, so the 101 it returns can be upgraded.
async fn forward_upgrade(
    parts: http::request::Parts,
    forward_addr: SocketAddr,
) -> Response<BoxBody> {
    let path = parts.uri.path_and_query().expect("fake cluster").as_str();
    super::http_api::send_upgrade(&parts.method, path, &parts.headers, forward_addr)
        .await
        .map(|body| body.map_err(Into::into).boxed())
}

/// The port-forward half of the API server: upgrades to the
/// `v4.channel.k8s.io` WebSocket and relays channel 0 to the Pod's port 7000.
async fn serve_port_forward(
    listener: tokio::net::TcpListener,
    state: Arc<Mutex<State>>,
    down: CancellationToken,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (state, down) = (state.clone(), down.clone());
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (state, down) = (state.clone(), down.clone());
                    async move {
                        let name = request
                            .uri()
                            .path()
                            .split('/')
                            .nth(6)
                            .unwrap_or_default()
                            .to_owned();
                        let ip = state
                            .lock()
                            .expect("fake cluster")
                            .pods
                            .get(&name)
                            .map(|p| p.ip.clone());
                        let key = request.headers().get("sec-websocket-key").cloned();
                        let (Some(ip), Some(key)) = (ip, key) else {
                            return Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(404)
                                    .body(http_body_util::Empty::<Bytes>::new())
                                    .expect("fake cluster"),
                            );
                        };
                        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(
                            key.as_bytes(),
                        );
                        tokio::spawn(async move {
                            if let Ok(upgraded) = hyper::upgrade::on(request).await {
                                relay(upgraded, format!("{ip}:7000"), down).await;
                            }
                        });
                        Ok(Response::builder()
                            .status(StatusCode::SWITCHING_PROTOCOLS)
                            .header("upgrade", "websocket")
                            .header("connection", "Upgrade")
                            .header("sec-websocket-accept", accept)
                            .header("sec-websocket-protocol", "v4.channel.k8s.io")
                            .body(http_body_util::Empty::<Bytes>::new())
                            .expect("fake cluster"))
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn relay(upgraded: hyper::upgrade::Upgraded, target: String, down: CancellationToken) {
    let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Server,
        None,
    )
    .await;
    let (mut to_client, mut from_client) = ws.split();
    let port = 7000u16.to_le_bytes();
    for channel in [0u8, 1] {
        if to_client
            .send(Message::binary(vec![channel, port[0], port[1]]))
            .await
            .is_err()
        {
            return;
        }
    }
    let Ok(tcp) = tokio::net::TcpStream::connect(&target).await else {
        let _ = to_client
            .send(Message::binary(
                [&[1u8][..], b"connection refused"].concat(),
            ))
            .await;
        return;
    };
    let (mut from_pod, mut to_pod) = tcp.into_split();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            message = from_client.next() => match message {
                Some(Ok(Message::Binary(data))) if data.first() == Some(&0) => {
                    if to_pod.write_all(&data[1..]).await.is_err() { break; }
                }
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => {}
                _ => break,
            },
            n = from_pod.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let frame = [&[0u8][..], &buf[..n]].concat();
                    if to_client.send(Message::binary(frame)).await.is_err() { break; }
                }
            },
            () = down.cancelled() => break,
        }
    }
    let _ = to_pod.shutdown().await;
    let _ = to_client.send(Message::Close(None)).await;
}
