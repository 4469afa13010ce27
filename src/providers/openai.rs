//! OpenAI Chat Completions (also Mistral and OpenAI-compatible servers), on
//! async-openai's types: `tools` entries, `tool_calls` of the assistant
//! message, `tool` role messages by `tool_call_id`.

use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestMessage, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionTool, ChatCompletionTools,
    FunctionObject,
};
use serde_json::Value;

use super::{ProviderCall, ToolResult, arguments_object, schema, typed};
use crate::protocol::ToolInfo;

/// `{"type": "function", "function": {...}}`.
pub(super) fn definition(tool: &ToolInfo, parameters: Value, strict: bool) -> Value {
    let parameters = if strict {
        schema::openai_strict(&parameters)
    } else {
        parameters
    };
    let definition = ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: tool.name.clone(),
            description: Some(tool.description.clone()),
            parameters: Some(parameters),
            strict: strict.then_some(true),
        },
    });
    serde_json::to_value(definition).unwrap_or(Value::Null)
}

/// The calls of a whole response (`choices[0].message`), of an assistant
/// message, or of a bare `tool_calls` array.
pub(super) fn calls(answer: &Value) -> Result<Vec<ProviderCall>, String> {
    let message = match answer.get("choices") {
        Some(Value::Array(choices)) => choices
            .first()
            .and_then(|choice| choice.get("message"))
            .ok_or("`choices` has no first choice with a `message`")?,
        Some(_) => return Err("`choices` is not an array".into()),
        None => answer,
    };
    let tool_calls = match message {
        Value::Array(_) => message,
        Value::Object(fields) => match fields.get("tool_calls") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(tool_calls) => tool_calls,
        },
        _ => return Err("expected a response, an assistant message or `tool_calls`".into()),
    };
    let tool_calls: Vec<ChatCompletionMessageToolCalls> = typed(tool_calls, "`tool_calls`")?;
    Ok(tool_calls
        .into_iter()
        .map(|call| match call {
            ChatCompletionMessageToolCalls::Function(call) => ProviderCall {
                input: arguments_object(&call.function.arguments),
                id: call.id,
                name: call.function.name,
            },
            ChatCompletionMessageToolCalls::Custom(call) => ProviderCall {
                id: call.id,
                name: call.custom_tool.name,
                input: Err("custom (free-form) tool calls are not supported".into()),
            },
        })
        .collect())
}

/// `{"role": "tool", "tool_call_id": ..., "content": ...}`. Chat Completions
/// has no error flag: an error is said in the text.
pub(super) fn result((call, result): (&ProviderCall, &ToolResult)) -> Value {
    let message = ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
        content: ChatCompletionRequestToolMessageContent::Text(result.text.clone()),
        tool_call_id: call.id.clone(),
    });
    serde_json::to_value(message).unwrap_or(Value::Null)
}
