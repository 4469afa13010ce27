//! What a bash script would run, read with a real parser (tree-sitter-bash):
//! every simple command anywhere in it (lists, pipelines, subshells, bodies
//! of `if`/`for`/`while`/`case`/functions, command and process
//! substitutions, the inner command of wrappers such as `timeout` or
//! `sudo`, literal `bash -c` and `eval` strings), and every path it writes,
//! deletes or enters (redirections and the arguments of `rm`, `cp`, `cd`, …).
//!
//! The analysis is pure: it reads the text and no file. The bash tool turns
//! it into permission requests (`bash` per command, `external_directory`
//! per path outside the workdir). What the analysis cannot understand — a
//! script that does not parse, a command name or a `bash -c` string that is
//! not literal, a sourced file — is marked [`SimpleCommand::opaque`] and
//! always asks a person: no allow rule can allow it.
//!
//! ```
//! let script = toolwire::shell::analyze("git status && echo \"a; b\" > out.txt");
//! let patterns: Vec<String> = script.commands.iter().map(|c| c.pattern()).collect();
//! assert_eq!(patterns, ["git status", "echo \"a; b\""]);
//! assert_eq!(script.paths[0].word.value(), Some("out.txt"));
//! ```

mod arity;
mod eval;
mod kinds;
mod walk;
mod word;
mod wrappers;

pub use arity::always_pattern;
pub use word::Word;

/// Nested scripts (`bash -c '… bash -c "…"'`) followed before giving up.
pub const MAX_SCRIPT_NESTING: usize = 4;

/// Depth of the syntax tree walked before giving up (deeply nested
/// substitutions); a deeper script is opaque.
pub const MAX_SYNTAX_DEPTH: usize = 200;

/// Everything a script would run and touch, as far as it can be known before
/// it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Every simple command, in the order they appear.
    pub commands: Vec<SimpleCommand>,
    /// Every path written, deleted, entered or redirected to.
    pub paths: Vec<PathUse>,
}

/// One simple command: its words as written, without leading `VAR=value`
/// assignments and without redirections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The words, the program first.
    pub words: Vec<Word>,
    /// Why this command cannot be judged by allow rules (it runs something
    /// the analysis cannot see); `None` for an ordinary command.
    pub opaque: Option<&'static str>,
}

impl SimpleCommand {
    /// The permission pattern: the words as written, joined by one space.
    pub fn pattern(&self) -> String {
        let mut pattern = String::new();
        for word in &self.words {
            if !pattern.is_empty() {
                pattern.push(' ');
            }
            pattern.push_str(&word.text);
        }
        pattern
    }

    /// What an `always` reply allows from now on (see [`always_pattern`]);
    /// `None` for an opaque command, which always asks.
    pub fn always(&self) -> Option<String> {
        if self.opaque.is_some() {
            return None;
        }
        let words: Vec<&str> = self.words.iter().map(|w| w.text.as_str()).collect();
        Some(always_pattern(&words))
    }
}

/// A path the script acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathUse {
    /// The path as written.
    pub word: Word,
    /// The directory it is relative to.
    pub cwd: Cwd,
    /// What uses it (`rm`, `a redirection`), for the person deciding.
    pub by: String,
}

/// The working directory of a command, as far as the analysis knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cwd {
    /// The directory the script started in, changed by these literal `cd`
    /// targets in order (none: the start directory).
    Known(Vec<String>),
    /// A `cd` to somewhere not literal (`cd "$d"`, `cd -`, `popd`) came first.
    Unknown,
}

/// Reads `script` and lists what it runs and touches. Never fails: a script
/// that does not parse is one opaque command, the whole text.
pub fn analyze(script: &str) -> Script {
    walk::analyze(script, 0)
}

#[cfg(test)]
mod tests;
