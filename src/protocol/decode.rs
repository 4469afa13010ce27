//! The measured fast decoders: one pass through a flat struct per
//! direction, where serde's internally tagged enums first buffer the whole
//! frame (measured: ~40% of a small call's parse cost). Their agreement with
//! the serde types is tested on every example file and on generated frames.

use serde::Deserialize;
use serde_json::Value;

use super::call::{Metadata, ToolInfo, ToolRequest, ToolResponse};
use super::events::BusEvent;
use super::messages::{
    Ack, ClientKind, ClientMessage, PermissionAsk, QuestionAsk, ResponseFrame, ResumeGrant,
    ResumeRequest, ServerKind, ServerMessage,
};
use super::rules::{
    PermissionNeeded, PermissionReply, PermissionRule, QuestionInfo, QuestionNeeded,
};

/// Why a text frame is not a valid [`ClientMessage`], with whatever `id` and
/// `type` could still be read so the refusal can be correlated.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidMessage {
    /// The frame's `id`, when it had a string one.
    pub id: String,
    /// The frame's `type`, when it was a known one.
    pub kind: Option<ClientKind>,
    /// Human-readable reason, e.g. `unknown message type: foo`.
    pub reason: String,
}

/// Every field any client message has, flat, as sol's Go `message` struct
/// is: serde reads it in one pass, where an internally tagged enum first
/// buffers the whole frame (measured: ~40% of a small call's parse cost).
#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    request: Option<ToolRequest>,
    timeout_ms: Option<u64>,
    rules: Option<Vec<PermissionRule>>,
    active_tools: Option<Vec<String>>,
    answers: Option<Vec<Vec<String>>>,
    version: Option<u32>,
    features: Option<Vec<String>>,
    target: Option<String>,
    resume: Option<ResumeRequest>,
    reply: Option<PermissionReply>,
    #[serde(default)]
    reject: bool,
    path: Option<String>,
    #[serde(default)]
    archive: bool,
    bytes: Option<u64>,
    blake3: Option<String>,
    credit: Option<u64>,
}

impl ClientFrame {
    fn into_message(self) -> Result<ClientMessage, InvalidMessage> {
        let invalid = |kind: Option<ClientKind>, reason: String| InvalidMessage {
            id: self.id.clone().unwrap_or_default(),
            kind,
            reason,
        };
        let Some(name) = self.kind.as_deref() else {
            return Err(invalid(
                None,
                "invalid message: missing string field `type`".into(),
            ));
        };
        let Ok(kind) = name.parse::<ClientKind>() else {
            return Err(invalid(None, format!("unknown message type: {name}")));
        };
        if kind == ClientKind::Request && self.request.is_none() {
            return Err(invalid(Some(kind), "missing request".into()));
        }
        let missing = |field: &str| {
            invalid(
                Some(kind),
                format!("invalid {name} message: missing field `{field}`"),
            )
        };
        let Some(id) = self.id.clone() else {
            return Err(missing("id"));
        };
        Ok(match kind {
            ClientKind::Tools => ClientMessage::Tools { id },
            ClientKind::Request => ClientMessage::Request {
                id,
                request: self.request.ok_or_else(|| missing("request"))?,
                timeout_ms: self.timeout_ms,
            },
            ClientKind::SetRules => ClientMessage::SetRules {
                id,
                rules: self.rules.unwrap_or_default(),
            },
            ClientKind::SetActiveTools => ClientMessage::SetActiveTools {
                id,
                active_tools: self.active_tools.unwrap_or_default(),
            },
            ClientKind::PushAnswers => ClientMessage::PushAnswers {
                id,
                answers: self.answers.unwrap_or_default(),
            },
            ClientKind::Hello => ClientMessage::Hello {
                id,
                version: self.version.ok_or_else(|| missing("version"))?,
                features: self.features.unwrap_or_default(),
                resume: self.resume,
            },
            ClientKind::Cancel => ClientMessage::Cancel {
                id,
                target: self.target.ok_or_else(|| missing("target"))?,
            },
            ClientKind::PermissionReply => ClientMessage::PermissionReply {
                id,
                reply: self.reply.ok_or_else(|| missing("reply"))?,
            },
            ClientKind::QuestionReply => ClientMessage::QuestionReply {
                id,
                answers: self.answers.unwrap_or_default(),
                reject: self.reject,
            },
            ClientKind::Upload => ClientMessage::Upload {
                id,
                path: self.path.ok_or_else(|| missing("path"))?,
                archive: self.archive,
            },
            ClientKind::UploadEnd => ClientMessage::UploadEnd {
                id,
                bytes: self.bytes.ok_or_else(|| missing("bytes"))?,
                blake3: self.blake3.ok_or_else(|| missing("blake3"))?,
            },
            ClientKind::Download => ClientMessage::Download {
                id,
                path: self.path.ok_or_else(|| missing("path"))?,
                credit: self.credit.ok_or_else(|| missing("credit"))?,
            },
            ClientKind::Credit => ClientMessage::Credit {
                id,
                bytes: self.bytes.ok_or_else(|| missing("bytes"))?,
            },
        })
    }
}

