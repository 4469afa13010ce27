//! Answers the sandbox's permission and question asks on the terminal.

use std::io::{BufRead, IsTerminal, Write};

use async_trait::async_trait;
use toolwire::InteractiveHandler;
use toolwire::context::QuestionAnswer;
use toolwire::protocol::{PermissionAsk, PermissionReply, QuestionAsk};

/// Asks on the terminal; answers "once" / the first option by itself when
/// told to, or when there is no terminal to ask on (CI).
pub struct TerminalAsker {
    auto: bool,
}

impl TerminalAsker {
    pub fn new(auto: bool) -> Self {
        Self {
            auto: auto || !std::io::stdin().is_terminal(),
        }
    }
}

fn prompt(question: String) -> String {
    tokio::task::block_in_place(|| {
        print!("{question}");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        line.trim().to_lowercase()
    })
}

#[async_trait]
impl InteractiveHandler for TerminalAsker {
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply {
        let what = format!("{} {}", ask.permission, ask.patterns.join(", "));
        if self.auto {
            println!(
                "  ? permission asked: {what}\n    -> once (answered automatically: --yes or no terminal)"
            );
            return PermissionReply::Once;
        }
        let always = ask.always.join(", ");
        let answer = prompt(format!(
            "  ? allow {what}?  [o]nce / [a]lways ({always}) / [r]eject: "
        ));
        match answer.as_str() {
            "a" | "always" => PermissionReply::Always,
            "o" | "once" | "y" | "yes" | "" => PermissionReply::Once,
            _ => PermissionReply::Reject,
        }
    }

    async fn questions(&self, ask: QuestionAsk) -> QuestionAnswer {
        let mut answers = Vec::new();
        for question in ask.questions {
            let first = question
                .options
                .first()
                .map(|o| o.label.clone())
                .unwrap_or_default();
            if self.auto {
                println!(
                    "  ? {} -> {first} (answered automatically)",
                    question.question
                );
                answers.push(vec![first]);
                continue;
            }
            let options: Vec<&str> = question.options.iter().map(|o| o.label.as_str()).collect();
            let answer = prompt(format!(
                "  ? {} [{}]: ",
                question.question,
                options.join("/")
            ));
            answers.push(vec![if answer.is_empty() { first } else { answer }]);
        }
        QuestionAnswer::Answers(answers)
    }
}
