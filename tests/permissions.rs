//! Permission rules and questions, in suspend and interactive modes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{TestServer, within};
use serde_json::json;
use toolwire::InteractiveHandler;
use toolwire::context::QuestionAnswer;
use toolwire::protocol::{BusEvent, PermissionAsk, PermissionReply, QuestionAsk};
use toolwire::server::ServerConfig;
use toolwire::{Action, CallError, PeerConfig, PermissionRule, ToolRequest};

const LIMIT: Duration = Duration::from_secs(10);

fn guarded(command: &str) -> ToolRequest {
    ToolRequest::new("guarded", json!({ "command": command }))
}

#[tokio::test]
async fn rules_allow_deny_and_suspend_with_the_tool_call_id() {
    let server = TestServer::start().await;
    let transport = server.connect().await;
    transport
        .set_rules(vec![
            PermissionRule::new("bash", "git *", Action::Allow),
            PermissionRule::new("bash", "git * push", Action::Deny),
        ])
        .await
        .expect("ack");

    let allowed = within(LIMIT, "allowed", transport.send(guarded("git status")))
        .await
        .expect("answer");
    assert_eq!(allowed.output, "ran git status");

    let denied = within(LIMIT, "denied", transport.send(guarded("git origin push")))
        .await
        .expect("answer");
    assert!(denied.denied, "{denied:?}");
    assert!(
        denied.denied_reason.contains("denied by a rule"),
        "{}",
        denied.denied_reason
    );

    let mut ask = guarded("rm -rf build");
    ask.tool_call_id = "call_42".into();
    match within(LIMIT, "suspended", transport.send(ask)).await {
        Err(CallError::PermissionNeeded(needed)) => {
            assert_eq!(needed.permission, "bash");
            assert_eq!(needed.patterns, ["rm -rf build"]);
            assert_eq!(needed.tool_call_id, "call_42");
        }
        other => panic!("expected permission_needed, got {other:?}"),
    }
}

/// Answers permission asks with a fixed reply and counts them.
struct Reply {
    reply: Option<PermissionReply>,
    asks: AtomicUsize,
    answers: Vec<Vec<String>>,
}

#[async_trait]
impl InteractiveHandler for Reply {
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply {
        self.asks.fetch_add(1, Ordering::SeqCst);
        assert_eq!(ask.permission, "bash");
        match self.reply {
            Some(reply) => reply,
            // Never answer: the server's ask timeout must end the call.
            None => std::future::pending().await,
        }
    }
    async fn questions(&self, ask: QuestionAsk) -> QuestionAnswer {
        self.asks.fetch_add(1, Ordering::SeqCst);
        assert!(!ask.questions.is_empty());
        QuestionAnswer::Answers(self.answers.clone())
    }
}

fn handler(reply: Option<PermissionReply>) -> Arc<Reply> {
    Arc::new(Reply {
        reply,
        asks: AtomicUsize::new(0),
        answers: vec![vec!["blue".into()]],
    })
}

#[tokio::test]
async fn an_interactive_client_is_asked_on_the_same_connection() {
    let server = TestServer::start().await;

    let once = handler(Some(PermissionReply::Once));
    let transport = server
        .connect_with(PeerConfig::default().interactive(once.clone()))
        .await;
    let response = within(LIMIT, "once", transport.send(guarded("ls")))
        .await
        .expect("answer");
    assert_eq!(response.output, "ran ls");
    assert_eq!(once.asks.load(Ordering::SeqCst), 1);
    transport.close().await;

    let reject = handler(Some(PermissionReply::Reject));
    let transport = server
        .connect_with(PeerConfig::default().interactive(reject.clone()))
        .await;
    let response = within(LIMIT, "reject", transport.send(guarded("ls")))
        .await
        .expect("answer");
    assert!(
        response.denied && response.denied_reason.contains("rejected"),
        "{response:?}"
    );
    transport.close().await;

    // "always" adds a rule for the subcommand (the arity table): the next
    // call of it is not asked again.
    let always = handler(Some(PermissionReply::Always));
    let transport = server
        .connect_with(PeerConfig::default().interactive(always.clone()))
        .await;
    let first = within(LIMIT, "always", transport.send(guarded("cargo build")))
        .await
        .expect("answer");
    assert_eq!(first.output, "ran cargo build");
    let second = within(
        LIMIT,
        "covered by the new rule",
        transport.send(guarded("cargo build --release")),
    )
    .await
    .expect("answer");
    assert_eq!(second.output, "ran cargo build --release");
    assert_eq!(always.asks.load(Ordering::SeqCst), 1);
    assert!(
        server
            .shared
            .permissions
            .rules()
            .contains(&PermissionRule::new("bash", "cargo build *", Action::Allow)),
        "{:?}",
        server.shared.permissions.rules()
    );
}