/// Parses one text frame through a flat struct of every field; a frame that
/// does not even decode as one is looked at again to say why.
///
/// # Errors
/// An [`InvalidMessage`] naming what is wrong: not JSON (or nested too deep),
/// not an object, no `type`, an unknown `type`, or a known type whose fields
/// are wrong (a `request` without its payload, a rule with a bad action).
pub fn parse_client_message(text: &str) -> Result<ClientMessage, InvalidMessage> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame.into_message(),
        Err(first_error) => Err(diagnose(text, &first_error)),
    }
}

fn diagnose(text: &str, first_error: &serde_json::Error) -> InvalidMessage {
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(e) => {
            return InvalidMessage {
                id: String::new(),
                kind: None,
                reason: format!("invalid JSON: {e}"),
            };
        }
    };
    let Some(object) = value.as_object() else {
        return InvalidMessage {
            id: String::new(),
            kind: None,
            reason: "invalid message: expected a JSON object".into(),
        };
    };
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = object.get("type").and_then(Value::as_str);
    let kind = name.and_then(|n| n.parse::<ClientKind>().ok());
    let reason = match (name, kind) {
        (None, _) => "invalid message: missing string field `type`".to_owned(),
        (Some(name), None) => format!("unknown message type: {name}"),
        (Some(_), Some(ClientKind::Request))
            if object.get("request").is_none_or(Value::is_null) =>
        {
            "missing request".to_owned()
        }
        (Some(name), Some(_)) if !object.contains_key("id") => {
            format!("invalid {name} message: missing field `id`")
        }
        (Some(name), Some(_)) => format!("invalid {name} message: {first_error}"),
    };
    InvalidMessage { id, kind, reason }
}

/// Every field any server message has, flat (see [`ClientFrame`]).
#[derive(Deserialize)]
struct ServerFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    tools: Vec<ToolInfo>,
    response: Option<ToolResponse>,
    #[serde(default)]
    error: String,
    permission_needed: Option<PermissionNeeded>,
    question_needed: Option<QuestionNeeded>,
    version: Option<u32>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    chunk: String,
    #[serde(default)]
    call_id: String,
    #[serde(default)]
    permission: String,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    always: Vec<String>,
    #[serde(rename = "toolCallID", default)]
    tool_call_id: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    questions: Vec<QuestionInfo>,
    event: Option<BusEvent>,
    resume: Option<ResumeGrant>,
    bytes: Option<u64>,
    #[serde(default)]
    archive: bool,
    size: Option<u64>,
}

/// Parses one frame from a server, in one pass through a flat struct.
///
/// # Errors
/// A description of what is wrong: not JSON, no `type`, an unknown `type`
/// or a field it needs missing.
pub fn parse_server_message(text: &str) -> Result<ServerMessage, String> {
    let f: ServerFrame = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Ok(kind) = f.kind.parse::<ServerKind>() else {
        return Err(format!("unknown message type: {}", short(&f.kind)));
    };
    let ack = |id: String, error: String| Ack { id, error };
    Ok(match kind {
        ServerKind::Tools => ServerMessage::Tools {
            id: f.id,
            tools: f.tools,
        },
        ServerKind::Response => ServerMessage::Response(ResponseFrame {
            id: f.id,
            response: f.response,
            error: f.error,
            permission_needed: f.permission_needed,
            question_needed: f.question_needed,
        }),
        ServerKind::SetRules => ServerMessage::SetRules(ack(f.id, f.error)),
        ServerKind::SetActiveTools => ServerMessage::SetActiveTools(ack(f.id, f.error)),
        ServerKind::PushAnswers => ServerMessage::PushAnswers(ack(f.id, f.error)),
        ServerKind::Cancel => ServerMessage::Cancel(ack(f.id, f.error)),
        ServerKind::Hello => ServerMessage::Hello {
            id: f.id,
            version: f.version.ok_or("hello without version")?,
            features: f.features,
            resume: f.resume,
        },
        ServerKind::Progress => ServerMessage::Progress {
            id: f.id,
            chunk: f.chunk,
        },
        ServerKind::PermissionAsk => ServerMessage::PermissionAsk(PermissionAsk {
            id: f.id,
            call_id: f.call_id,
            permission: f.permission,
            patterns: f.patterns,
            always: f.always,
            tool_call_id: f.tool_call_id,
            metadata: f.metadata,
        }),
        ServerKind::QuestionAsk => ServerMessage::QuestionAsk(QuestionAsk {
            id: f.id,
            call_id: f.call_id,
            questions: f.questions,
            tool_call_id: f.tool_call_id,
        }),
        ServerKind::Event => ServerMessage::Event {
            event: f.event.ok_or("event frame without event")?,
        },
        ServerKind::Credit => ServerMessage::Credit {
            id: f.id,
            bytes: f.bytes.ok_or("credit frame without bytes")?,
        },
        ServerKind::DownloadStart => ServerMessage::DownloadStart {
            id: f.id,
            archive: f.archive,
            size: f.size,
        },
    })
}

/// At most the first 64 characters of what a peer sent, for an error text.
pub(crate) fn short(text: &str) -> String {
    const HEAD: usize = 64;
    match text.char_indices().nth(HEAD) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
