//! `glob`: files matching a pattern, gitignore-aware.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolsConfig, at_place, confine, paths};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the glob tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobInput {
    /// The pattern, e.g. `**/*.rs` or `src/*.py`; without a `/` it matches file names at any depth.
    pub pattern: String,
    /// Directory to search (default: the workspace).
    #[serde(default)]
    pub path: Option<String>,
}

/// The glob tool.
#[derive(Debug, Clone)]
pub struct Glob {
    config: Arc<ToolsConfig>,
}

impl Glob {
    /// A glob tool with these limits.
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Glob {
    type Input = GlobInput;

    fn name(&self) -> &str {
        "glob"
    }

    fn description(&self) -> &str {
        "Finds files whose path matches a glob pattern (`**/*.rs`, `src/**/test_*.py`; a pattern \
         without `/` such as `*.toml` matches file names at any depth). Honors .gitignore. Returns \
         paths relative to the searched directory, most recently modified first, capped at a \
         maximum number of results."
    }

    async fn run(&self, input: GlobInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let root = paths::resolve_for_tool(&ctx, input.path.as_deref().unwrap_or(".")).await?;
        let by_name = !input.pattern.contains('/');
        let matcher = globset::GlobBuilder::new(&input.pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                ToolError::failed(format!("invalid glob pattern {:?}: {e}", input.pattern))
            })?
            .compile_matcher();
        let cap = self.config.max_results;
        let cancel = ctx.cancel.clone();
        let shown = paths::display(ctx.workdir(), &root);
        at_place(&self.config, &ctx, &root, &shown, move |place| {
            let dir = place.open_dir()?;
            let mut found: Vec<(SystemTime, String)> = Vec::new();
            confine::walk(dir, &cancel, |entry| {
                let hit = if by_name {
                    matcher.is_match(entry.name)
                } else {
                    matcher.is_match(entry.rel)
                };
                if hit {
                    let modified = entry.modified.unwrap_or(SystemTime::UNIX_EPOCH);
                    found.push((modified, entry.rel.display().to_string()));
                }
                ControlFlow::Continue(())
            })?;
            found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let total = found.len();
            let mut out: Vec<String> = found.into_iter().take(cap).map(|(_, p)| p).collect();
            if total > cap {
                out.push(format!(
                    "[results truncated: {total} files matched, {cap} shown]"
                ));
            }
            if total == 0 {
                out.push("No files found".to_owned());
            }
            Ok(ToolResponse::text(out.join("\n"))
                .with_metadata("matches", total)
                .with_metadata("truncated", total > cap))
        })
        .await
    }
}
