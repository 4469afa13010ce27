//! The wire protocol: JSON text frames, one object each, `type` + `id`. Pure
//! data, no I/O.
//!
//! The core ([`ClientMessage::Tools`], [`ClientMessage::Request`],
//! [`ClientMessage::SetRules`], [`ClientMessage::SetActiveTools`],
//! [`ClientMessage::PushAnswers`] and their replies) is field-for-field the
//! `message` struct of sol's `executor` package. Everything else is an
//! extension a client opts into with [`ClientMessage::Hello`]; a client that
//! never says hello never receives an extension frame. `docs/PROTOCOL.md`
//! describes every message; `proto-examples/` holds one example of each.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tool::{Metadata, ToolInfo, ToolRequest, ToolResponse};

/// WebSocket read buffer of both ends. tungstenite zeroes the free part of
/// its read buffer before every socket read; its 128 KiB default made that
/// memset ~80% of the server's instructions per small call. Larger messages
/// are simply read in several reads.
pub const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Room a frame is encoded into at first: most frames fit, so the buffer
/// is not regrown (and copied) several times while it is written.
const ENCODE_CAPACITY: usize = 512;

/// Encodes a frame as JSON text.
///
/// # Errors
/// When a value cannot be represented in JSON (a map with non-string keys).
pub fn encode<T: Serialize + ?Sized>(frame: &T) -> serde_json::Result<String> {
    let mut buffer = Vec::with_capacity(ENCODE_CAPACITY);
    serde_json::to_writer(&mut buffer, frame)?;
    // serde_json writes UTF-8 only, so this never fails.
    String::from_utf8(buffer).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// Version of the extension protocol this crate speaks (sent in `hello`).
pub const PROTOCOL_VERSION: u32 = 1;

/// What a permission rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The tool continues.
    Allow,
    /// The call ends as a denied response.
    Deny,
    /// Someone must decide: the call suspends or the client is asked.
    Ask,
}

/// `{permission, pattern, action}`: when both wildcard patterns match, `action`
/// applies. The last matching rule wins; no match means ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionRule {
    /// Permission kind to match (`bash`, `edit`, `external_directory`, `*`).
    pub permission: String,
    /// Pattern to match against the command or path (`git *`, `*secret*`).
    pub pattern: String,
    /// What to do when the rule matches.
    pub action: Action,
}

impl PermissionRule {
    /// A rule from its three parts.
    pub fn new(permission: impl Into<String>, pattern: impl Into<String>, action: Action) -> Self {
        Self {
            permission: permission.into(),
            pattern: pattern.into(),
            action,
        }
    }
}

/// A call suspended because no rule decided (sol's `ErrPermissionNeeded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionNeeded {
    /// Permission kind asked for.
    pub permission: String,
    /// What is being accessed (commands, paths).
    pub patterns: Vec<String>,
    /// The model's id of the suspended call.
    #[serde(rename = "toolCallID", default)]
    pub tool_call_id: String,
    /// Context for the person deciding (the full command, a diff).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// One option of a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuestionOption {
    /// What the user picks.
    pub label: String,
    /// What picking it means.
    #[serde(default)]
    pub description: String,
}

/// A question for the user (sol's `QuestionInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuestionInfo {
    /// The full question.
    pub question: String,
    /// A short label for a UI.
    #[serde(default)]
    pub header: String,
    /// Choices offered.
    #[serde(default)]
    pub options: Vec<QuestionOption>,
    /// Several options may be picked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
    /// A free-text answer is allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

/// A call suspended because a question has no answer (sol's `ErrQuestionNeeded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionNeeded {
    /// The questions asked.
    pub questions: Vec<QuestionInfo>,
    /// The model's id of the suspended call.
    #[serde(rename = "toolCallID", default)]
    pub tool_call_id: String,
}

/// Extension features a client may ask for in `hello`.
pub mod feature {
    /// `cancel` frames stop in-flight calls.
    pub const CANCEL: &str = "cancel";
    /// `progress` frames stream a running call's output.
    pub const PROGRESS: &str = "progress";
    /// Permission and question asks are sent to the client instead of suspending.
    pub const INTERACTIVE: &str = "interactive";
    /// Bus events are forwarded as `event` frames.
    pub const EVENTS: &str = "events";
    /// Every feature this crate implements.
    pub const ALL: [&str; 4] = [CANCEL, PROGRESS, INTERACTIVE, EVENTS];
}

