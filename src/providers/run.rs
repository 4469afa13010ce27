//! One model turn: every call runs at once, results come back in the
//! model's order.

use futures::future::join_all;

use super::{ProviderCall, ToolResult};
use crate::executor::{CallOptions, Executor};
use crate::protocol::ToolRequest;

/// Runs every call of one turn concurrently through `executor` and returns
/// one result per call, in the calls' order. A call whose input could not
/// be read is not run: its result is the error. `session_id` is set on
/// every request; `options` bounds each call.
pub async fn run_calls<E: Executor + ?Sized>(
    executor: &E,
    calls: &[ProviderCall],
    session_id: &str,
    options: &CallOptions,
) -> Vec<ToolResult> {
    join_all(calls.iter().enumerate().map(|(index, call)| async move {
        let input = match &call.input {
            Ok(input) => input.clone(),
            Err(problem) => {
                return ToolResult::error(format!(
                    "Error: tool call `{}` was not run: {problem}",
                    call.name
                ));
            }
        };
        let mut request = ToolRequest::new(call.name.clone(), input);
        if !call.id.is_empty() {
            request.tool_call_id = call.id.clone();
        } else {
            request.tool_call_id = format!("{}_{index}", request.tool_call_id);
        }
        request.session_id = session_id.to_owned();
        ToolResult::from_call(executor.execute_with(request, options.clone()).await)
    }))
    .await
}
