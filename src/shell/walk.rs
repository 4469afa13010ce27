//! The walk over tree-sitter-bash's syntax tree that collects commands and
//! paths.

use std::cell::RefCell;

use tree_sitter::{Node, Parser, Tree, TreeCursor};

use super::eval;
use super::kinds::{is_command_word, kind};
use super::word::{Word, text_of};
use super::wrappers::{self, Inner};
use super::{Cwd, MAX_SCRIPT_NESTING, MAX_SYNTAX_DEPTH, PathUse, Script, SimpleCommand};

thread_local! {
    /// One parser per thread: creating one costs more than parsing a line.
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Wrappers in one command (`env nice timeout … cmd`) followed before the
/// command is judged opaque.
const MAX_WRAPPERS: usize = 16;

/// Commands whose operands are paths they create, change, delete or enter.
const PATH_COMMANDS: &[&str] = &[
    "cd", "pushd", "rm", "rmdir", "mv", "cp", "ln", "mkdir", "touch", "chmod", "chown", "chgrp",
    "tee", "truncate", "install", "dd", "shred", "unlink", "rsync",
];

fn parse(script: &str) -> Option<Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = Parser::new();
            parser
                .set_language(&tree_sitter_bash::LANGUAGE.into())
                .ok()?;
            *slot = Some(parser);
        }
        slot.as_mut()?.parse(script, None)
    })
}

/// The analysis of `script` at nesting level `nesting`.
pub(super) fn analyze(script: &str, nesting: usize) -> Script {
    // A final newline changes nothing bash runs (it is a command separator;
    // a final backslash is left alone), but without it tree-sitter-bash
    // meets a dead branch at the end of a pipeline of three or more commands
    // and runs its error recovery: `a | b | c` parses in ~70 µs, with the
    // newline in ~6 µs.
    let terminated;
    let source = if script.ends_with('\n') || script.ends_with('\\') {
        script
    } else {
        terminated = format!("{script}\n");
        &terminated
    };
    let mut out = Script::default();
    let mut walker = Walker {
        source,
        out: &mut out,
        cwd: Cwd::Known(Vec::new()),
        nesting,
        evaluates_data: None,
    };
    let understood = match parse(source) {
        Some(tree) if !tree.root_node().has_error() => walker.walk(tree.root_node()).is_ok(),
        _ => false,
    };
    if !understood {
        return opaque(script, "the script could not be parsed");
    }
    if let Some(why) = walker.evaluates_data {
        out.commands.push(SimpleCommand {
            words: vec![Word::plain(script)],
            opaque: Some(why),
        });
    }
    out
}

fn opaque(script: &str, why: &'static str) -> Script {
    Script {
        commands: vec![SimpleCommand {
            words: vec![Word::plain(script)],
            opaque: Some(why),
        }],
        paths: Vec::new(),
    }
}

/// The tree is nested deeper than [`MAX_SYNTAX_DEPTH`].
struct TooDeep;

struct Walker<'s, 'o> {
    source: &'s str,
    out: &'o mut Script,
    cwd: Cwd,
    nesting: usize,
    /// Why the script evaluates data as code, if it does.
    evaluates_data: Option<&'static str>,
}

