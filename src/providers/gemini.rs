//! Google Gemini: `functionDeclarations` with parameters in its OpenAPI
//! subset, `functionCall` parts, and one user content of `functionResponse`
//! parts by id and name.

use serde_json::{Value, json};

use super::{ProviderCall, ToolResult, input_object, schema};
use crate::protocol::ToolInfo;

/// `{"name", "description", "parameters"}`, parameters in Gemini's subset.
pub(super) fn declaration(tool: &ToolInfo, parameters: &Value) -> Result<Value, String> {
    Ok(json!({
        "name": tool.name,
        "description": tool.description,
        "parameters": schema::gemini(parameters)?,
    }))
}

/// The request's `tools`: one tool holding every declaration.
pub(super) fn tools(declarations: Vec<Value>) -> Value {
    json!([{"functionDeclarations": declarations}])
}

/// The `functionCall` parts of a whole response (`candidates[0].content`),
/// of a content, or of its parts.
pub(super) fn calls(answer: &Value) -> Result<Vec<ProviderCall>, String> {
    let content = match answer.get("candidates") {
        Some(Value::Array(candidates)) => candidates
            .first()
            .and_then(|candidate| candidate.get("content"))
            .ok_or("`candidates` has no first candidate with `content`")?,
        Some(_) => return Err("`candidates` is not an array".into()),
        None => answer,
    };
    let parts = match content {
        Value::Object(fields) => match fields.get("parts") {
            Some(Value::Array(parts)) => parts.as_slice(),
            None => &[],
            Some(_) => return Err("`parts` is not an array".into()),
        },
        Value::Array(parts) => parts.as_slice(),
        _ => return Err("expected a response, a content or its parts".into()),
    };
    let mut calls = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let Some(call) = part.get("functionCall") else {
            continue;
        };
        let name = call
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("part {index}: `functionCall` has no string `name`"))?;
        calls.push(ProviderCall {
            id: call
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            name: name.to_owned(),
            input: input_object(call.get("args")),
        });
    }
    Ok(calls)
}

/// `{"role": "user", "parts": [{"functionResponse": {...}}, ...]}`; the
/// text is the response's `output`, or its `error` for a failed call.
pub(super) fn results<'a>(
    pairs: impl Iterator<Item = (&'a ProviderCall, &'a ToolResult)>,
) -> Value {
    let parts: Vec<Value> = pairs
        .map(|(call, result)| {
            let key = if result.is_error { "error" } else { "output" };
            let mut response = json!({
                "name": call.name,
                "response": {key: result.text},
            });
            if !call.id.is_empty() {
                response["id"] = Value::String(call.id.clone());
            }
            json!({"functionResponse": response})
        })
        .collect();
    json!({"role": "user", "parts": parts})
}
