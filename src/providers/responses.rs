//! OpenAI Responses, on async-openai's types: function tools, the
//! `function_call` output items, `function_call_output` items by `call_id`.

use async_openai::types::responses::{
    FunctionCallOutput, FunctionCallOutputItemParam, FunctionTool, Item, OutputItem, Tool,
};
use serde_json::Value;

use super::{ProviderCall, ToolResult, arguments_object, schema, typed};
use crate::protocol::ToolInfo;

/// `{"type": "function", "name": ..., "parameters": ..., "strict": ...}`.
/// `strict` is always written: the Responses API defaults it to true, which
/// a schema not made strict would fail.
pub(super) fn definition(tool: &ToolInfo, parameters: Value, strict: bool) -> Value {
    let parameters = if strict {
        schema::openai_strict(&parameters)
    } else {
        parameters
    };
    let definition = Tool::Function(FunctionTool {
        name: tool.name.clone(),
        description: Some(tool.description.clone()),
        parameters: Some(parameters),
        strict: Some(strict),
        ..FunctionTool::default()
    });
    serde_json::to_value(definition).unwrap_or(Value::Null)
}

/// The `function_call` items of a whole response (`output`), of the output
/// array, or one item; other items (messages, reasoning) are skipped.
pub(super) fn calls(answer: &Value) -> Result<Vec<ProviderCall>, String> {
    let items = match answer {
        Value::Object(fields) => match fields.get("output") {
            Some(Value::Array(items)) => items.as_slice(),
            Some(_) => return Err("`output` is not an array".into()),
            None if fields.contains_key("type") => std::slice::from_ref(answer),
            None => return Err("expected a response with `output`, or output items".into()),
        },
        Value::Array(items) => items.as_slice(),
        _ => return Err("expected a response with `output`, or output items".into()),
    };
    let mut calls = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if item.get("type").and_then(Value::as_str) != Some("function_call") {
            continue;
        }
        let OutputItem::FunctionCall(call) = typed(item, &format!("output item {index}"))? else {
            continue;
        };
        calls.push(ProviderCall {
            input: arguments_object(&call.arguments),
            id: call.call_id,
            name: call.name,
        });
    }
    Ok(calls)
}

/// `{"type": "function_call_output", "call_id": ..., "output": ...}`.
pub(super) fn result((call, result): (&ProviderCall, &ToolResult)) -> Value {
    let item = Item::FunctionCallOutput(FunctionCallOutputItemParam {
        call_id: Some(call.id.clone()),
        output: FunctionCallOutput::Text(result.text.clone()),
        id: None,
        status: None,
        name: None,
        namespace: None,
        caller: None,
    });
    serde_json::to_value(item).unwrap_or(Value::Null)
}
