//! Reading a tools file: every document typed (unknown keys refused), then
//! every reference checked (sources, credentials, toolsets, template
//! parameters), so a bad file is refused as a whole with the document and
//! field that are wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::command::CommandDef;
use super::defs::{auth_def, command_def, http_def, source_def};
use super::http::HttpDef;
use super::secrets::Apply;
use super::spec::{
    AuthServiceDoc, CommandToolDoc, HttpToolDoc, McpServerDoc, SourceDoc, ToolsetDoc,
};
use super::{McpServerDef, ToolsFile};
use crate::protocol::ToolInfo;

/// Why a tools file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}{}: {reason}",
    .document.map(|n| format!(": document {n}")).unwrap_or_default(),
    if .field.is_empty() { String::new() } else { format!(": field `{}`", .field) })]
pub struct LoadError {
    /// The file (or the name given to [`ToolsFile::parse`]).
    pub file: String,
    /// The document, counted from 1, when the error is in one.
    pub document: Option<usize>,
    /// The field, as a path (`queryParams[1].type`), when the error is in one.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// One tool of the file.
#[derive(Debug, Clone)]
pub(super) enum Definition {
    Http(HttpDef),
    Command(CommandDef),
}

impl Definition {
    pub(super) fn name(&self) -> &str {
        match self {
            Self::Http(def) => &def.name,
            Self::Command(def) => &def.name,
        }
    }

    pub(super) fn info(&self) -> ToolInfo {
        match self {
            Self::Http(def) => def.info(),
            Self::Command(def) => def.info(),
        }
    }
}

/// A document after the first pass, with its number.
enum Doc {
    Source(SourceDoc),
    Http(HttpToolDoc),
    Command(CommandToolDoc),
    Toolset(ToolsetDoc),
    Auth(AuthServiceDoc),
    McpServer(McpServerDoc),
}

struct Errors<'a> {
    file: &'a str,
}

impl Errors<'_> {
    fn at(
        &self,
        document: usize,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> LoadError {
        LoadError {
            file: self.file.to_owned(),
            document: Some(document),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Reads `text` (from `origin`), `${VAR}` references looked up with `lookup`.
pub(super) fn parse(
    text: &str,
    origin: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ToolsFile, LoadError> {
    let errors = Errors { file: origin };
    let text = super::env::expand(text, lookup).map_err(|(name, offset)| {
        let document = 1 + text[..offset]
            .lines()
            .filter(|line| line.trim_end() == "---")
            .count();
        errors.at(
            document,
            "",
            format!("the environment variable {name} is not set (write ${{{name}:-default}} to give a default)"),
        )
    })?;
    let mut docs = Vec::new();
    for (index, document) in yaml_serde::Deserializer::from_str(&text).enumerate() {
        let number = index + 1;
        let value = yaml_serde::Value::deserialize(document).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            errors.at(number, "", format!("not valid YAML{at}: {e}"))
        })?;
        if value.is_null() {
            continue;
        }
        let field = |name: &str| {
            value
                .get(name)
                .and_then(yaml_serde::Value::as_str)
                .map(str::to_owned)
        };
        let kind = field("kind")
            .ok_or_else(|| errors.at(number, "kind", "every document needs a `kind`"))?;
        let doc = match (kind.as_str(), field("type").as_deref()) {
            ("source", Some("http")) => Doc::Source(typed(value, number, &errors)?),
            ("source", _) => {
                return Err(errors.at(number, "type", "a source must be `type: http`"));
            }
            ("tool", Some("http")) => Doc::Http(typed(value, number, &errors)?),
            ("tool", Some("command")) => Doc::Command(typed(value, number, &errors)?),
            ("tool", _) => {
                return Err(errors.at(
                    number,
                    "type",
                    "a tool must be `type: http` or `type: command`",
                ));
            }
            ("toolset", _) => Doc::Toolset(typed(value, number, &errors)?),
            ("authService", _) => Doc::Auth(typed(value, number, &errors)?),
            ("mcpServer", _) => Doc::McpServer(typed(value, number, &errors)?),
            (other, _) => {
                return Err(errors.at(
                    number,
                    "kind",
                    format!("unknown kind `{other}` (one of: source, tool, toolset, authService, mcpServer)"),
                ));
            }
        };
        docs.push((number, doc));
    }
    check(docs, &errors)
}

fn typed<T: DeserializeOwned>(
    value: yaml_serde::Value,
    number: usize,
    errors: &Errors<'_>,
) -> Result<T, LoadError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        errors.at(
            number,
            if path == "." { String::new() } else { path },
            e.inner().to_string(),
        )
    })
}

