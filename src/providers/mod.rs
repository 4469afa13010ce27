//! The model providers' tool formats: hand a tool list to a model in its
//! API's shape, read the tool calls out of its answer, and build the
//! message(s) that carry the results back.
//!
//! - `schema`: the input-schema transforms each API needs (OpenAI strict
//!   mode, Gemini's OpenAPI subset, an object root).
//! - `openai`, `responses`, `anthropic`, `gemini`, `mcp`: one file per
//!   format ([`Format`]); OpenAI's shapes are async-openai's types.
//! - `run`: [`run_calls`], one turn's calls run concurrently, results in the
//!   model's order.
//!
//! ```
//! use serde_json::json;
//! use toolwire::providers::{Format, ToolResult};
//!
//! let answer = json!({"role": "assistant", "content": [
//!     {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}}
//! ]});
//! let calls = Format::Anthropic.parse_calls(&answer).unwrap();
//! assert_eq!(calls[0].name, "bash");
//! let back = Format::Anthropic.result_messages(&calls, &[ToolResult::text("a\nb")]);
//! assert_eq!(back[0]["content"][0]["tool_use_id"], "toolu_1");
//! ```

mod anthropic;
mod gemini;
mod mcp;
mod openai;
mod responses;
mod run;
pub mod schema;

pub use run::run_calls;

use serde_json::Value;

use crate::context::quoted_list;
use crate::error::CallError;
use crate::protocol::{ToolInfo, ToolResponse};

/// A model API's tool format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::Display, strum::VariantNames,
)]
#[non_exhaustive]
pub enum Format {
    /// OpenAI Chat Completions; also Mistral and OpenAI-compatible servers.
    #[strum(serialize = "openai")]
    OpenAi,
    /// OpenAI Responses.
    #[strum(serialize = "openai-responses")]
    OpenAiResponses,
    /// Anthropic Messages.
    #[strum(serialize = "anthropic")]
    Anthropic,
    /// Google Gemini (`generateContent`).
    #[strum(serialize = "gemini")]
    Gemini,
    /// The Model Context Protocol (`tools/list`, `tools/call`).
    #[strum(serialize = "mcp")]
    Mcp,
}

/// How tool definitions are exported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOptions {
    /// OpenAI strict mode (`strict: true`, every object closed, every
    /// property required, optional ones nullable). Only the two OpenAI
    /// formats read it. Default false.
    pub strict: bool,
}

impl ExportOptions {
    /// Sets [`ExportOptions::strict`].
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

/// One tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderCall {
    /// The model's id for the call (`tool_call_id`, `call_id`, `tool_use`
    /// id, Gemini's optional id — empty when it sent none; for MCP the
    /// JSON-RPC id as JSON text).
    pub id: String,
    /// The tool the model named.
    pub name: String,
    /// The input object, or why it could not be read (malformed JSON
    /// arguments, not an object): that call gets an error result and the
    /// others still run.
    pub input: Result<Value, String>,
}

/// What goes back to the model for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The text the model reads.
    pub text: String,
    /// The call failed or was refused.
    pub is_error: bool,
    /// The response's metadata, for the formats that carry structured
    /// results (MCP's `structuredContent`). `None` when there is none.
    pub structured: Option<Value>,
}

impl ToolResult {
    /// A successful result with `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: false,
            structured: None,
        }
    }

    /// An error result with `text`.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
            structured: None,
        }
    }

    /// The result of a call: a response as the model reads it (a refused
    /// call is an error result), and a call with no response (a permission
    /// nobody granted, a timeout, a lost sandbox) as an error saying why.
    pub fn from_call(result: Result<ToolResponse, CallError>) -> Self {
        match result {
            Ok(response) => {
                let text = if response.output.is_empty() {
                    response.error
                } else {
                    response.output
                };
                Self {
                    text,
                    is_error: response.is_error || response.denied,
                    structured: (!response.metadata.is_empty())
                        .then(|| Value::Object(response.metadata.into_iter().collect())),
                }
            }
            Err(CallError::PermissionNeeded(p)) => Self::error(format!(
                "Denied: permission `{}` for {} was not granted (nobody could be asked)",
                p.permission,
                quoted_list(&p.patterns)
            )),
            Err(e) => Self::error(format!("Error: {e}")),
        }
    }
}

/// Why a model's answer could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("not a {format} tool-call message: {reason}")]
pub struct ParseError {
    /// The format that was expected.
    pub format: Format,
    /// What was wrong, naming the place.
    pub reason: String,
}

/// Why a tool list could not be exported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tool `{tool}` cannot be given to {format}: {reason}")]
pub struct ExportError {
    /// The target format.
    pub format: Format,
    /// The tool whose schema does not fit.
    pub tool: String,
    /// What does not fit.
    pub reason: String,
}

