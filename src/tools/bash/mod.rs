//! `bash`: runs a command with `bash -c` in the workdir.
//!
//! Before it runs, the script is read with a shell parser and every command
//! in it is asked for as a `bash` pattern, every path outside the workdir it
//! writes or enters as `external_directory` (see [`permission_requests`]).
//!
//! The command runs as `process` runs every tool program: its own process
//! group, stdin from /dev/null, a clean environment (never the server's),
//! one capped output buffer, and the whole group killed when the shell
//! exits, times out or is cancelled. (Work meant to outlive the call must
//! leave the group, e.g. with `setsid`.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

mod permission;

pub use permission::permission_requests;

use super::{ToolsConfig, process};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the bash tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BashInput {
    /// The command to run (passed to `bash -c`).
    pub command: String,
    /// Timeout in milliseconds (default 120000, at most 600000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// What the command does, in five to ten words.
    #[serde(default)]
    pub description: Option<String>,
}

/// The bash tool.
#[derive(Debug, Clone)]
pub struct Bash {
    config: Arc<ToolsConfig>,
}

impl Bash {
    /// A bash tool with these limits.
    pub fn new(config: Arc<ToolsConfig>) -> Self {
        Self { config }
    }
}

#[async_trait]
impl TypedTool for Bash {
    type Input = BashInput;

    fn name(&self) -> &str {
        "bash"
    }

    fn description(&self) -> &str {
        "Runs a shell command with `bash -c` in the workspace directory and returns its combined \
         stdout and stderr and its exit code. Use it for builds, tests, git, package managers and \
         other terminal work; prefer the read, write, edit, ls, glob and grep tools for files. \
         Commands have no stdin (it is /dev/null), a clean environment, and a timeout (timeout_ms, \
         default 2 minutes, at most 10). Background processes are killed when the command ends. \
         Long output is truncated."
    }

    async fn run(&self, input: BashInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        if input.command.trim().is_empty() {
            return Err(ToolError::failed("the command is empty"));
        }
        permission::check(&ctx, &input.command).await?;

        let timeout = Duration::from_millis(
            input
                .timeout_ms
                .unwrap_or(self.config.bash_default_timeout_ms)
                .min(self.config.bash_max_timeout_ms),
        );
        let mut command = tokio::process::Command::new(&self.config.shell);
        command
            .arg("-c")
            .arg(&input.command)
            .current_dir(ctx.workdir())
            .env_clear()
            .envs(
                self.config
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .env("PWD", ctx.workdir());
        let response = process::run(command, "bash", timeout, &self.config, &ctx).await?;
        Ok(response.with_title(input.description.unwrap_or(input.command)))
    }
}
