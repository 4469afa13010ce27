//! Command tools: a program and its arguments, each argument one argv entry
//! rendered from the parameters (never through a shell), run as every tool
//! program runs (`tools::process`: process group, clean environment, tool
//! user, output cap, timeout, cancellation).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::params::{input_schema, with_defaults};
use super::secrets::{Apply, AuthService, Credentials, Redactor};
use super::spec::ParamDoc;
use super::template::Template;
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::{ToolInfo, ToolResponse};
use crate::tool::Tool;
use crate::tools::{ToolsConfig, process};

/// A command tool, checked.
#[derive(Debug, Clone)]
pub(super) struct CommandDef {
    pub name: String,
    pub description: String,
    pub argv: Vec<Template>,
    pub params: Vec<ParamDoc>,
    /// Relative to the server's workdir.
    pub workdir: Option<String>,
    pub env: Vec<(String, Template)>,
    pub timeout: Duration,
    pub auth: Vec<Arc<AuthService>>,
}

impl CommandDef {
    pub(super) fn info(&self) -> ToolInfo {
        ToolInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            input_schema: input_schema(self.params.iter()),
        }
    }
}

/// A command tool ready to run.
pub(super) struct CommandTool {
    def: CommandDef,
    config: Arc<ToolsConfig>,
    credentials: Credentials,
}

impl CommandTool {
    pub(super) fn new(def: CommandDef, config: Arc<ToolsConfig>, credentials: Credentials) -> Self {
        Self {
            def,
            config,
            credentials,
        }
    }
}

#[async_trait]
impl Tool for CommandTool {
    fn info(&self) -> ToolInfo {
        self.def.info()
    }

    async fn call(&self, input: Value, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let input = with_defaults(input, self.def.params.iter());
        super::ask_permission(&ctx, &self.def.name, &input).await?;
        let argv: Vec<String> = self
            .def
            .argv
            .iter()
            .map(|t| t.render(&input, false))
            .collect();
        let workdir = match &self.def.workdir {
            Some(dir) => ctx.workdir().join(dir),
            None => ctx.workdir().to_path_buf(),
        };
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&workdir)
            .env_clear()
            .envs(
                self.config
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .env("PWD", &workdir);
        for (key, value) in &self.def.env {
            command.env(key, value.render(&input, false));
        }
        let mut redactor = Redactor::default();
        for auth in &self.def.auth {
            let secret = auth.secret(&self.credentials, &ctx.session_id)?;
            redactor.add(&secret);
            if let Apply::Env(name) = &auth.apply {
                command.env(name, secret.expose_secret());
            }
        }
        let mut response = process::run(
            command,
            &self.def.name,
            self.def.timeout,
            &self.config,
            &ctx,
        )
        .await?;
        response.output = redactor.apply(&response.output);
        Ok(response.with_title(self.def.name.clone()))
    }
}
