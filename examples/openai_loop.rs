//! An agent loop against any OpenAI-compatible Chat Completions endpoint,
//! its tools running in a toolwire sandbox with no network.
//!
//! ```sh
//! OPENAI_API_KEY=sk-... cargo run --example openai_loop -- "How many files are in /etc?"
//! # any compatible server (vLLM, Ollama, Mistral, a proxy):
//! OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_MODEL=my-model cargo run --example openai_loop -- "…"
//! ```
//!
//! The loop: hand the model the sandbox's tools in OpenAI's format, send the
//! conversation, run every tool call of the answer in the sandbox (all of a
//! turn at once), append the `tool` messages, and again, until the model
//! answers in text. `tests/openai_loop.rs` runs it offline against a replay
//! server.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use toolwire::docker::{DockerLauncher, ImageConfig, LaunchConfig, Network};
use toolwire::providers::{ExportOptions, Format, run_calls};
use toolwire::{Action, CallOptions, Executor, PermissionRule};

/// Where the model is and how far the loop may go.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// The API's base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The bearer key, if the endpoint wants one.
    pub api_key: Option<String>,
    /// The model's name.
    pub model: String,
    /// Model turns at most.
    pub max_turns: usize,
}

impl LoopConfig {
    /// From `OPENAI_BASE_URL` (default OpenAI's), `OPENAI_API_KEY`,
    /// `OPENAI_MODEL` (default `gpt-4o-mini`).
    pub fn from_env() -> Self {
        Self {
            base_url: std::env::var("OPENAI_BASE_URL")
                .unwrap_or_else(|_| "https://api.openai.com/v1".into()),
            api_key: std::env::var("OPENAI_API_KEY").ok(),
            model: std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into()),
            max_turns: 20,
        }
    }
}

/// Runs `task` to the model's final text answer, every tool call through
/// `executor`.
///
/// # Errors
/// The endpoint failed or answered something that is not a Chat
/// Completions response, or there was no final answer within
/// `max_turns`.
pub async fn run_loop(
    config: &LoopConfig,
    executor: &dyn Executor,
    task: &str,
) -> anyhow::Result<String> {
    let tools =
        Format::OpenAi.tool_definitions(&executor.tools().await?, ExportOptions::default())?;
    let mut messages = vec![
        json!({"role": "system", "content": "You are a helpful agent. Use the tools to work in the sandbox's /workspace."}),
        json!({"role": "user", "content": task}),
    ];
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
    for _turn in 0..config.max_turns {
        let body = json!({"model": config.model, "messages": messages, "tools": tools});
        let mut request = client.post(&url).json(&body);
        if let Some(key) = &config.api_key {
            request = request.bearer_auth(key);
        }
        let response: Value = request
            .send()
            .await
            .with_context(|| format!("POST {url}"))?
            .error_for_status()?
            .json()
            .await
            .context("the endpoint's answer is not JSON")?;
        let calls = Format::OpenAi.parse_calls(&response)?;
        let message = response["choices"][0]["message"].clone();
        if calls.is_empty() {
            return Ok(message["content"].as_str().unwrap_or_default().to_owned());
        }
        messages.push(message);
        for call in &calls {
            eprintln!(
                "-> {} {}",
                call.name,
                call.input
                    .as_ref()
                    .map_or_else(|e| e.clone(), Value::to_string)
            );
        }
        let results = run_calls(executor, &calls, "openai-loop", &CallOptions::default()).await;
        messages.extend(Format::OpenAi.result_messages(&calls, &results));
    }
    bail!("no final answer within {} turns", config.max_turns)
}

#[allow(dead_code)] // the test includes this file for `run_loop`
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let task = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    if task.is_empty() {
        bail!(
            "usage: openai_loop TASK (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL from the environment)"
        );
    }
    let launcher = DockerLauncher::connect(ImageConfig::default()).await?;
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("openai-loop")
                .network(Network::None),
        )
        .await?;
    // The sandbox has no network and is removed afterwards: its tools may
    // run without asking.
    sandbox
        .executor()
        .set_rules(vec![PermissionRule::new("*", "*", Action::Allow)])
        .await?;
    let answer = run_loop(&LoopConfig::from_env(), sandbox.executor(), &task).await;
    sandbox.shutdown().await?;
    println!("{}", answer?);
    Ok(())
}
