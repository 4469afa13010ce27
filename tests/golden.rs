//! Wire compatibility is pinned by files: every message variant has one
//! example in proto-examples/, and each round-trips through our types
//! unchanged (compared as JSON values).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use toolwire::protocol::{
    Action, BusEvent, ClientKind, ClientMessage, EventKind, PermissionNeeded, PermissionReply,
    PermissionRule, QuestionInfo, QuestionNeeded, QuestionOption, ResponseFrame, ServerKind,
    ServerMessage, ToolInfo, ToolRequest, ToolResponse,
};

fn examples(dir: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("proto-examples")
        .join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("proto-examples dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        out.push((
            name,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str, value: &Value) {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
    let back = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(&back, value, "{name}: round trip changed the message");
}

#[test]
fn every_client_message_has_an_example_that_round_trips() {
    let files = examples("client");
    for (name, value) in &files {
        round_trip::<ClientMessage>(name, value);
    }
    let covered: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    // The kinds are derived from the enum's variants: a new variant is a new kind.
    let wanted: BTreeSet<String> = ClientKind::all().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(
        covered, wanted,
        "each client variant needs proto-examples/client/<type>.json"
    );
}

#[test]
fn every_server_message_has_an_example_that_round_trips() {
    let files = examples("server");
    for (name, value) in &files {
        round_trip::<ServerMessage>(name, value);
    }
    let covered: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    // A response carries exactly one of four payloads; each has its own file.
    // Events are one file per bus event type.
    let mut wanted = BTreeSet::new();
    for kind in ServerKind::all() {
        match kind {
            ServerKind::Response => {
                for outcome in ["response", "error", "permission_needed", "question_needed"] {
                    wanted.insert(format!("response.{outcome}"));
                }
            }
            ServerKind::Event => {
                for event in EventKind::all() {
                    wanted.insert(format!("event.{}", event.as_str()));
                }
            }
            other => {
                wanted.insert(other.as_str().to_owned());
            }
        }
    }
    assert_eq!(
        covered, wanted,
        "each server variant needs proto-examples/server/<file>.json"
    );
    for (name, value) in &files {
        if let Some(outcome) = name.strip_prefix("response.") {
            let payloads: Vec<&str> = ["response", "error", "permission_needed", "question_needed"]
                .into_iter()
                .filter(|k| value.get(*k).is_some())
                .collect();
            assert_eq!(payloads, [outcome], "{name}: exactly one payload");
        }
    }
}

#[test]
fn the_one_pass_parsers_agree_with_the_enums_on_every_example() {
    for (name, value) in examples("client") {
        let derived: ClientMessage = serde_json::from_value(value.clone()).expect("derived parse");
        let fast =
            toolwire::protocol::parse_client_message(&value.to_string()).expect("fast parse");
        assert_eq!(fast, derived, "client/{name}");
    }
    for (name, value) in examples("server") {
        let derived: ServerMessage = serde_json::from_value(value.clone()).expect("derived parse");
        let fast =
            toolwire::protocol::parse_server_message(&value.to_string()).expect("fast parse");
        assert_eq!(fast, derived, "server/{name}");
    }
}

/// Messages of every client kind, with the optional fields both present and
/// absent, and text that needs escaping.
fn generated_client_messages() -> Vec<ClientMessage> {
    let texts = [
        "",
        "plain",
        "quote \" and \\ and \n",
        "ünïcødé ✓",
        "{\"type\":\"x\"}",
    ];
    let mut out = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let id = format!("{n}-{text}");
        let mut request = ToolRequest::new(
            *text,
            serde_json::json!({"text": text, "n": n, "deep": [[{"a": null}]]}),
        );
        request.session_id = text.to_string();
        for kind in ClientKind::all() {
            out.push(match kind {
                ClientKind::Tools => ClientMessage::Tools { id: id.clone() },
                ClientKind::Request => ClientMessage::Request {
                    id: id.clone(),
                    request: request.clone(),
                    timeout_ms: (n % 2 == 0).then_some(n as u64 * 1000),
                },
                ClientKind::SetRules => ClientMessage::SetRules {
                    id: id.clone(),
                    rules: vec![PermissionRule::new(*text, "*", Action::Deny); n],
                },
                ClientKind::SetActiveTools => ClientMessage::SetActiveTools {
                    id: id.clone(),
                    active_tools: vec![text.to_string(); n],
                },
                ClientKind::PushAnswers => ClientMessage::PushAnswers {
                    id: id.clone(),
                    answers: vec![vec![text.to_string()]; n],
                },
                ClientKind::Hello => ClientMessage::Hello {
                    id: id.clone(),
                    version: n as u32,
                    features: vec![text.to_string(); n],
                    resume: (n % 2 == 1).then(|| toolwire::protocol::ResumeRequest {
                        session: text.to_string(),
                        waiting: vec![id.clone(); n],
                    }),
                },
                ClientKind::Cancel => ClientMessage::Cancel {
                    id: id.clone(),
                    target: text.to_string(),
                },
                ClientKind::PermissionReply => ClientMessage::PermissionReply {
                    id: id.clone(),
                    reply: [
                        PermissionReply::Once,
                        PermissionReply::Always,
                        PermissionReply::Reject,
                    ][n % 3],
                },
                ClientKind::QuestionReply => ClientMessage::QuestionReply {
                    id: id.clone(),
                    answers: vec![vec![text.to_string()]; n],
                    reject: n % 2 == 1,
                },
                ClientKind::Upload => ClientMessage::Upload {
                    id: id.clone(),
                    path: text.to_string(),
                    archive: n % 2 == 1,
                },
                ClientKind::UploadEnd => ClientMessage::UploadEnd {
                    id: id.clone(),
                    bytes: n as u64 * 1000,
                    blake3: text.to_string(),
                },
                ClientKind::Download => ClientMessage::Download {
                    id: id.clone(),
                    path: text.to_string(),
                    credit: n as u64,
                },
                ClientKind::Credit => ClientMessage::Credit {
                    id: id.clone(),
                    bytes: u64::MAX - n as u64,
                },
            });
        }
    }
    out
}

