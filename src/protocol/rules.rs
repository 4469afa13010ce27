//! Permission rules and the human-in-the-loop data: what a rule says, why a
//! call suspended, the questions a tool asks and how a person answers.

use serde::{Deserialize, Serialize};

use super::call::Metadata;

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

impl Action {
    /// The word on the wire: `allow`, `deny`, `ask`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Ask => "ask",
        }
    }
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

    /// The rules of a rules file: a JSON array of `{permission, pattern,
    /// action}` (`toolwire-server --rules`, `toolwire mcp --rules`).
    ///
    /// # Errors
    /// An unreadable file, or one that is not such an array; the message
    /// names the file.
    pub fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<Self>> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the rules file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "the rules file {} is not a JSON array of {{\"permission\", \"pattern\", \"action\"}}",
                path.display()
            )
        })
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

impl PermissionReply {
    /// The word on the wire: `once`, `always`, `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Always => "always",
            Self::Reject => "reject",
        }
    }
}