#[tokio::test]
async fn an_unanswered_interactive_ask_times_out_as_denied() {
    let server =
        TestServer::start_with(ServerConfig::default().ask_timeout(Duration::from_millis(200)))
            .await;
    let silent = handler(None);
    let transport = server
        .connect_with(PeerConfig::default().interactive(silent))
        .await;
    let response = within(LIMIT, "timeout", transport.send(guarded("make")))
        .await
        .expect("answer");
    assert!(response.denied, "{response:?}");
    assert!(
        response.denied_reason.contains("not answered in time"),
        "{}",
        response.denied_reason
    );
}

fn question_request() -> ToolRequest {
    ToolRequest::new(
        "question",
        json!({"questions": [{"question": "Which colour?", "header": "Colour",
            "options": [{"label": "red", "description": ""}, {"label": "blue", "description": ""}]}]}),
    )
}

#[tokio::test]
async fn questions_use_preloaded_answers_first_then_suspend() {
    let server = TestServer::start().await;
    let transport = server.connect().await;
    transport
        .push_answers(vec![vec!["red".into()]])
        .await
        .expect("ack");
    let answered = within(LIMIT, "answered", transport.send(question_request()))
        .await
        .expect("answer");
    assert!(
        answered.output.contains("\"Which colour?\" = \"red\""),
        "{}",
        answered.output
    );

    let mut request = question_request();
    request.tool_call_id = "call_q".into();
    match within(LIMIT, "suspended", transport.send(request)).await {
        Err(CallError::QuestionNeeded(needed)) => {
            assert_eq!(needed.tool_call_id, "call_q");
            assert_eq!(needed.questions[0].question, "Which colour?");
            assert_eq!(needed.questions[0].options.len(), 2);
        }
        other => panic!("expected question_needed, got {other:?}"),
    }
}

#[tokio::test]
async fn questions_are_asked_interactively_when_nothing_is_queued() {
    let server = TestServer::start().await;
    let asker = handler(Some(PermissionReply::Once));
    let transport = server
        .connect_with(PeerConfig::default().interactive(asker.clone()))
        .await;
    let answered = within(LIMIT, "answered", transport.send(question_request()))
        .await
        .expect("answer");
    assert!(
        answered.output.contains("\"Which colour?\" = \"blue\""),
        "{}",
        answered.output
    );
    assert_eq!(asker.asks.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_subscribed_client_receives_bus_events() {
    let server = TestServer::start().await;
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let transport = server
        .connect_with(PeerConfig::default().on_event(move |event| {
            let _ = sender.send(event);
        }))
        .await;
    transport
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await
        .expect("ack");
    let mut request = guarded("ls");
    request.tool_call_id = "call_ev".into();
    within(LIMIT, "call", transport.send(request))
        .await
        .expect("answer");
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let event = within(LIMIT, "event", events.recv()).await.expect("event");
        kinds.push(match event {
            BusEvent::ToolStarted { tool_call_id, .. } if tool_call_id == "call_ev" => {
                "tool.started"
            }
            BusEvent::PermissionAsked {
                decision: Action::Allow,
                ..
            } => "permission.asked",
            BusEvent::ToolCompleted { outcome, .. } if outcome == "ok" => "tool.completed",
            other => panic!("unexpected event {other:?}"),
        });
    }
    assert_eq!(
        kinds,
        ["tool.started", "permission.asked", "tool.completed"]
    );
}
