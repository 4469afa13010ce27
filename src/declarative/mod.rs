//! Declarative tools: a tools file (YAML, compatible with MCP Toolbox's
//! config v2 where they overlap) of HTTP and command tools, toolsets and
//! credentials, served next to the built-ins.
//!
//! - `spec`: the documents as written; `load` (here): the file read whole,
//!   every reference checked, or refused with the document and field.
//! - `env`: `${VAR}` / `${VAR:-default}`; `template`: the Go-template subset.
//! - `params`: parameters → JSON Schema; `secrets`: credentials, redaction.
//! - `http`, `command`: the two tool types; `reload`: the file watched and
//!   swapped into a [`LocalExecutor`] while calls run.
//!
//! ```
//! use toolwire::declarative::ToolsFile;
//!
//! let file = ToolsFile::parse(
//!     "kind: tool\nname: hello\ntype: command\ndescription: Greets.\ncommand: [echo, hello]\n",
//!     "inline",
//! )
//! .unwrap();
//! assert_eq!(file.tool_infos()[0].name, "hello");
//! ```

mod command;
mod defs;
mod env;
mod http;
mod load;
mod params;
mod reload;
mod secrets;
mod spec;
mod template;

pub use load::LoadError;
pub use reload::{Reload, watch};
pub use secrets::Credentials;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::bus::PermissionRequest;
use crate::context::CallContext;
use crate::error::ToolError;
use crate::executor::{LocalExecutor, RegisterError};
use crate::protocol::ToolInfo;
use crate::tool::Tool;
use crate::tools::ToolsConfig;

/// The group of a [`LocalExecutor`] the tools of a file are registered in.
pub const GROUP: &str = "tools-file";

/// A loaded, checked tools file.
#[derive(Debug, Clone)]
pub struct ToolsFile {
    origin: String,
    tools: Vec<load::Definition>,
    toolsets: BTreeMap<String, Vec<String>>,
    mcp_servers: Vec<McpServerDef>,
}

/// A `kind: mcpServer` document: a stdio MCP server to start inside the
/// sandbox, its tools served as `NAME__tool` behind the permission rules
/// (the tool server makes it an `mcp::ChildSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServerDef {
    /// The prefix of its tools' names: letters, digits, `-`, `_`.
    pub name: String,
    /// Program and arguments, never run by a shell.
    pub argv: Vec<String>,
}

impl ToolsFile {
    /// The MCP servers the file declares (`kind: mcpServer`), in order.
    /// They are read when the server starts; a reload does not restart
    /// them.
    pub fn mcp_servers(&self) -> &[McpServerDef] {
        &self.mcp_servers
    }

    /// Reads and checks the file at `path` (environment references expanded
    /// from this process's environment).
    ///
    /// # Errors
    /// [`LoadError`] naming the file, the document and the field.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            file: path.display().to_string(),
            document: None,
            field: String::new(),
            reason: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks `text`; `origin` names it in errors.
    ///
    /// # Errors
    /// As [`ToolsFile::load`].
    pub fn parse(text: &str, origin: &str) -> Result<Self, LoadError> {
        load::parse(text, origin, |name| std::env::var(name).ok())
    }

    /// Where the file came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every tool, in file order.
    pub fn tool_infos(&self) -> Vec<ToolInfo> {
        self.tools.iter().map(load::Definition::info).collect()
    }

    /// The toolsets' names.
    pub fn toolsets(&self) -> impl Iterator<Item = &str> {
        self.toolsets.keys().map(String::as_str)
    }

    /// The tools of a toolset (`None`: every tool), for listing.
    ///
    /// # Errors
    /// [`LoadError`] for a toolset the file does not have.
    pub fn select(&self, toolset: Option<&str>) -> Result<Vec<ToolInfo>, LoadError> {
        Ok(self
            .selected(toolset)?
            .into_iter()
            .map(load::Definition::info)
            .collect())
    }

    fn selected(&self, toolset: Option<&str>) -> Result<Vec<&load::Definition>, LoadError> {
        let Some(name) = toolset else {
            return Ok(self.tools.iter().collect());
        };
        let names = self.toolsets.get(name).ok_or_else(|| LoadError {
            file: self.origin.clone(),
            document: None,
            field: "toolset".into(),
            reason: format!(
                "no toolset named `{name}` (toolsets: {})",
                self.toolsets.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })?;
        Ok(self
            .tools
            .iter()
            .filter(|tool| names.contains(&tool.name().to_owned()))
            .collect())
    }

    /// The tools to serve (only those of `toolset` when one is named):
    /// HTTP tools get one connection pool per source; command tools run
    /// as `config` says (tool user, output cap, environment).
    ///
    /// # Errors
    /// [`LoadError`] for an unknown toolset or an HTTP client that cannot
    /// be built.
    pub fn into_tools(
        &self,
        config: &Arc<ToolsConfig>,
        credentials: &Credentials,
        toolset: Option<&str>,
    ) -> Result<Vec<Arc<dyn Tool>>, LoadError> {
        let mut clients = http::Clients::default();
        self.selected(toolset)?
            .into_iter()
            .map(|definition| match definition {
                load::Definition::Http(def) => {
                    let client = clients
                        .for_source(&def.source)
                        .map_err(|reason| LoadError {
                            file: self.origin.clone(),
                            document: None,
                            field: format!("source {}", def.source.name),
                            reason,
                        })?;
                    Ok(Arc::new(http::HttpTool::new(
                        def.clone(),
                        client,
                        credentials.clone(),
                    )) as Arc<dyn Tool>)
                }
                load::Definition::Command(def) => Ok(Arc::new(command::CommandTool::new(
                    def.clone(),
                    config.clone(),
                    credentials.clone(),
                )) as Arc<dyn Tool>),
            })
            .collect()
    }

    /// Registers the tools (of `toolset`) in `executor`'s [`GROUP`],
    /// replacing what an earlier file put there.
    ///
    /// # Errors
    /// [`LoadError`] as [`ToolsFile::into_tools`], or when a tool's name is
    /// taken by a tool outside the file (a built-in, say).
    pub fn register(
        &self,
        executor: &LocalExecutor,
        config: &Arc<ToolsConfig>,
        credentials: &Credentials,
        toolset: Option<&str>,
    ) -> Result<usize, LoadError> {
        let tools = self.into_tools(config, credentials, toolset)?;
        let count = tools.len();
        executor
            .replace_group(GROUP, tools)
            .map_err(|e: RegisterError| LoadError {
                file: self.origin.clone(),
                document: None,
                field: "name".into(),
                reason: e.to_string(),
            })?;
        Ok(count)
    }
}

/// Asks the permission named after the tool, its inputs as patterns
/// ([`PermissionRequest::for_inputs`]).
async fn ask_permission(ctx: &CallContext, tool: &str, input: &Value) -> Result<(), ToolError> {
    ctx.ask_permission(PermissionRequest::for_inputs(tool, input))
        .await
}
