//! `edit`: replaces an exact string in a file, atomically.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolsConfig, ask_edit, at_place, confine, paths};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the edit tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditInput {
    /// The file, relative to the workspace or absolute.
    pub path: String,
    /// The exact text to replace (white space included).
    pub old_string: String,
    /// The text to put in its place.
    pub new_string: String,
    /// Replace every occurrence instead of requiring exactly one (default false).
    #[serde(default)]
    pub replace_all: bool,
}

/// The edit tool.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    config: Arc<ToolsConfig>,
}

impl Edit {
    /// The tool with these limits (its tool user).
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Edit {
    type Input = EditInput;

    fn name(&self) -> &str {
        "edit"
    }

    fn description(&self) -> &str {
        "Replaces old_string with new_string in a file. old_string must match the file exactly \
         (including indentation) and, unless replace_all is true, exactly once: include enough \
         surrounding lines to make it unique. When it is missing or ambiguous the file is left \
         unchanged and the error says why. The write is atomic."
    }

    async fn run(&self, input: EditInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        if input.old_string.is_empty() {
            return Err(ToolError::failed(
                "old_string is empty; use the write tool to create a file",
            ));
        }
        if input.old_string == input.new_string {
            return Err(ToolError::failed(
                "old_string and new_string are the same; nothing to change",
            ));
        }
        let path = paths::resolve_for_tool(&ctx, &input.path).await?;
        let shown = paths::display(ctx.workdir(), &path);
        let (original, updated, count) = {
            let (old, new, all) = (
                input.old_string.clone(),
                input.new_string.clone(),
                input.replace_all,
            );
            at_place(&self.config, &ctx, &path, &shown, move |place| {
                plan_edit(place, &old, &new, all)
            })
            .await?
        };
        let diff =
            serde_json::json!({ "old_string": input.old_string, "new_string": input.new_string });
        ask_edit(&ctx, &shown, Some(diff)).await?;
        at_place(&self.config, &ctx, &path, &shown, move |place| {
            // Refuse if the file changed while permission was being asked.
            let now = place.read()?;
            if now != original.as_bytes() {
                return Err(ToolError::failed(
                    "the file changed while the edit waited; read it again and retry",
                ));
            }
            place.write_atomic(updated.as_bytes()).map(drop)
        })
        .await?;
        Ok(
            ToolResponse::text(format!("Edited {shown}: {count} replacement(s)"))
                .with_title(shown)
                .with_metadata("replacements", count),
        )
    }
}

/// Reads the file and computes the edit without writing anything.
fn plan_edit(
    place: &confine::Place,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, String, usize), ToolError> {
    let shown = &place.shown;
    let bytes = place.read()?;
    let original = String::from_utf8(bytes).map_err(|_| {
        ToolError::failed(format!("{shown} is not UTF-8 text; it cannot be edited"))
    })?;
    let count = original.matches(old).count();
    match count {
        0 => Err(ToolError::failed(format!(
            "old_string was not found in {shown}; the file is unchanged (read it to copy the exact text)"
        ))),
        n if n > 1 && !replace_all => Err(ToolError::failed(format!(
            "old_string occurs {n} times in {shown}; the file is unchanged (add surrounding lines to make it unique, or set replace_all)"
        ))),
        n => {
            let updated = if replace_all {
                original.replace(old, new)
            } else {
                original.replacen(old, new, 1)
            };
            Ok((original, updated, n))
        }
    }
}