/// A client's answer to a server-originated permission ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionReply {
    /// Allow this one call.
    Once,
    /// Allow, and add allow rules for the ask's `always` patterns.
    Always,
    /// Refuse: the call ends as a denied response.
    Reject,
}

/// Every message a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Core: list the active tools.
    Tools {
        /// Correlation id.
        id: String,
    },
    /// Core: run one tool call.
    Request {
        /// Correlation id; must not be reused while the call runs.
        id: String,
        /// The call.
        request: ToolRequest,
        /// Extension: per-call timeout overriding the server default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Core: replace the permission rules.
    SetRules {
        /// Correlation id.
        id: String,
        /// The new rules, in order (last match wins).
        #[serde(default)]
        rules: Vec<PermissionRule>,
    },
    /// Core: restrict which tools are listed and accepted.
    SetActiveTools {
        /// Correlation id.
        id: String,
        /// Names of the tools to expose.
        #[serde(default)]
        active_tools: Vec<String>,
    },
    /// Core: queue one batch of answers for the next question.
    PushAnswers {
        /// Correlation id.
        id: String,
        /// One answer list per question.
        #[serde(default)]
        answers: Vec<Vec<String>>,
    },
    /// Extension: opt into features.
    Hello {
        /// Correlation id.
        id: String,
        /// The client's protocol version.
        version: u32,
        /// Features wanted (unknown ones are ignored).
        #[serde(default)]
        features: Vec<String>,
    },
    /// Extension: stop the in-flight call `target`.
    Cancel {
        /// Correlation id of the cancel itself.
        id: String,
        /// Id of the request to stop.
        target: String,
    },
    /// Extension: answer a server-originated `permission_ask`.
    PermissionReply {
        /// The ask's id.
        id: String,
        /// The decision.
        reply: PermissionReply,
    },
    /// Extension: answer a server-originated `question_ask`.
    QuestionReply {
        /// The ask's id.
        id: String,
        /// One answer list per question.
        #[serde(default)]
        answers: Vec<Vec<String>>,
        /// The user refused to answer: the call ends as a denied response.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reject: bool,
    },
}

/// The reply to a `request` (or any refused message): exactly one of
/// `response`, `error`, `permission_needed`, `question_needed` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFrame {
    /// The request's id (empty when the request had none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The tool's response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ToolResponse>,
    /// The call could not run (unknown tool, bad input, busy, timeout, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The call suspended for a permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_needed: Option<PermissionNeeded>,
    /// The call suspended for a question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_needed: Option<QuestionNeeded>,
}

impl ResponseFrame {
    /// A frame carrying the tool's response.
    pub fn ok(id: impl Into<String>, response: ToolResponse) -> Self {
        Self {
            id: id.into(),
            response: Some(response),
            ..Self::default()
        }
    }

    /// A frame carrying an error string.
    pub fn error(id: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            error: error.into(),
            ..Self::default()
        }
    }
}

/// A bare acknowledgement of a control message; `error` set when refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The control message's id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Why the message was refused.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// A server-originated permission question (interactive clients only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionAsk {
    /// Server-originated id (`s<N>`), answered by `permission_reply`.
    pub id: String,
    /// The request (client id) whose tool is asking.
    pub call_id: String,
    /// Permission kind.
    pub permission: String,
    /// What is being accessed.
    pub patterns: Vec<String>,
    /// Patterns an `always` reply turns into allow rules.
    #[serde(default)]
    pub always: Vec<String>,
    /// The model's id of the call.
    #[serde(rename = "toolCallID", default)]
    pub tool_call_id: String,
    /// Context for the person deciding.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// A server-originated question (interactive clients only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionAsk {
    /// Server-originated id (`s<N>`), answered by `question_reply`.
    pub id: String,
    /// The request (client id) whose tool is asking.
    pub call_id: String,
    /// The questions.
    pub questions: Vec<QuestionInfo>,
    /// The model's id of the call.
    #[serde(rename = "toolCallID", default)]
    pub tool_call_id: String,
}

