//! Typed bus events, forwarded to clients that asked for `events`.

use serde::{Deserialize, Serialize};

use super::rules::{Action, PermissionReply, QuestionInfo};

/// Typed bus events (opencode's names), forwarded to clients that asked for `events`.
/// [`EventKind`] names its variants, derived from this enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type")]
#[strum_discriminants(
    name(EventKind),
    doc = "The `type` of a [`BusEvent`], one per variant.",
    derive(strum::EnumIter, strum::IntoStaticStr, Hash)
)]
pub enum BusEvent {
    /// A tool call began.
    #[serde(rename = "tool.started")]
    #[strum_discriminants(strum(serialize = "tool.started"))]
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
    #[strum_discriminants(strum(serialize = "tool.completed"))]
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
    #[strum_discriminants(strum(serialize = "permission.asked"))]
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
    #[strum_discriminants(strum(serialize = "permission.replied"))]
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
    #[strum_discriminants(strum(serialize = "question.asked"))]
    QuestionAsked {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// The questions.
        questions: Vec<QuestionInfo>,
    },
    /// Questions were answered.
    #[serde(rename = "question.replied")]
    #[strum_discriminants(strum(serialize = "question.replied"))]
    QuestionReplied {
        /// The model's call id.
        #[serde(rename = "toolCallID")]
        tool_call_id: String,
        /// The answers.
        answers: Vec<Vec<String>>,
    },
}

impl EventKind {
    /// Every kind, one per [`BusEvent`] variant.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// The event's `type` string on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}