/// Messages of every server kind (every response payload, every event).
fn generated_server_messages() -> Vec<ServerMessage> {
    let texts = ["", "plain", "quote \" and \\ and \n", "ünïcødé ✓"];
    let mut out = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let id = format!("{n}{text}");
        let question = QuestionInfo {
            question: text.to_string(),
            header: text.to_string(),
            options: vec![
                QuestionOption {
                    label: text.to_string(),
                    description: String::new()
                };
                n
            ],
            multiple: n % 2 == 0,
            custom: n % 2 == 1,
        };
        let mut metadata = toolwire::protocol::Metadata::new();
        metadata.insert(text.to_string(), serde_json::json!([n, text]));
        let events = EventKind::all().map(|kind| match kind {
            EventKind::ToolStarted => BusEvent::ToolStarted {
                tool_call_id: id.clone(),
                tool: text.to_string(),
                session_id: text.to_string(),
            },
            EventKind::ToolCompleted => BusEvent::ToolCompleted {
                tool_call_id: id.clone(),
                tool: text.to_string(),
                outcome: "ok".into(),
                duration_ms: n as u64,
            },
            EventKind::PermissionAsked => BusEvent::PermissionAsked {
                tool_call_id: id.clone(),
                permission: text.to_string(),
                patterns: vec![text.to_string(); n],
                decision: Action::Ask,
            },
            EventKind::PermissionReplied => BusEvent::PermissionReplied {
                tool_call_id: id.clone(),
                permission: text.to_string(),
                response: PermissionReply::Always,
            },
            EventKind::QuestionAsked => BusEvent::QuestionAsked {
                tool_call_id: id.clone(),
                questions: vec![question.clone(); n],
            },
            EventKind::QuestionReplied => BusEvent::QuestionReplied {
                tool_call_id: id.clone(),
                answers: vec![vec![text.to_string()]; n],
            },
        });
        out.extend(events.map(|event| ServerMessage::Event { event }));
        let responses = [
            ResponseFrame::ok(id.clone(), ToolResponse::text(*text).with_title(*text)),
            ResponseFrame::ok(id.clone(), ToolResponse::failure(*text)),
            ResponseFrame::error(id.clone(), format!("error {text}")),
            ResponseFrame {
                id: id.clone(),
                permission_needed: Some(PermissionNeeded {
                    permission: text.to_string(),
                    patterns: vec![text.to_string(); n],
                    tool_call_id: id.clone(),
                    metadata: metadata.clone(),
                }),
                ..ResponseFrame::default()
            },
            ResponseFrame {
                id: id.clone(),
                question_needed: Some(QuestionNeeded {
                    questions: vec![question.clone(); n],
                    tool_call_id: id.clone(),
                }),
                ..ResponseFrame::default()
            },
        ];
        out.extend(responses.into_iter().map(ServerMessage::Response));
        for kind in ServerKind::all() {
            let ack = toolwire::protocol::Ack {
                id: id.clone(),
                error: text.to_string(),
            };
            out.push(match kind {
                ServerKind::Tools => ServerMessage::Tools {
                    id: id.clone(),
                    tools: vec![
                        ToolInfo {
                            name: text.to_string(),
                            description: text.to_string(),
                            input_schema: serde_json::json!({"type": "object"})
                        };
                        n
                    ],
                },
                ServerKind::SetRules => ServerMessage::SetRules(ack),
                ServerKind::SetActiveTools => ServerMessage::SetActiveTools(ack),
                ServerKind::PushAnswers => ServerMessage::PushAnswers(ack),
                ServerKind::Cancel => ServerMessage::Cancel(ack),
                ServerKind::Hello => ServerMessage::Hello {
                    id: id.clone(),
                    version: n as u32,
                    features: vec![text.to_string(); n],
                    resume: (n % 2 == 1).then(|| toolwire::protocol::ResumeGrant {
                        session: text.to_string(),
                        resumed: n % 4 == 1,
                    }),
                },
                ServerKind::Progress => ServerMessage::Progress {
                    id: id.clone(),
                    chunk: text.to_string(),
                },
                ServerKind::PermissionAsk => {
                    ServerMessage::PermissionAsk(toolwire::protocol::PermissionAsk {
                        id: id.clone(),
                        call_id: text.to_string(),
                        permission: text.to_string(),
                        patterns: vec![text.to_string(); n],
                        always: vec![text.to_string(); n],
                        tool_call_id: id.clone(),
                        metadata: metadata.clone(),
                    })
                }
                ServerKind::QuestionAsk => {
                    ServerMessage::QuestionAsk(toolwire::protocol::QuestionAsk {
                        id: id.clone(),
                        call_id: text.to_string(),
                        questions: vec![question.clone(); n],
                        tool_call_id: id.clone(),
                    })
                }
                ServerKind::Credit => ServerMessage::Credit {
                    id: id.clone(),
                    bytes: n as u64 * 4096,
                },
                ServerKind::DownloadStart => ServerMessage::DownloadStart {
                    id: id.clone(),
                    archive: n % 2 == 0,
                    size: (n % 2 == 1).then_some(n as u64),
                },
                // Covered above, with every payload and every event.
                ServerKind::Response | ServerKind::Event => continue,
            });
        }
    }
    out
}

#[test]
fn the_one_pass_parsers_agree_with_the_enums_on_generated_frames() {
    let client = generated_client_messages();
    assert!(client.len() >= 40);
    for message in client {
        let text = serde_json::to_string(&message).expect("encode");
        let derived: ClientMessage = serde_json::from_str(&text).expect("derived parse");
        let fast = toolwire::protocol::parse_client_message(&text).expect("fast parse");
        assert_eq!(fast, derived, "{text}");
        assert_eq!(fast, message, "{text}");
    }
    let server = generated_server_messages();
    assert!(server.len() >= 60);
    for message in server {
        let text = serde_json::to_string(&message).expect("encode");
        let derived: ServerMessage = serde_json::from_str(&text).expect("derived parse");
        let fast = toolwire::protocol::parse_server_message(&text).expect("fast parse");
        assert_eq!(fast, derived, "{text}");
        assert_eq!(fast, message, "{text}");
    }
}
