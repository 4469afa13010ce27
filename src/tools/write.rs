//! `write`: creates or replaces a file, atomically.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolsConfig, ask_edit, at_place, paths};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the write tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteInput {
    /// The file, relative to the workspace or absolute.
    pub path: String,
    /// The whole new content of the file.
    pub content: String,
}

/// The write tool.
#[derive(Debug, Clone, Default)]
pub struct Write {
    config: Arc<ToolsConfig>,
}

impl Write {
    /// The tool with these limits (its tool user).
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Write {
    type Input = WriteInput;

    fn name(&self) -> &str {
        "write"
    }

    fn description(&self) -> &str {
        "Writes a file with the given content, creating parent directories as needed and replacing \
         the file if it exists. The write is atomic: readers see the old or the new content, never \
         a mix. Prefer the edit tool to change part of an existing file."
    }

    async fn run(&self, input: WriteInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let path = paths::resolve_for_tool(&ctx, &input.path).await?;
        let shown = paths::display(ctx.workdir(), &path);
        ask_edit(&ctx, &shown, None).await?;
        let bytes = input.content.len();
        let existed = at_place(&self.config, &ctx, &path, &shown, move |place| {
            place.write_atomic(input.content.as_bytes())
        })
        .await?;
        let verb = if existed { "Replaced" } else { "Created" };
        Ok(
            ToolResponse::text(format!("{verb} {shown} ({bytes} bytes)"))
                .with_title(shown)
                .with_metadata("bytes", bytes)
                .with_metadata("created", !existed),
        )
    }
}
