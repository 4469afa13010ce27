//! The bash permission corpus (tests/data/bash_corpus.toml): every command
//! through the analysis (patterns and decision), then through a real
//! `toolwire-server` process, where nothing refused may run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use toolwire::bus::{Decision, PermissionManager};
use toolwire::tools::bash::permission_requests;
use toolwire::{
    Action, CallError, Endpoint, Executor, Peer, PeerConfig, PermissionRule, RemoteExecutor,
    ToolRequest, WsConfig,
};

const TOKEN: &str = "corpus-token-5d1e8a7c3b9f";

#[derive(Deserialize)]
struct Corpus {
    rules: Vec<[String; 3]>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    command: String,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    opaque: Vec<String>,
    #[serde(default)]
    outside: Vec<String>,
    #[serde(default)]
    outside_opaque: Vec<String>,
    decision: String,
}

/// A workdir and an outside directory side by side, canonical.
struct Dirs {
    _root: tempfile::TempDir,
    base: PathBuf,
    work: PathBuf,
    outside: PathBuf,
}

impl Dirs {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let base = root.path().canonicalize().expect("canonical");
        let work = base.join("work");
        let outside = base.join("outside");
        std::fs::create_dir_all(work.join("sub")).expect("mkdir work/sub");
        std::fs::create_dir_all(&outside).expect("mkdir outside");
        for name in ["okfile", "a", "f", "okin.txt"] {
            std::fs::write(work.join(name), "x\n").expect("seed file");
        }
        Self {
            _root: root,
            base,
            work,
            outside,
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{outside}", &self.outside.display().to_string())
            .replace("{workdir}/..", &self.base.display().to_string())
            .replace("{workdir}", &self.work.display().to_string())
    }

    /// The marker files a refused command would have left.
    fn markers(&self) -> Vec<PathBuf> {
        [
            self.work.join("pwned"),
            self.work.join("sub/pwned"),
            self.outside.join("pwned"),
            self.base.join("pwned"),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
    }
}

fn corpus() -> Corpus {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bash_corpus.toml");
    let text = std::fs::read_to_string(&path).expect("read the corpus");
    toml::from_str(&text).expect("the corpus is valid TOML")
}

fn rules(corpus: &Corpus) -> Vec<PermissionRule> {
    corpus
        .rules
        .iter()
        .map(|[permission, pattern, action]| {
            let action = match action.as_str() {
                "allow" => Action::Allow,
                "deny" => Action::Deny,
                _ => Action::Ask,
            };
            PermissionRule::new(permission, pattern, action)
        })
        .collect()
}

/// The decision the server reaches: requests in order, the first that is
/// not allowed decides.
fn decide(manager: &PermissionManager, workdir: &Path, command: &str) -> &'static str {
    for request in permission_requests(workdir, command) {
        match manager.decide(&request) {
            Decision::Allow => {}
            Decision::Deny { .. } => return "deny",
            Decision::Ask { .. } => return "ask",
        }
    }
    "allow"
}

fn assert_none_differ(wrong: &[String], total: usize) {
    assert!(
        wrong.is_empty(),
        "{} of {total} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_corpus_is_large_enough_and_covers_every_decision() {
    let corpus = corpus();
    assert!(corpus.case.len() >= 150, "{} cases", corpus.case.len());
    for decision in ["allow", "ask", "deny"] {
        assert!(
            corpus
                .case
                .iter()
                .filter(|c| c.decision == decision)
                .count()
                >= 10,
            "at least 10 cases decide {decision}"
        );
    }
}

#[test]
fn every_case_through_the_analysis() {
    let corpus = corpus();
    let dirs = Dirs::new();
    let manager = PermissionManager::new();
    manager.set_rules(rules(&corpus));
    let mut wrong = Vec::new();
    for case in &corpus.case {
        let command = dirs.fill(&case.command);
        let requests = permission_requests(&dirs.work, &command);
        let of = |permission: &str| requests.iter().find(|r| r.permission == permission);
        let fill = |list: &[String]| list.iter().map(|p| dirs.fill(p)).collect::<Vec<_>>();
        let got = (
            of("bash").map(|r| r.patterns.clone()).unwrap_or_default(),
            of("bash").map(|r| r.opaque.clone()).unwrap_or_default(),
            of("external_directory")
                .map(|r| r.patterns.clone())
                .unwrap_or_default(),
            of("external_directory")
                .map(|r| r.opaque.clone())
                .unwrap_or_default(),
            decide(&manager, &dirs.work, &command),
        );
        let want = (
            fill(&case.patterns),
            fill(&case.opaque),
            fill(&case.outside),
            fill(&case.outside_opaque),
            case.decision.as_str(),
        );
        if got != want {
            wrong.push(format!("{command:?}\n   got {got:?}\n  want {want:?}"));
        }
    }
    assert_none_differ(&wrong, corpus.case.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_through_a_real_server_and_nothing_refused_runs() {
    let corpus = corpus();
    let dirs = Dirs::new();
    let token_file = dirs.base.join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let server = common::binary::start_server_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--workdir",
        dirs.work.to_str().expect("utf-8 path"),
        "--token-file",
        token_file.to_str().expect("utf-8 path"),
    ]);
    let addr = server.ready.clone();
    let peer = Peer::connect(
        &Endpoint::Url(format!("ws://{addr}/ws")),
        Some(TOKEN),
        &WsConfig::default(),
        PeerConfig::default(),
    )
    .await
    .expect("connect");
    let executor = RemoteExecutor::new(Arc::new(peer));
    executor.set_rules(rules(&corpus)).await.expect("set rules");

    let mut wrong = Vec::new();
    for case in &corpus.case {
        let command = dirs.fill(&case.command);
        let request = ToolRequest::new("bash", json!({"command": command, "timeout_ms": 10000}));
        let got = match common::within(Duration::from_secs(30), &command, executor.execute(request))
            .await
        {
            Ok(response) if response.denied => "deny",
            Ok(_) => "allow",
            Err(CallError::PermissionNeeded(_)) => "ask",
            Err(other) => panic!("{command:?}: {other}"),
        };
        let markers = dirs.markers();
        if got != case.decision || !markers.is_empty() {
            wrong.push(format!(
                "{command:?}: got {got}, want {}; markers left: {markers:?}",
                case.decision
            ));
        }
        for marker in markers {
            let _ = std::fs::remove_file(marker);
        }
    }
    assert_none_differ(&wrong, corpus.case.len());
}