pub(super) fn duration(text: Option<&str>, default: Duration) -> Result<Duration, String> {
    match text {
        None => Ok(default),
        Some(text) => humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration such as 30s: {e}")),
    }
}

/// The second pass: names unique per kind, references resolved.
fn check(docs: Vec<(usize, Doc)>, errors: &Errors<'_>) -> Result<ToolsFile, LoadError> {
    let mut sources = BTreeMap::new();
    let mut auth = BTreeMap::new();
    for (number, doc) in &docs {
        match doc {
            Doc::Source(source) => {
                let def = source_def(source)
                    .map_err(|(field, reason)| errors.at(*number, field, reason))?;
                if sources.insert(source.name.clone(), Arc::new(def)).is_some() {
                    return Err(errors.at(
                        *number,
                        "name",
                        format!("a second source named `{}`", source.name),
                    ));
                }
            }
            Doc::Auth(service) => {
                let def = auth_def(service)
                    .map_err(|(field, reason)| errors.at(*number, field, reason))?;
                if auth.insert(service.name.clone(), Arc::new(def)).is_some() {
                    return Err(errors.at(
                        *number,
                        "name",
                        format!("a second authService named `{}`", service.name),
                    ));
                }
            }
            _ => {}
        }
    }
    let credentials = |number: usize, names: &[String]| {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                auth.get(name).cloned().ok_or_else(|| {
                    errors.at(
                        number,
                        format!("authRequired[{i}]"),
                        format!("no authService named `{name}`"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let mut tools = Vec::new();
    let mut names = BTreeSet::new();
    for (number, doc) in &docs {
        let definition = match doc {
            Doc::Http(tool) => {
                let source = sources.get(&tool.source).cloned().ok_or_else(|| {
                    errors.at(
                        *number,
                        "source",
                        format!("no source named `{}`", tool.source),
                    )
                })?;
                let auth = credentials(*number, &tool.auth_required)?;
                if let Some(env_only) = auth.iter().find(|a| matches!(a.apply, Apply::Env(_))) {
                    return Err(errors.at(*number, "authRequired", format!("authService `{}` applies as an environment variable, which only command tools have", env_only.name)));
                }
                Definition::Http(
                    http_def(tool, source, auth)
                        .map_err(|(field, reason)| errors.at(*number, field, reason))?,
                )
            }
            Doc::Command(tool) => {
                let auth = credentials(*number, &tool.auth_required)?;
                if let Some(http_only) = auth.iter().find(|a| !matches!(a.apply, Apply::Env(_))) {
                    return Err(errors.at(*number, "authRequired", format!("authService `{}` applies to HTTP requests; a command tool takes `apply: {{env: NAME}}`", http_only.name)));
                }
                Definition::Command(
                    command_def(tool, auth)
                        .map_err(|(field, reason)| errors.at(*number, field, reason))?,
                )
            }
            _ => continue,
        };
        if !names.insert(definition.name().to_owned()) {
            return Err(errors.at(
                *number,
                "name",
                format!("a second tool named `{}`", definition.name()),
            ));
        }
        tools.push(definition);
    }
    let mut toolsets = BTreeMap::new();
    for (number, doc) in &docs {
        if let Doc::Toolset(set) = doc {
            for (i, tool) in set.tools.iter().enumerate() {
                if !names.contains(tool) {
                    return Err(errors.at(
                        *number,
                        format!("tools[{i}]"),
                        format!("no tool named `{tool}`"),
                    ));
                }
            }
            if toolsets
                .insert(set.name.clone(), set.tools.clone())
                .is_some()
            {
                return Err(errors.at(
                    *number,
                    "name",
                    format!("a second toolset named `{}`", set.name),
                ));
            }
        }
    }
    let mut mcp_servers: Vec<McpServerDef> = Vec::new();
    for (number, doc) in &docs {
        if let Doc::McpServer(server) = doc {
            let name_ok = !server.name.is_empty()
                && server
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                return Err(errors.at(
                    *number,
                    "name",
                    "an MCP server's name is letters, digits, '-' and '_'",
                ));
            }
            if server.command.first().is_none_or(String::is_empty) {
                return Err(errors.at(*number, "command", "the program to run is missing"));
            }
            if mcp_servers.iter().any(|s| s.name == server.name) {
                return Err(errors.at(
                    *number,
                    "name",
                    format!("a second MCP server named `{}`", server.name),
                ));
            }
            mcp_servers.push(McpServerDef {
                name: server.name.clone(),
                argv: server.command.clone(),
            });
        }
    }
    Ok(ToolsFile {
        origin: errors.file.to_owned(),
        tools,
        toolsets,
        mcp_servers,
    })
}
