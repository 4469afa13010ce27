//! The Model Context Protocol's tool shapes: `tools/list` entries,
//! `tools/call` requests and their JSON-RPC responses (`CallToolResult`).

use serde_json::{Value, json};

use super::{ProviderCall, ToolResult, input_object};
use crate::protocol::ToolInfo;

/// `{"name", "description", "inputSchema"}`.
pub(super) fn definition(tool: &ToolInfo, input_schema: Value) -> Value {
    json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": input_schema,
    })
}

/// One `tools/call` request, or a batch of them (other methods are an
/// error: this is not an MCP server, see `toolwire mcp` for that).
pub(super) fn calls(answer: &Value) -> Result<Vec<ProviderCall>, String> {
    let requests = match answer {
        Value::Array(requests) => requests.as_slice(),
        Value::Object(_) => std::slice::from_ref(answer),
        _ => return Err("expected a `tools/call` request or a batch of them".into()),
    };
    requests
        .iter()
        .enumerate()
        .map(|(index, request)| {
            let method = request.get("method").and_then(Value::as_str);
            if method != Some("tools/call") {
                return Err(format!("request {index} is not `tools/call`"));
            }
            let id = request
                .get("id")
                .filter(|id| id.is_string() || id.is_number())
                .ok_or_else(|| format!("request {index} has no string or number `id`"))?;
            let params = request.get("params");
            let name = params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("request {index} has no string `params.name`"))?;
            Ok(ProviderCall {
                id: id.to_string(),
                name: name.to_owned(),
                input: input_object(params.and_then(|p| p.get("arguments"))),
            })
        })
        .collect()
}

/// `{"jsonrpc": "2.0", "id": ..., "result": {"content": [...], "isError": ...}}`.
pub(super) fn result((call, result): (&ProviderCall, &ToolResult)) -> Value {
    let id = serde_json::from_str(&call.id).unwrap_or_else(|_| Value::String(call.id.clone()));
    let mut tool_result = json!({
        "content": [{"type": "text", "text": result.text}],
        "isError": result.is_error,
    });
    if let Some(structured) = &result.structured {
        tool_result["structuredContent"] = structured.clone();
    }
    json!({"jsonrpc": "2.0", "id": id, "result": tool_result})
}
