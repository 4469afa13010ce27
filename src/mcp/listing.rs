//! What toolwire takes from a child MCP server's tool list. The child is
//! third-party code, so its list is read as hostile: the listing is bounded
//! in pages and tools (a cursor that never ends cannot stall the server or
//! grow its memory), and a tool whose name breaks the MCP naming rules,
//! repeats an earlier one, or whose input schema does not compile is left
//! out with a warning, so one bad tool neither stops the server nor reaches
//! the model.

use rmcp::model::{PaginatedRequestParams, Tool as McpTool};
use rmcp::service::{Peer, RoleClient, ServiceError};

/// Pages of `tools/list` read at most; a server with a longer list is served
/// with what these pages held.
pub const MAX_LIST_PAGES: usize = 64;
/// Tools taken from one MCP server at most.
pub const MAX_CHILD_TOOLS: usize = 1024;
/// The longest tool name the MCP specification allows.
pub const MAX_TOOL_NAME: usize = 128;

/// Why a listed tool is left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    /// The name breaks the specification's format: 1 to 128 of ASCII
    /// letters, digits, `_`, `-` and `.`.
    #[error("its name {0:?} is not 1 to 128 of A-Z a-z 0-9 _ - .")]
    BadName(String),
    /// An earlier tool of the list has the same name.
    #[error("its name {0:?} is listed twice; the first is kept")]
    Duplicate(String),
    /// The input schema does not compile.
    #[error("the input schema of {name:?} does not compile: {problem}")]
    BadSchema {
        /// The tool's name.
        name: String,
        /// What the schema compiler said.
        problem: String,
    },
}

/// The tools of a child's list that toolwire serves, and what it left out
/// (each with the tool's name, quoted and escaped for the log).
#[derive(Debug, Default)]
pub struct Listing {
    /// The tools kept, in the child's order.
    pub tools: Vec<McpTool>,
    /// Tools left out and why.
    pub skipped: Vec<Skipped>,
    /// Whether the list went on past [`MAX_LIST_PAGES`] or
    /// [`MAX_CHILD_TOOLS`] and was cut there.
    pub truncated: bool,
}

/// Whether `name` is a tool name the MCP specification allows.
pub fn valid_tool_name(name: &str) -> bool {
    (1..=MAX_TOOL_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Reads the child's tool list, bounded, and keeps the tools toolwire can
/// serve. `schema_problem` says why a schema does not compile.
///
/// # Errors
/// When a `tools/list` request fails.
pub async fn list(
    peer: &Peer<RoleClient>,
    schema_problem: impl Fn(&serde_json::Value) -> Option<String>,
) -> Result<Listing, ServiceError> {
    let mut listing = Listing::default();
    let mut cursor = None;
    for _ in 0..MAX_LIST_PAGES {
        let page = peer
            .list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await?;
        for tool in page.tools {
            if listing.tools.len() >= MAX_CHILD_TOOLS {
                listing.truncated = true;
                return Ok(listing);
            }
            listing.take(tool, &schema_problem);
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(listing);
        }
    }
    listing.truncated = true;
    Ok(listing)
}

impl Listing {
    fn take(
        &mut self,
        tool: McpTool,
        schema_problem: &impl Fn(&serde_json::Value) -> Option<String>,
    ) {
        let name = tool.name.as_ref();
        if !valid_tool_name(name) {
            self.skipped.push(Skipped::BadName(shortened(name)));
        } else if self.tools.iter().any(|kept| kept.name == tool.name) {
            self.skipped.push(Skipped::Duplicate(name.to_owned()));
        } else if let Some(problem) =
            schema_problem(&serde_json::Value::Object((*tool.input_schema).clone()))
        {
            self.skipped.push(Skipped::BadSchema {
                name: name.to_owned(),
                problem,
            });
        } else {
            self.tools.push(tool);
        }
    }
}

/// A name cut to what a log line should carry.
fn shortened(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_specification() {
        for good in ["add", "get_user", "DATA.export-v2", &"x".repeat(128)] {
            assert!(valid_tool_name(good), "{good}");
        }
        for bad in [
            "",
            "two words",
            "a/b",
            "ünïcode",
            "new\nline",
            "semi;colon",
            &"x".repeat(129),
        ] {
            assert!(!valid_tool_name(bad), "{bad:?}");
        }
    }

    fn tool(name: &str, schema: serde_json::Value) -> McpTool {
        let serde_json::Value::Object(schema) = schema else {
            panic!("a schema object");
        };
        McpTool::new(name.to_owned(), "", schema)
    }

    #[test]
    fn each_tool_left_out_says_which_and_why() {
        let problem = |schema: &serde_json::Value| {
            (schema["type"] != "object").then(|| "not an object".to_owned())
        };
        let object = serde_json::json!({"type": "object"});
        let mut listing = Listing::default();
        for listed in [
            tool("ok", object.clone()),
            tool("bad name", object.clone()),
            tool("ok", object.clone()),
            tool("odd", serde_json::json!({"type": 12})),
        ] {
            listing.take(listed, &problem);
        }
        let kept: Vec<&str> = listing.tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(kept, ["ok"]);
        let said: Vec<String> = listing.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                r#"its name "bad name" is not 1 to 128 of A-Z a-z 0-9 _ - ."#,
                r#"its name "ok" is listed twice; the first is kept"#,
                r#"the input schema of "odd" does not compile: not an object"#,
            ]
        );
    }

    #[test]
    fn a_long_name_is_shortened_for_the_log() {
        let shown = shortened(&"é".repeat(1000));
        assert_eq!(shown.chars().count(), 65, "{shown}");
        assert!(shown.ends_with('…'));
        assert_eq!(shortened("add"), "add");
    }
}
