//! `echo` and `sleep`: tools that cost nothing of their own, so a benchmark
//! measures only the runtime around them. Not part of [`super::builtin`];
//! `toolwire-server --bench-tools` adds them.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the echo tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EchoInput {
    /// Text to return unchanged.
    pub text: String,
}

/// Returns its input.
#[derive(Debug, Clone, Default)]
pub struct Echo;

#[async_trait]
impl TypedTool for Echo {
    type Input = EchoInput;
    fn name(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Returns the text it is given (for benchmarks and health checks)."
    }
    async fn run(&self, input: EchoInput, _ctx: CallContext) -> Result<ToolResponse, ToolError> {
        Ok(ToolResponse::text(input.text))
    }
}

/// Input of the sleep tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SleepInput {
    /// Milliseconds to wait.
    pub ms: u64,
}

/// Waits, then answers; stops early when cancelled.
#[derive(Debug, Clone, Default)]
pub struct Sleep;

#[async_trait]
impl TypedTool for Sleep {
    type Input = SleepInput;
    fn name(&self) -> &str {
        "sleep"
    }
    fn description(&self) -> &str {
        "Waits ms milliseconds, then answers (for benchmarks)."
    }
    async fn run(&self, input: SleepInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(input.ms)) => Ok(ToolResponse::text(format!("slept {} ms", input.ms))),
            () = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }
}
