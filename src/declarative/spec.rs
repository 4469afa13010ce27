//! The documents of a tools file as written (camelCase keys, unknown keys
//! refused), before their references are checked.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `kind: source`, `type: http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SourceDoc {
    /// Read by the first pass; kept so `deny_unknown_fields` accepts it.
    #[serde(rename = "kind")]
    pub _kind: String,
    pub name: String,
    #[serde(rename = "type")]
    pub _source_type: String,
    pub base_url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query_params: BTreeMap<String, String>,
    /// A duration such as `10s`; default 30 s.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Allow addresses on loopback, link-local and private networks.
    #[serde(default)]
    pub allow_private_network: bool,
    /// Response bodies are cut here; default 1 MiB.
    #[serde(default)]
    pub max_response_bytes: Option<usize>,
}

/// `kind: tool`, `type: http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct HttpToolDoc {
    /// Read by the first pass; kept so `deny_unknown_fields` accepts it.
    #[serde(rename = "kind")]
    pub _kind: String,
    pub name: String,
    #[serde(rename = "type")]
    pub _tool_type: String,
    pub source: String,
    pub method: String,
    pub path: String,
    pub description: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub path_params: Vec<ParamDoc>,
    #[serde(default)]
    pub query_params: Vec<ParamDoc>,
    #[serde(default)]
    pub header_params: Vec<ParamDoc>,
    #[serde(default)]
    pub body_params: Vec<ParamDoc>,
    #[serde(default)]
    pub request_body: Option<String>,
    #[serde(default)]
    pub auth_required: Vec<String>,
}

/// `kind: tool`, `type: command`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CommandToolDoc {
    /// Read by the first pass; kept so `deny_unknown_fields` accepts it.
    #[serde(rename = "kind")]
    pub _kind: String,
    pub name: String,
    #[serde(rename = "type")]
    pub _tool_type: String,
    pub description: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub parameters: Vec<ParamDoc>,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A duration such as `30s`; default 60 s.
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub auth_required: Vec<String>,
}

/// `kind: mcpServer`: a stdio MCP server the tool server starts inside the
/// sandbox (as `--mcp-server NAME=COMMAND` does).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct McpServerDoc {
    /// Read by the first pass; kept so `deny_unknown_fields` accepts it.
    #[serde(rename = "kind")]
    pub _kind: String,
    pub name: String,
    /// Program and arguments, never run by a shell.
    pub command: Vec<String>,
}

/// `kind: toolset`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ToolsetDoc {
    /// Read by the first pass; kept so `deny_unknown_fields` accepts it.
    #[serde(rename = "kind")]
    pub _kind: String,
    pub name: String,
    pub tools: Vec<String>,
}

/// `kind: authService`: a named secret, where it comes from and how it is
/// applied.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct AuthServiceDoc {
    /// Read by the first pass; kept so `deny_unknown_fields` accepts it.
    #[serde(rename = "kind")]
    pub _kind: String,
    pub name: String,
    pub secret: SecretFromDoc,
    pub apply: ApplyDoc,
}

/// `secret: {env: VAR}` or `secret: {session: true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SecretFromDoc {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub session: bool,
}

/// `apply: {header: NAME, prefix: "Bearer "}`, `{query: NAME}` or `{env: NAME}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ApplyDoc {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub env: Option<String>,
}

/// One parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ParamDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub allowed_values: Option<Vec<Value>>,
    /// The element of an `array`.
    #[serde(default)]
    pub items: Option<Box<ItemDoc>>,
}

/// The element type of an array parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ItemDoc {
    /// Toolbox writes one; it has no meaning for an element.
    #[serde(default, rename = "name")]
    pub _name: Option<String>,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    #[serde(default)]
    pub description: String,
}

fn yes() -> bool {
    true
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ParamType {
    String,
    Integer,
    Float,
    Boolean,
    Array,
    Map,
}
