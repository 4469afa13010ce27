//! The messages of each direction: one enum a direction, the core types of
//! sol's `executor` package and the opt-in extensions.

use serde::{Deserialize, Serialize};

use super::call::{Metadata, ToolInfo, ToolRequest, ToolResponse};
use super::events::BusEvent;
use super::rules::{
    PermissionNeeded, PermissionReply, PermissionRule, QuestionInfo, QuestionNeeded,
};

/// Every message a client sends. [`ClientKind`] names its variants (the
/// `type` on the wire), derived from this enum so the two cannot drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum_discriminants(
    name(ClientKind),
    doc = "The `type` of a [`ClientMessage`], one per variant.",
    derive(strum::EnumIter, strum::EnumString, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case")
)]
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
        /// Extension `resume`: the session this connection takes over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeRequest>,
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
    /// Extension `transfer`: start writing a file (or, with `archive`, a
    /// directory sent as a tar stream) at `path`; the data follow as binary
    /// chunks within the `credit` the server grants, then `upload_end`.
    Upload {
        /// Correlation id of the transfer (its final `response` carries it).
        id: String,
        /// Where the file or directory goes, relative to the workdir or absolute.
        path: String,
        /// The data are a tar stream of a directory.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        archive: bool,
    },
    /// Extension `transfer`: every chunk of an upload is sent.
    UploadEnd {
        /// The upload's id.
        id: String,
        /// Bytes sent in all.
        bytes: u64,
        /// BLAKE3 of the bytes sent, lowercase hex.
        blake3: String,
    },
    /// Extension `transfer`: send the file (or the directory, as a tar
    /// stream) at `path` as binary chunks, within `credit` bytes for now.
    Download {
        /// Correlation id of the transfer (its final `response` carries it).
        id: String,
        /// What to send, relative to the workdir or absolute.
        path: String,
        /// Bytes the server may send before the next `credit`.
        credit: u64,
    },
    /// Extension `transfer`: the receiver of a download took `bytes` more.
    Credit {
        /// The transfer's id.
        id: String,
        /// Further bytes the sender may send.
        bytes: u64,
    },
}

/// A `hello` that takes over a session after a lost connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRequest {
    /// The session id the server gave in its earlier `hello`.
    pub session: String,
    /// Ids of the requests the client still waits for: each is answered on
    /// this connection (its result if kept, an error if it was lost), and
    /// every other kept result counts as received.
    #[serde(default)]
    pub waiting: Vec<String>,
}

/// The server's side of `resume` in its `hello`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeGrant {
    /// The id to present after a lost connection.
    pub session: String,
    /// Whether this connection took over the session the client asked for
    /// (`false`: a new session; the calls of the old one are gone).
    #[serde(default)]
    pub resumed: bool,
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

/// Every message a server sends. [`ServerKind`] names its variants (the
/// `type` on the wire), derived from this enum so the two cannot drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum_discriminants(
    name(ServerKind),
    doc = "The `type` of a [`ServerMessage`], one per variant.",
    derive(strum::EnumIter, strum::EnumString, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case")
)]
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
        /// Extension `resume`: the session's id, and whether this
        /// connection took over the one the client asked for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeGrant>,
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
    /// Extension `transfer`: the receiver of an upload took `bytes` more
    /// (the first one also says the upload was allowed).
    Credit {
        /// The transfer's id.
        id: String,
        /// Further bytes the client may send.
        bytes: u64,
    },
    /// Extension `transfer`: a download was allowed; binary chunks follow,
    /// then the final `response` with their BLAKE3.
    DownloadStart {
        /// The download's id.
        id: String,
        /// The chunks are a tar stream of a directory.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        archive: bool,
        /// The file's size, when it is one file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
}

impl ClientKind {
    /// Every kind, one per [`ClientMessage`] variant.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// The `type` string on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether sol's core protocol has this type (everything else needs `hello`).
    pub fn is_core(self) -> bool {
        matches!(
            self,
            Self::Tools | Self::Request | Self::SetRules | Self::SetActiveTools | Self::PushAnswers
        )
    }
}

impl ServerKind {
    /// Every kind, one per [`ServerMessage`] variant.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// The `type` string on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl ServerMessage {
    /// The frame's correlation id, if it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Tools { id, .. }
            | Self::Hello { id, .. }
            | Self::Progress { id, .. }
            | Self::Credit { id, .. }
            | Self::DownloadStart { id, .. } => Some(id),
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