impl Format {
    /// The tool definitions for this API, as the JSON array its requests
    /// carry (`tools` of a Chat Completions, Responses or Messages request,
    /// Gemini's `tools` — one `functionDeclarations` entry —, MCP's
    /// `tools/list` result's `tools`).
    ///
    /// # Errors
    /// [`ExportError`] when a tool's schema cannot be given to this API
    /// (a root that is not an object, a `$ref` cycle for Gemini).
    pub fn tool_definitions(
        self,
        tools: &[ToolInfo],
        options: ExportOptions,
    ) -> Result<Value, ExportError> {
        let failed = |tool: &ToolInfo| {
            let tool = tool.name.clone();
            move |reason: String| ExportError {
                format: self,
                tool,
                reason,
            }
        };
        let mut definitions = Vec::with_capacity(tools.len());
        for tool in tools {
            let schema = schema::object_root(&tool.input_schema).map_err(failed(tool))?;
            definitions.push(match self {
                Self::OpenAi => openai::definition(tool, schema, options.strict),
                Self::OpenAiResponses => responses::definition(tool, schema, options.strict),
                Self::Anthropic => anthropic::definition(tool, schema),
                Self::Gemini => gemini::declaration(tool, &schema).map_err(failed(tool))?,
                Self::Mcp => mcp::definition(tool, schema),
            });
        }
        Ok(match self {
            Self::Gemini => gemini::tools(definitions),
            _ => Value::Array(definitions),
        })
    }

    /// The tool calls in a model's answer: a whole API response, or just
    /// the assistant message (Chat Completions, Anthropic), its content
    /// blocks, Gemini's content or parts, the Responses `output` items, or
    /// an MCP `tools/call` request (or a batch of them). No call is not an
    /// error: the model answered in text.
    ///
    /// # Errors
    /// [`ParseError`] when the answer is not of this format.
    pub fn parse_calls(self, answer: &Value) -> Result<Vec<ProviderCall>, ParseError> {
        let parsed = match self {
            Self::OpenAi => openai::calls(answer),
            Self::OpenAiResponses => responses::calls(answer),
            Self::Anthropic => anthropic::calls(answer),
            Self::Gemini => gemini::calls(answer),
            Self::Mcp => mcp::calls(answer),
        };
        parsed.map_err(|reason| ParseError {
            format: self,
            reason,
        })
    }

    /// The message(s) that carry `results` (one per call, in the calls'
    /// order) back to the model, as a JSON array to append to the
    /// conversation: OpenAI `tool` messages, Responses
    /// `function_call_output` items, one Anthropic user message of
    /// `tool_result` blocks, one Gemini user content of `functionResponse`
    /// parts, MCP JSON-RPC responses.
    ///
    /// # Panics
    /// Never; a result missing for a call is sent as an error result.
    pub fn result_messages(self, calls: &[ProviderCall], results: &[ToolResult]) -> Vec<Value> {
        let missing = ToolResult::error("Error: no result");
        let pairs = calls
            .iter()
            .enumerate()
            .map(|(i, call)| (call, results.get(i).unwrap_or(&missing)));
        match self {
            Self::OpenAi => pairs.map(openai::result).collect(),
            Self::OpenAiResponses => pairs.map(responses::result).collect(),
            Self::Anthropic => vec![anthropic::results(pairs)],
            Self::Gemini => vec![gemini::results(pairs)],
            Self::Mcp => pairs.map(mcp::result).collect(),
        }
    }
}

/// Reads a model's JSON-string arguments: malformed JSON or anything but an
/// object is that call's error; an empty string is no arguments.
fn arguments_object(arguments: &str) -> Result<Value, String> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(format!(
            "the arguments must be a JSON object, not {}",
            json_kind(&other)
        )),
        Err(e) => Err(format!("the arguments are not valid JSON: {e}")),
    }
}

/// An input given as a JSON value (Anthropic, Gemini, MCP): an object, or
/// nothing (no arguments).
fn input_object(input: Option<&Value>) -> Result<Value, String> {
    match input {
        None | Some(Value::Null) => Ok(Value::Object(serde_json::Map::new())),
        Some(value @ Value::Object(_)) => Ok(value.clone()),
        Some(other) => Err(format!(
            "the input must be a JSON object, not {}",
            json_kind(other)
        )),
    }
}

/// `an array`, `a string`, … for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserializes `value` as `T`, naming `what` in the error.
fn typed<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, String> {
    T::deserialize(value).map_err(|e| format!("{what}: {e}"))
}

#[cfg(test)]
mod tests;
