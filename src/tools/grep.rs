//! `grep`: a regex search over a tree, gitignore-aware, with line numbers.
//! Built on the crates ripgrep is made of (`ignore`, `grep-regex`, `grep-searcher`).

use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use grep_regex::RegexMatcherBuilder;
use grep_searcher::sinks::Lossy;
use grep_searcher::{BinaryDetection, SearcherBuilder};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolsConfig, at_place, confine, paths};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Longest matching line shown, in characters.
const MAX_LINE_CHARS: usize = 500;

/// Input of the grep tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrepInput {
    /// A regular expression (Rust regex syntax), e.g. `fn \w+\(` or `TODO|FIXME`.
    pub pattern: String,
    /// File or directory to search (default: the workspace).
    #[serde(default)]
    pub path: Option<String>,
    /// Only search files whose name matches this glob, e.g. `*.rs`.
    #[serde(default)]
    pub include: Option<String>,
    /// Match without regard to case (default false).
    #[serde(default)]
    pub case_insensitive: bool,
}

/// The grep tool.
#[derive(Debug, Clone)]
pub struct Grep {
    config: Arc<ToolsConfig>,
}

impl Grep {
    /// A grep tool with these limits.
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Grep {
    type Input = GrepInput;

    fn name(&self) -> &str {
        "grep"
    }

    fn description(&self) -> &str {
        "Searches file contents with a regular expression and returns matching lines grouped by \
         file as `path:line: text`. Honors .gitignore and skips binary files. Narrow the search \
         with path and include (a file-name glob such as `*.rs`). Results are capped."
    }

    async fn run(&self, input: GrepInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let root = paths::resolve_for_tool(&ctx, input.path.as_deref().unwrap_or(".")).await?;
        let matcher = RegexMatcherBuilder::new()
            .case_insensitive(input.case_insensitive)
            .build(&input.pattern)
            .map_err(|e| ToolError::failed(format!("invalid regex {:?}: {e}", input.pattern)))?;
        let include = match &input.include {
            Some(glob) => Some(
                globset::Glob::new(glob)
                    .map_err(|e| ToolError::failed(format!("invalid include glob {glob:?}: {e}")))?
                    .compile_matcher(),
            ),
            None => None,
        };
        let cap = self.config.max_grep_matches;
        let cancel = ctx.cancel.clone();
        let workdir = ctx.workdir().to_path_buf();
        let shown_root = paths::display(&workdir, &root);
        let searched = root.clone();
        at_place(&self.config, &ctx, &root, &shown_root, move |place| {
            let dir = place.open_dir()?;
            let mut searcher = SearcherBuilder::new()
                .binary_detection(BinaryDetection::quit(0))
                .line_number(true)
                .build();
            let mut out = String::new();
            let mut matches = 0usize;
            let mut files = 0usize;
            let mut truncated = false;
            confine::walk(dir, &cancel, |entry| {
                if include.as_ref().is_some_and(|g| !g.is_match(entry.name)) {
                    return ControlFlow::Continue(());
                }
                let Ok(file) = entry.open() else {
                    return ControlFlow::Continue(());
                };
                let shown = paths::display(&workdir, &searched.join(entry.rel));
                let mut hits = Vec::new();
                let result = searcher.search_file(
                    &matcher,
                    &file,
                    Lossy(|line_number, line| {
                        let line = line.trim_end_matches(['\n', '\r']);
                        let line: String = line.chars().take(MAX_LINE_CHARS).collect();
                        hits.push(format!("{shown}:{line_number}: {line}"));
                        Ok(matches + hits.len() < cap)
                    }),
                );
                if result.is_err() || hits.is_empty() {
                    return ControlFlow::Continue(());
                }
                files += 1;
                matches += hits.len();
                for hit in hits {
                    out.push_str(&hit);
                    out.push('\n');
                }
                if matches >= cap {
                    truncated = true;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            })?;
            if matches == 0 {
                out = "No matches found".to_owned();
            } else if truncated {
                out.push_str(&format!("[results truncated at {cap} matches]\n"));
            }
            Ok(ToolResponse::text(out)
                .with_metadata("matches", matches)
                .with_metadata("files", files)
                .with_metadata("truncated", truncated))
        })
        .await
    }
}
