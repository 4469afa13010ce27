//! `read`: numbered lines of a text file.

use std::io::{BufRead, BufReader, Read as _};
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolsConfig, at_place, confine, paths};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the read tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// The file, relative to the workspace or absolute.
    pub path: String,
    /// First line to show, 1-based (default 1).
    #[serde(default)]
    pub offset: Option<u64>,
    /// How many lines to show (default 2000).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The read tool.
#[derive(Debug, Clone)]
pub struct Read {
    config: Arc<ToolsConfig>,
}

impl Read {
    /// A read tool with these limits.
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Read {
    type Input = ReadInput;

    fn name(&self) -> &str {
        "read"
    }

    fn description(&self) -> &str {
        "Reads a text file and returns its lines numbered like `cat -n` (line number, tab, text). \
         Use offset (1-based first line) and limit (number of lines, default 2000) to page through \
         long files. Very long lines are cut. Binary files, directories, FIFOs and devices are refused."
    }

    async fn run(&self, input: ReadInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let path = paths::resolve_for_tool(&ctx, &input.path).await?;
        let shown = paths::display(ctx.workdir(), &path);
        let config = self.config.clone();
        let offset = input.offset.unwrap_or(1).max(1);
        let limit = input.limit.unwrap_or(config.read_default_lines).max(1);
        at_place(&self.config, &ctx, &path, &shown, move |place| {
            read_lines(place, offset, limit, &config)
        })
        .await
    }
}

fn read_lines(
    place: &confine::Place,
    offset: u64,
    limit: u64,
    config: &ToolsConfig,
) -> Result<ToolResponse, ToolError> {
    let shown = place.shown.as_str();
    let file = place.open_file()?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::new(file);
    let head = reader
        .fill_buf()
        .map_err(|e| ToolError::failed(format!("cannot read {shown}: {e}")))?;
    if head[..head.len().min(8192)].contains(&0) {
        return Err(ToolError::failed(format!(
            "{shown} looks like a binary file ({} bytes); it cannot be shown as text",
            size
        )));
    }
    let mut out = String::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut shown_lines = 0u64;
    let mut truncated = false;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(config.read_max_line_bytes as u64 * 4 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| ToolError::failed(format!("cannot read {shown}: {e}")))?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n as u64 > config.read_max_line_bytes as u64 * 4 {
            // Skip the rest of an enormous line.
            let mut sink = Vec::new();
            let _ = reader.read_until(b'\n', &mut sink);
        }
        number += 1;
        if number < offset {
            continue;
        }
        if shown_lines >= limit || out.len() >= config.output_cap_bytes {
            truncated = true;
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let text = match text.char_indices().nth(config.read_max_line_bytes) {
            Some((cut, _)) => format!("{}… [line cut]", &text[..cut]),
            None => text.to_owned(),
        };
        out.push_str(&format!("{number:>6}\t{text}\n"));
        shown_lines += 1;
    }
    if number < offset && number > 0 {
        return Err(ToolError::failed(format!(
            "offset {offset} is past the end of {shown} ({number} lines)"
        )));
    }
    if truncated {
        out.push_str(&format!(
            "[more lines follow; continue with offset {}]\n",
            offset + shown_lines
        ));
    }
    Ok(ToolResponse::text(out)
        .with_title(shown.to_owned())
        .with_metadata("lines", shown_lines)
        .with_metadata("truncated", truncated))
}
