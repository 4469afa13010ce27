//! Permission rules and their evaluation.

use std::sync::RwLock;

use crate::protocol::{Action, PermissionRule};

use super::wildcard;

/// What a tool wants to do, as it asks for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PermissionRequest {
    /// Permission kind (`bash`, `edit`, `external_directory`).
    pub permission: String,
    /// What is accessed: the command, the workdir-relative path, the outside path.
    pub patterns: Vec<String>,
    /// What the tool could not understand (a bash script that does not
    /// parse, a command name that is not literal): a deny rule still denies
    /// these, but no allow rule allows them, so they always ask.
    pub opaque: Vec<String>,
    /// Patterns an `always` reply turns into allow rules (`git status *` for
    /// `git status -s`). When an ask lists only some patterns, the
    /// suggestions that cover none of them are left out.
    pub always: Vec<String>,
    /// Context for the person deciding.
    pub metadata: crate::protocol::Metadata,
}

impl PermissionRequest {
    /// The request of a tool whose inputs are what the rules judge
    /// (declarative tools, the tools of MCP servers in the sandbox): the
    /// permission is the tool's name, one `name=value` pattern per input (a
    /// string as it is, anything else as JSON; the tool's name when there
    /// is no input), and `*` as the `always` suggestion. So `weather
    /// city=Paris` or `weather *` are rules a person can read.
    pub fn for_inputs(tool: &str, input: &serde_json::Value) -> Self {
        let mut patterns: Vec<String> = input
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(name, value)| match value {
                        serde_json::Value::String(text) => format!("{name}={text}"),
                        other => format!("{name}={other}"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(tool.to_owned());
        }
        Self {
            permission: tool.to_owned(),
            patterns,
            always: vec!["*".to_owned()],
            ..Self::default()
        }
    }
}

/// The rules' verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every pattern is allowed.
    Allow,
    /// This pattern is denied by a rule.
    Deny {
        /// The denied pattern.
        pattern: String,
    },
    /// No deny, but some patterns have no allowing rule (or are opaque).
    Ask {
        /// The patterns to ask about, in the request's order.
        undecided: Vec<String>,
    },
}

/// The server's permission rules: `{permission, pattern, action}`, both
/// fields matched with [`wildcard::matches`], the last matching rule wins,
/// no match means ask.
#[derive(Debug, Default)]
pub struct PermissionManager {
    rules: RwLock<Vec<PermissionRule>>,
}

impl PermissionManager {
    /// A manager with no rules (everything asks).
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces all rules.
    pub fn set_rules(&self, rules: Vec<PermissionRule>) {
        *self
            .rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = rules;
    }

    /// Appends rules (they win over earlier ones).
    pub fn add_rules(&self, rules: impl IntoIterator<Item = PermissionRule>) {
        self.rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(rules);
    }

    /// The current rules, in order.
    pub fn rules(&self) -> Vec<PermissionRule> {
        self.rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The action for one `(permission, pattern)` pair.
    pub fn evaluate(&self, permission: &str, pattern: &str) -> Action {
        let rules = self
            .rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rules
            .iter()
            .rev()
            .find(|rule| {
                wildcard::matches(&rule.permission, permission)
                    && wildcard::matches(&rule.pattern, pattern)
            })
            .map_or(Action::Ask, |rule| rule.action)
    }

    /// The verdict for a request: any denied pattern denies it, otherwise any
    /// undecided or opaque pattern asks, otherwise it is allowed. A request
    /// with no patterns at all is judged by the pattern `*`.
    pub fn decide(&self, request: &PermissionRequest) -> Decision {
        let star = ["*".to_owned()];
        let patterns: &[String] = if request.patterns.is_empty() && request.opaque.is_empty() {
            &star
        } else {
            &request.patterns
        };
        let mut undecided = Vec::new();
        for pattern in patterns {
            match self.evaluate(&request.permission, pattern) {
                Action::Deny => {
                    return Decision::Deny {
                        pattern: pattern.clone(),
                    };
                }
                Action::Ask => undecided.push(pattern.clone()),
                Action::Allow => {}
            }
        }
        for pattern in &request.opaque {
            if self.evaluate(&request.permission, pattern) == Action::Deny {
                return Decision::Deny {
                    pattern: pattern.clone(),
                };
            }
            undecided.push(pattern.clone());
        }
        if undecided.is_empty() {
            Decision::Allow
        } else {
            Decision::Ask { undecided }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(permission: &str, pattern: &str) -> PermissionRequest {
        PermissionRequest {
            permission: permission.into(),
            patterns: vec![pattern.into()],
            ..PermissionRequest::default()
        }
    }

    fn ask(pattern: &str) -> Decision {
        Decision::Ask {
            undecided: vec![pattern.into()],
        }
    }

    #[test]
    fn opaque_patterns_ask_under_any_allow_rule_but_deny_rules_still_deny() {
        let pm = PermissionManager::new();
        pm.set_rules(vec![
            PermissionRule::new("*", "*", Action::Allow),
            PermissionRule::new("bash", "*rm *", Action::Deny),
        ]);
        let mut script = request("bash", "git status");
        script.opaque.push("echo 'unterminated".into());
        assert_eq!(pm.decide(&script), ask("echo 'unterminated"));
        script.opaque.push("$X; rm -rf /".into());
        assert_eq!(
            pm.decide(&script),
            Decision::Deny {
                pattern: "$X; rm -rf /".into()
            }
        );
    }

    #[test]
    fn no_rule_asks_and_last_match_wins() {
        let pm = PermissionManager::new();
        assert_eq!(pm.decide(&request("bash", "ls")), ask("ls"));
        pm.set_rules(vec![
            PermissionRule::new("bash", "*", Action::Allow),
            PermissionRule::new("bash", "rm *", Action::Deny),
            PermissionRule::new("bash", "rm -i *", Action::Ask),
        ]);
        assert_eq!(pm.decide(&request("bash", "ls -la")), Decision::Allow);
        assert_eq!(
            pm.decide(&request("bash", "rm -rf /")),
            Decision::Deny {
                pattern: "rm -rf /".into()
            }
        );
        assert_eq!(pm.decide(&request("bash", "rm -i x")), ask("rm -i x"));
        assert_eq!(pm.decide(&request("edit", "a.txt")), ask("a.txt"));
    }

    #[test]
    fn wildcard_permission_and_any_denied_pattern_denies() {
        let pm = PermissionManager::new();
        pm.set_rules(vec![
            PermissionRule::new("*", "*", Action::Allow),
            PermissionRule::new("edit", "*secret*", Action::Deny),
        ]);
        let mut both = request("edit", "src/lib.rs");
        both.patterns.push("config/secret.env".into());
        assert_eq!(
            pm.decide(&both),
            Decision::Deny {
                pattern: "config/secret.env".into()
            }
        );
        assert_eq!(
            pm.decide(&request("bash", "git origin push")),
            Decision::Allow
        );
    }
}