/// Typed bus events (opencode's names), forwarded to clients that asked for `events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum BusEvent {
    /// A tool call began.
    #[serde(rename = "tool.started")]
    ToolStarted {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// The tool.
        tool: String,
        /// The session.
        #[serde(rename = "sessionID", default)]
        session_id: String,
    },
    /// A tool call ended.
    #[serde(rename = "tool.completed")]
    ToolCompleted {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// The tool.
        tool: String,
        /// How it ended: `ok`, `error`, `denied`, `suspended`, `cancelled`.
        outcome: String,
        /// Wall time of the call.
        duration_ms: u64,
    },
    /// A tool asked for a permission.
    #[serde(rename = "permission.asked")]
    PermissionAsked {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// Permission kind.
        permission: String,
        /// What is being accessed.
        patterns: Vec<String>,
        /// How the rules decided: allow, deny or ask.
        decision: Action,
    },
    /// A permission ask was answered.
    #[serde(rename = "permission.replied")]
    PermissionReplied {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// Permission kind.
        permission: String,
        /// `once`, `always` or `reject` (`reject` also for a timeout).
        response: PermissionReply,
    },
    /// A tool asked questions.
    #[serde(rename = "question.asked")]
    QuestionAsked {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// The questions.
        questions: Vec<QuestionInfo>,
    },
    /// Questions were answered.
    #[serde(rename = "question.replied")]
    QuestionReplied {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// The answers.
        answers: Vec<Vec<String>>,
    },
}

/// Every message a server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Core: the active tools.
    Tools {
        /// The `tools` request's id.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        id: String,
        /// Tool definitions (omitted when empty, as Go's `omitempty` does).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tools: Vec<ToolInfo>,
    },
    /// Core: the final answer to a request, or the refusal of a bad message.
    Response(ResponseFrame),
    /// Core: `set_rules` acknowledged.
    SetRules(Ack),
    /// Core: `set_active_tools` acknowledged.
    SetActiveTools(Ack),
    /// Core: `push_answers` acknowledged.
    PushAnswers(Ack),
    /// Extension: the features the server granted.
    Hello {
        /// The `hello`'s id.
        id: String,
        /// The server's protocol version.
        version: u32,
        /// Granted features.
        features: Vec<String>,
    },
    /// Extension: `cancel` acknowledged (also for unknown or finished targets).
    Cancel(Ack),
    /// Extension: a chunk of a running call's output.
    Progress {
        /// The request's id.
        id: String,
        /// The output chunk (lossily decoded UTF-8).
        chunk: String,
    },
    /// Extension: the server asks the client for a permission decision.
    PermissionAsk(PermissionAsk),
    /// Extension: the server asks the client's user questions.
    QuestionAsk(QuestionAsk),
    /// Extension: a bus event.
    Event {
        /// The event.
        event: BusEvent,
    },
}

impl ServerMessage {
    /// The frame's correlation id, if it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Tools { id, .. } | Self::Hello { id, .. } | Self::Progress { id, .. } => Some(id),
            Self::Response(frame) => Some(&frame.id),
            Self::SetRules(ack)
            | Self::SetActiveTools(ack)
            | Self::PushAnswers(ack)
            | Self::Cancel(ack) => Some(&ack.id),
            Self::PermissionAsk(ask) => Some(&ask.id),
            Self::QuestionAsk(ask) => Some(&ask.id),
            Self::Event { .. } => None,
        }
    }
}

/// Why a text frame is not a valid [`ClientMessage`], with whatever `id` and
/// `type` could still be read so the refusal can be correlated.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidMessage {
    /// The frame's `id`, when it had a string one.
    pub id: String,
    /// The frame's `type`, when it had a string one.
    pub kind: Option<String>,
    /// Human-readable reason, e.g. `unknown message type: foo`.
    pub reason: String,
}

/// Message types of the sol core; anything else needs `hello` first.
pub const CORE_TYPES: [&str; 5] = [
    "tools",
    "request",
    "set_rules",
    "set_active_tools",
    "push_answers",
];

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
    reply: Option<PermissionReply>,
    #[serde(default)]
    reject: bool,
}

