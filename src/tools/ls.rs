//! `ls`: the entries of one directory.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolsConfig, at_place, paths};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the ls tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LsInput {
    /// The directory, relative to the workspace or absolute (default: the workspace).
    #[serde(default)]
    pub path: Option<String>,
}

/// The ls tool.
#[derive(Debug, Clone)]
pub struct Ls {
    config: Arc<ToolsConfig>,
}

impl Ls {
    /// An ls tool with these limits.
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Ls {
    type Input = LsInput;

    fn name(&self) -> &str {
        "ls"
    }

    fn description(&self) -> &str {
        "Lists one directory: one entry per line, sorted by name, directories marked with a \
         trailing `/` and symbolic links as `name -> target`. Use glob to find files by pattern \
         in a whole tree."
    }

    async fn run(&self, input: LsInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let raw = input.path.unwrap_or_else(|| ".".to_owned());
        let path = paths::resolve_for_tool(&ctx, &raw).await?;
        let shown = paths::display(ctx.workdir(), &path);
        let cap = self.config.max_results;
        at_place(&self.config, &ctx, &path, &shown, move |place| {
            let dir = place.open_dir()?;
            let entries = dir
                .entries()
                .map_err(|e| ToolError::failed(format!("cannot list {}: {e}", place.shown)))?;
            let mut lines: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    match entry.file_type() {
                        Ok(t) if t.is_dir() => format!("{name}/"),
                        Ok(t) if t.is_symlink() => {
                            match dir.read_link_contents(entry.file_name()) {
                                Ok(target) => format!("{name} -> {}", target.display()),
                                Err(_) => name,
                            }
                        }
                        _ => name,
                    }
                })
                .collect();
            lines.sort();
            let total = lines.len();
            lines.truncate(cap);
            let mut out = lines.join("\n");
            if total > cap {
                out.push_str(&format!("\n[{} more entries not shown]", total - cap));
            }
            if total == 0 {
                out = "(empty directory)".to_owned();
            }
            Ok(ToolResponse::text(out)
                .with_title(place.shown.clone())
                .with_metadata("entries", total))
        })
        .await
    }
}
