//! The data of one tool call, as both ends and every executor see it: what a
//! tool is ([`ToolInfo`]), one call ([`ToolRequest`]) and its result
//! ([`ToolResponse`]).
//!
//! The serde field names are exactly those of the Go structs in goai's `tool`
//! package (`tool.Info`, `tool.Request`, `tool.Response`), so the same JSON
//! travels between a sol orchestrator and a toolwire server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Structured data attached to a response (`map[string]any` in Go).
pub type Metadata = BTreeMap<String, Value>;

/// A tool as the model sees it: name, what it does, and the JSON Schema of its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Unique name the model calls the tool by.
    pub name: String,
    /// Text written for the model: what the tool does and when to use it.
    pub description: String,
    /// JSON Schema (an object schema) the input must satisfy.
    pub input_schema: Value,
}

/// One tool call, as the orchestrator sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRequest {
    /// The model's id for this call; echoed in permission and question requests.
    pub tool_call_id: String,
    /// Which tool to run.
    pub tool_name: String,
    /// The tool's input, checked against its schema before it runs.
    #[serde(default)]
    pub input: Value,
    /// The agent session the call belongs to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
    /// Working directory requested by the orchestrator (informational; tools
    /// stay inside the server's workdir).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub work_dir: String,
}

impl ToolRequest {
    /// A request for `tool_name` with `input` and a fresh random call id.
    pub fn new(tool_name: impl Into<String>, input: Value) -> Self {
        Self {
            tool_call_id: format!("call_{}", uuid::Uuid::new_v4().simple()),
            tool_name: tool_name.into(),
            input,
            session_id: String::new(),
            work_dir: String::new(),
        }
    }
}

/// A file attached to a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// Base64-encoded content.
    pub data: String,
    /// MIME type, e.g. `image/png`.
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    /// Optional file name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filename: String,
}

/// The result of one call. A failed tool is still a response (`is_error`), a
/// refused one too (`denied`): the model reads both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolResponse {
    /// Text output for the model.
    #[serde(default)]
    pub output: String,
    /// Short title for a UI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Error text when the tool failed (goai sets it together with `is_error`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The tool ran and failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
    /// The call was refused (permission or policy), not failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
    /// Why the call was refused.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub denied_reason: String,
    /// Structured data (exit code, paths, counts).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// Files produced by the call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl ToolResponse {
    /// A successful response with `output`.
    pub fn text(output: impl Into<String>) -> Self {
        Self {
            output: output.into(),
            ..Self::default()
        }
    }

    /// A failed call: `output` is `Error: <message>` as goai writes it.
    pub fn failure(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            output: format!("Error: {message}"),
            error: message,
            is_error: true,
            ..Self::default()
        }
    }

    /// A refused call.
    pub fn refused(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            output: format!("Denied: {reason}"),
            denied: true,
            denied_reason: reason,
            ..Self::default()
        }
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
}