impl ClientFrame {
    fn into_message(self) -> Result<ClientMessage, InvalidMessage> {
        let invalid = |id: &Option<String>, kind: Option<&str>, reason: String| InvalidMessage {
            id: id.clone().unwrap_or_default(),
            kind: kind.map(str::to_owned),
            reason,
        };
        let Some(kind) = self.kind.as_deref() else {
            return Err(invalid(
                &self.id,
                None,
                "invalid message: missing string field `type`".into(),
            ));
        };
        if !is_known_type(kind) {
            return Err(invalid(
                &self.id,
                Some(kind),
                format!("unknown message type: {kind}"),
            ));
        }
        if kind == "request" && self.request.is_none() {
            return Err(invalid(&self.id, Some(kind), "missing request".into()));
        }
        let Some(id) = self.id.clone() else {
            return Err(invalid(
                &self.id,
                Some(kind),
                format!("invalid {kind} message: missing field `id`"),
            ));
        };
        let missing = |field: &str| {
            invalid(
                &self.id,
                Some(kind),
                format!("invalid {kind} message: missing field `{field}`"),
            )
        };
        Ok(match kind {
            "tools" => ClientMessage::Tools { id },
            "request" => ClientMessage::Request {
                id,
                request: self.request.ok_or_else(|| missing("request"))?,
                timeout_ms: self.timeout_ms,
            },
            "set_rules" => ClientMessage::SetRules {
                id,
                rules: self.rules.unwrap_or_default(),
            },
            "set_active_tools" => ClientMessage::SetActiveTools {
                id,
                active_tools: self.active_tools.unwrap_or_default(),
            },
            "push_answers" => ClientMessage::PushAnswers {
                id,
                answers: self.answers.unwrap_or_default(),
            },
            "hello" => ClientMessage::Hello {
                id,
                version: self.version.ok_or_else(|| missing("version"))?,
                features: self.features.unwrap_or_default(),
            },
            "cancel" => ClientMessage::Cancel {
                id,
                target: self.target.ok_or_else(|| missing("target"))?,
            },
            "permission_reply" => ClientMessage::PermissionReply {
                id,
                reply: self.reply.ok_or_else(|| missing("reply"))?,
            },
            _ => ClientMessage::QuestionReply {
                id,
                answers: self.answers.unwrap_or_default(),
                reject: self.reject,
            },
        })
    }
}

/// Parses one text frame through the flat [`ClientFrame`]; a frame that
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
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let reason = match &kind {
        None => "invalid message: missing string field `type`".to_owned(),
        Some(kind) if !is_known_type(kind) => format!("unknown message type: {kind}"),
        Some(kind) if kind == "request" && object.get("request").is_none_or(Value::is_null) => {
            "missing request".to_owned()
        }
        Some(kind) if !object.contains_key("id") => {
            format!("invalid {kind} message: missing field `id`")
        }
        Some(kind) => format!("invalid {kind} message: {first_error}"),
    };
    InvalidMessage { id, kind, reason }
}

fn is_known_type(kind: &str) -> bool {
    CORE_TYPES.contains(&kind)
        || ["hello", "cancel", "permission_reply", "question_reply"].contains(&kind)
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
}

/// Parses one frame from a server, in one pass (see [`ClientFrame`]).
///
/// # Errors
/// A description of what is wrong: not JSON, no `type`, an unknown `type`
/// or a field it needs missing.
pub fn parse_server_message(text: &str) -> Result<ServerMessage, String> {
    let f: ServerFrame = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let ack = |id: String, error: String| Ack { id, error };
    Ok(match f.kind.as_str() {
        "tools" => ServerMessage::Tools {
            id: f.id,
            tools: f.tools,
        },
        "response" => ServerMessage::Response(ResponseFrame {
            id: f.id,
            response: f.response,
            error: f.error,
            permission_needed: f.permission_needed,
            question_needed: f.question_needed,
        }),
        "set_rules" => ServerMessage::SetRules(ack(f.id, f.error)),
        "set_active_tools" => ServerMessage::SetActiveTools(ack(f.id, f.error)),
        "push_answers" => ServerMessage::PushAnswers(ack(f.id, f.error)),
        "cancel" => ServerMessage::Cancel(ack(f.id, f.error)),
        "hello" => ServerMessage::Hello {
            id: f.id,
            version: f.version.ok_or("hello without version")?,
            features: f.features,
        },
        "progress" => ServerMessage::Progress {
            id: f.id,
            chunk: f.chunk,
        },
        "permission_ask" => ServerMessage::PermissionAsk(PermissionAsk {
            id: f.id,
            call_id: f.call_id,
            permission: f.permission,
            patterns: f.patterns,
            always: f.always,
            tool_call_id: f.tool_call_id,
            metadata: f.metadata,
        }),
        "question_ask" => ServerMessage::QuestionAsk(QuestionAsk {
            id: f.id,
            call_id: f.call_id,
            questions: f.questions,
            tool_call_id: f.tool_call_id,
        }),
        "event" => ServerMessage::Event {
            event: f.event.ok_or("event frame without event")?,
        },
        other => return Err(format!("unknown message type: {other}")),
    })
}
