//! `question`: asks the user through the question manager.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::QuestionInfo;
use crate::protocol::ToolResponse;
use crate::tool::TypedTool;

/// Input of the question tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionInput {
    /// The questions to ask, in order.
    #[schemars(length(min = 1))]
    pub questions: Vec<QuestionInfo>,
}

/// The question tool.
#[derive(Debug, Clone, Default)]
pub struct Question;

#[async_trait]
impl TypedTool for Question {
    type Input = QuestionInput;

    fn name(&self) -> &str {
        "question"
    }

    fn description(&self) -> &str {
        "Asks the user one or more questions and waits for the answers. Offer options when the \
         choices are known (set multiple to allow several, custom to allow free text). Use it when \
         a decision is the user's to make, not to ask for permission to run tools."
    }

    async fn run(&self, input: QuestionInput, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        if input.questions.is_empty() {
            return Err(ToolError::failed("no questions given"));
        }
        let answers = ctx.ask_questions(input.questions.clone()).await?;
        let lines: Vec<String> = input
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let answer = answers.get(i).map(|a| a.join(", ")).unwrap_or_default();
                let answer = if answer.is_empty() {
                    "(no answer)".to_owned()
                } else {
                    answer
                };
                format!("\"{}\" = \"{answer}\"", q.question)
            })
            .collect();
        Ok(
            ToolResponse::text(format!("The user answered:\n{}", lines.join("\n"))).with_metadata(
                "answers",
                serde_json::to_value(&answers).unwrap_or_default(),
            ),
        )
    }
}