impl Walker<'_, '_> {
    /// Walks the whole tree in document order with one cursor (a cursor per
    /// node costs an allocation each, as much as the rest of the walk).
    fn walk(&mut self, root: Node<'_>) -> Result<(), TooDeep> {
        let mut cursor = root.walk();
        let mut depth = 0;
        loop {
            self.enter(&mut cursor);
            if cursor.goto_first_child() {
                depth += 1;
                if depth > MAX_SYNTAX_DEPTH {
                    return Err(TooDeep);
                }
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    return Ok(());
                }
                depth -= 1;
            }
        }
    }

    /// Takes in the node under `cursor` (its children come after); leaves
    /// the cursor where it was.
    fn enter(&mut self, cursor: &mut TreeCursor<'_>) {
        let node = cursor.node();
        let node_kind = kind(node);
        if let Some(why) = eval::data_as_code(node, node_kind, self.source) {
            self.evaluates_data.get_or_insert(why);
        }
        match node_kind {
            "command" => self.command(cursor),
            "declaration_command" | "unset_command" => {
                let mut words = Vec::new();
                if cursor.goto_first_child() {
                    loop {
                        words.push(Word::from_node(cursor.node(), self.source));
                        if !cursor.goto_next_sibling() {
                            break;
                        }
                    }
                    cursor.goto_parent();
                }
                self.out.commands.push(SimpleCommand {
                    words,
                    opaque: None,
                });
            }
            "file_redirect" => self.redirect(node),
            _ => {}
        }
    }

    /// A simple command (the node under `cursor`): its words (name and
    /// arguments, not assignments or redirections).
    fn command(&mut self, cursor: &mut TreeCursor<'_>) {
        let mut words = Vec::new();
        if cursor.goto_first_child() {
            loop {
                if is_command_word(cursor) {
                    words.push(Word::from_node(cursor.node(), self.source));
                }
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
            cursor.goto_parent();
        }
        if !words.is_empty() {
            self.add(words, 0);
        }
    }

    /// Adds a command, then what it runs in turn, and the paths it acts on.
    fn add(&mut self, words: Vec<Word>, wrapped: usize) {
        let inner = wrappers::inner(&words);
        let opaque = match &inner {
            _ if words[0].value().is_none() => Some("the command name is not literal"),
            Some(_) if wrapped >= MAX_WRAPPERS => Some("commands are wrapped too deeply to check"),
            Some(Inner::Opaque(why)) => Some(*why),
            Some(Inner::Script(_)) if self.nesting >= MAX_SCRIPT_NESTING => {
                Some("scripts are nested too deeply to check")
            }
            _ => None,
        };
        self.paths_of(&words);
        let runs: Vec<Vec<Word>> = match &inner {
            Some(Inner::Command(start)) => vec![words[*start..].to_vec()],
            Some(Inner::Commands(ranges)) => {
                ranges.iter().map(|r| words[r.clone()].to_vec()).collect()
            }
            _ => Vec::new(),
        };
        self.out.commands.push(SimpleCommand { words, opaque });
        if opaque.is_none() {
            for run in runs {
                self.add(run, wrapped + 1);
            }
        }
        if let Some(Inner::Script(script)) = inner
            && opaque.is_none()
        {
            let nested = analyze(&script, self.nesting + 1);
            self.merge(nested);
        }
    }

    /// Takes a nested script's findings; its relative paths start where the
    /// outer script is.
    fn merge(&mut self, nested: Script) {
        self.out.commands.extend(nested.commands);
        for mut path in nested.paths {
            path.cwd = match (&self.cwd, path.cwd) {
                (Cwd::Known(outer), Cwd::Known(inner)) => {
                    Cwd::Known(outer.iter().cloned().chain(inner).collect())
                }
                _ => Cwd::Unknown,
            };
            self.out.paths.push(path);
        }
    }

    /// The path operands of a command of [`PATH_COMMANDS`], and its effect
    /// on the working directory.
    fn paths_of(&mut self, words: &[Word]) {
        let Some(program) = wrappers::program(words) else {
            return;
        };
        if program == "popd" {
            self.cwd = Cwd::Unknown;
            return;
        }
        if !PATH_COMMANDS.contains(&program) {
            return;
        }
        let program = program.to_owned();
        let mut operands = Vec::new();
        let mut options_end = false;
        for word in &words[1..] {
            match word.value() {
                Some("--") if !options_end => options_end = true,
                Some(value) if !options_end && value.starts_with('-') && value.len() > 1 => {
                    // `--target-directory=DIR`, `-t/dir`: a path inside an option.
                    if let Some((_, path)) = value.split_once('=') {
                        operands.push(Word::plain(path));
                    } else if !value.starts_with("--") && value.len() > 2 {
                        let rest = &value[2..];
                        if rest.contains('/') || rest.starts_with('.') {
                            operands.push(Word::plain(rest));
                        }
                    }
                }
                Some(value) if program == "dd" => {
                    if let Some(path) = value.strip_prefix("of=").or(value.strip_prefix("if=")) {
                        operands.push(Word::plain(path));
                    }
                }
                _ => operands.push(word.clone()),
            }
        }
        let enters = program == "cd" || program == "pushd";
        if enters && operands.is_empty() {
            // `cd` alone goes home.
            operands.push(Word {
                text: "~".to_owned(),
                literal: None,
            });
        }
        for word in &operands {
            self.out.paths.push(PathUse {
                word: word.clone(),
                cwd: self.cwd.clone(),
                by: program.clone(),
            });
        }
        if enters {
            self.cwd = match (&mut self.cwd, operands.first().and_then(Word::value)) {
                (Cwd::Known(dirs), Some(target)) if target != "-" && operands.len() == 1 => {
                    dirs.push(target.to_owned());
                    Cwd::Known(std::mem::take(dirs))
                }
                _ => Cwd::Unknown,
            };
        }
    }

    /// A redirection to or from a file (not a descriptor copy like `2>&1`).
    fn redirect(&mut self, node: Node<'_>) {
        let mut cursor = node.walk();
        let operator = node
            .children(&mut cursor)
            .find(|c| !c.is_named())
            .map(|c| text_of(c, self.source))
            .unwrap_or_default();
        let mut cursor = node.walk();
        let destinations: Vec<Node<'_>> = node
            .children_by_field_name("destination", &mut cursor)
            .collect();
        for destination in destinations {
            if kind(destination) == "process_substitution" {
                // `> >(cmd)` feeds a command (found by the walk), not a file.
                continue;
            }
            let word = Word::from_node(destination, self.source);
            let copies_descriptor = matches!(operator, ">&" | "<&" | ">&-" | "<&-")
                && word
                    .value()
                    .is_some_and(|v| v == "-" || v.chars().all(|c| c.is_ascii_digit()));
            if copies_descriptor {
                continue;
            }
            self.out.paths.push(PathUse {
                word,
                cwd: self.cwd.clone(),
                by: "a redirection".to_owned(),
            });
        }
    }
}
