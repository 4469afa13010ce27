//! Answers the sandbox's permission and question asks: on the terminal when
//! there is one, by itself when told to (`--yes`, `--allow-all`), and with a
//! refusal otherwise — an ask nobody can see is never approved. Prompts and
//! notes go to stderr, so stdout carries only the result.

use std::io::{BufRead, BufReader, Write};

use async_trait::async_trait;
use toolwire::InteractiveHandler;
use toolwire::context::QuestionAnswer;
use toolwire::protocol::{PermissionAsk, PermissionReply, QuestionAsk};

/// How asks are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// "once" for a permission, the first option for a question.
    Approve,
    /// Asked on the controlling terminal.
    Terminal,
    /// No terminal and no approval given: refused.
    Refuse,
}

/// Answers asks on the controlling terminal (`/dev/tty`, so it works while
/// stdin carries data), or by itself when told to.
pub struct TerminalAsker {
    policy: Policy,
}

impl TerminalAsker {
    /// `approve`: answer every ask with "once" / the first option, as
    /// `--yes` and `--allow-all` say.
    pub fn new(approve: bool) -> Self {
        let policy = if approve {
            Policy::Approve
        } else if std::fs::File::open("/dev/tty").is_ok() {
            Policy::Terminal
        } else {
            Policy::Refuse
        };
        Self { policy }
    }

    /// Refuses every ask (for callers that answer asks per call and have
    /// no terminal to fall back on: `toolwire mcp`).
    pub fn refusing() -> Self {
        Self {
            policy: Policy::Refuse,
        }
    }
}

/// Asks `question` on the terminal and reads one line of answer.
fn prompt(question: String) -> String {
    tokio::task::block_in_place(|| {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if let Ok(tty) = std::fs::File::open("/dev/tty") {
            let _ = BufReader::new(tty).read_line(&mut line);
        }
        line.trim().to_lowercase()
    })
}

#[async_trait]
impl InteractiveHandler for TerminalAsker {
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply {
        let what = format!("{} {}", ask.permission, ask.patterns.join(", "));
        match self.policy {
            Policy::Approve => {
                eprintln!("  ? permission asked: {what}\n    -> once (--yes / --allow-all)");
                PermissionReply::Once
            }
            Policy::Refuse => {
                eprintln!(
                    "  ? permission asked: {what}\n    -> refused: no terminal to ask on (pass --allow-all to approve)"
                );
                PermissionReply::Reject
            }
            Policy::Terminal => {
                let always = ask.always.join(", ");
                let answer = prompt(format!(
                    "  ? allow {what}?  [o]nce / [a]lways ({always}) / [r]eject: "
                ));
                match answer.as_str() {
                    "a" | "always" => PermissionReply::Always,
                    "o" | "once" | "y" | "yes" => PermissionReply::Once,
                    _ => PermissionReply::Reject,
                }
            }
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
            match self.policy {
                Policy::Approve => {
                    eprintln!(
                        "  ? {} -> {first} (answered automatically: --yes)",
                        question.question
                    );
                    answers.push(vec![first]);
                }
                Policy::Refuse => {
                    eprintln!(
                        "  ? {} -> not answered: no terminal to ask on",
                        question.question
                    );
                    return QuestionAnswer::Rejected;
                }
                Policy::Terminal => {
                    let options: Vec<&str> =
                        question.options.iter().map(|o| o.label.as_str()).collect();
                    let answer = prompt(format!(
                        "  ? {} [{}]: ",
                        question.question,
                        options.join("/")
                    ));
                    answers.push(vec![if answer.is_empty() { first } else { answer }]);
                }
            }
        }
        QuestionAnswer::Answers(answers)
    }
}
