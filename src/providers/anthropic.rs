//! Anthropic Messages: `tools` entries with an object `input_schema`,
//! `tool_use` content blocks, and one user message of `tool_result` blocks.

use serde_json::{Value, json};

use super::{ProviderCall, ToolResult, input_object};
use crate::protocol::ToolInfo;

/// `{"name", "description", "input_schema"}`.
pub(super) fn definition(tool: &ToolInfo, input_schema: Value) -> Value {
    json!({
        "name": tool.name,
        "description": tool.description,
        "input_schema": input_schema,
    })
}

/// The `tool_use` blocks of a whole message (`content`) or of the content
/// array; text and thinking blocks are skipped.
pub(super) fn calls(answer: &Value) -> Result<Vec<ProviderCall>, String> {
    let blocks = match answer {
        Value::Object(fields) => match fields.get("content") {
            Some(Value::Array(blocks)) => blocks.as_slice(),
            Some(Value::String(_)) => return Ok(Vec::new()),
            Some(_) => return Err("`content` is not an array of blocks".into()),
            None => return Err("expected a message with `content`, or content blocks".into()),
        },
        Value::Array(blocks) => blocks.as_slice(),
        _ => return Err("expected a message with `content`, or content blocks".into()),
    };
    let mut calls = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        if block.get("type").and_then(Value::as_str) != Some("tool_use") {
            continue;
        }
        let text = |field: &str| {
            block
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("block {index} (tool_use) has no string `{field}`"))
        };
        calls.push(ProviderCall {
            id: text("id")?,
            name: text("name")?,
            input: input_object(block.get("input")),
        });
    }
    Ok(calls)
}

/// `{"role": "user", "content": [{"type": "tool_result", ...}, ...]}`.
pub(super) fn results<'a>(
    pairs: impl Iterator<Item = (&'a ProviderCall, &'a ToolResult)>,
) -> Value {
    let blocks: Vec<Value> = pairs
        .map(|(call, result)| {
            json!({
                "type": "tool_result",
                "tool_use_id": call.id,
                "content": result.text,
                "is_error": result.is_error,
            })
        })
        .collect();
    json!({"role": "user", "content": blocks})
}
