//! Commands that run other commands: `env`, `timeout`, `sudo`, `xargs`,
//! `find -exec`, `bash -c`, `eval`, … For each the inner command is found
//! after the wrapper's own options, so that it is checked as a pattern of its
//! own: `timeout 5 rm x` is also `rm x`.

use super::word::Word;

/// What a wrapper runs.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Inner {
    /// The words from this index on are a command of their own.
    Command(usize),
    /// Several commands (`find -exec a ; -exec b +`), each a range of words.
    Commands(Vec<std::ops::Range<usize>>),
    /// A shell script given as a string (`bash -c`, `eval`, `watch`): parse
    /// and check it too.
    Script(String),
    /// It runs something the analysis cannot see (a script string that is
    /// not literal, a sourced file): a person must decide.
    Opaque(&'static str),
}

/// Option syntax of a wrapper: which options take a separate value, how many
/// operands come before the command, and whether `NAME=value` words may too.
struct Options {
    with_value: &'static [&'static str],
    operands: usize,
    assignments: bool,
}

const fn options(with_value: &'static [&'static str], operands: usize) -> Options {
    Options {
        with_value,
        operands,
        assignments: false,
    }
}

/// The program name a command is known by: the last component of a literal
/// first word (`/usr/bin/env` is `env`).
pub(super) fn program(words: &[Word]) -> Option<&str> {
    let first = words.first()?.value()?;
    Some(first.rsplit('/').next().unwrap_or(first))
}

/// What `words` runs besides itself, if it is a wrapper.
pub(super) fn inner(words: &[Word]) -> Option<Inner> {
    let name = program(words)?;
    let spec = match name {
        "env" => Options {
            with_value: &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
            operands: 0,
            assignments: true,
        },
        "nohup" | "setsid" | "exec" | "builtin" | "coproc" => options(&["-a"], 0),
        "timeout" => options(&["-k", "--kill-after", "-s", "--signal"], 1),
        "nice" => options(&["-n", "--adjustment"], 0),
        "ionice" => options(&["-c", "--class", "-n", "--classdata", "-p", "-P", "-u"], 0),
        "time" => options(&["-f", "--format", "-o", "--output"], 0),
        "stdbuf" => options(&["-i", "--input", "-o", "--output", "-e", "--error"], 0),
        "sudo" => options(
            &[
                "-u",
                "--user",
                "-g",
                "--group",
                "-C",
                "--close-from",
                "-D",
                "--chdir",
                "-h",
                "--host",
                "-p",
                "--prompt",
                "-r",
                "--role",
                "-t",
                "--type",
                "-U",
                "--other-user",
                "-T",
                "--command-timeout",
            ],
            0,
        ),
        "doas" => options(&["-u", "-C"], 0),
        "flock" => options(&["-w", "--timeout", "-E", "--conflict-exit-code"], 1),
        "xargs" => options(
            &[
                "-a",
                "--arg-file",
                "-d",
                "--delimiter",
                "-E",
                "-I",
                "-L",
                "-n",
                "--max-args",
                "-P",
                "--max-procs",
                "-s",
                "--max-chars",
                "--process-slot-var",
            ],
            0,
        ),
        "command" => {
            // `command -v x` only looks x up.
            let looks_up = words[1..]
                .iter()
                .take_while(|w| w.value().is_some_and(|v| v.starts_with('-')))
                .any(|w| {
                    w.value()
                        .is_some_and(|v| v.contains('v') || v.contains('V'))
                });
            if looks_up {
                return None;
            }
            options(&[], 0)
        }
        "bash" | "sh" | "dash" | "zsh" | "ksh" | "rbash" => return shell_string(words),
        "eval" => return Some(joined_script(&words[1..])),
        "trap" => {
            // `trap [-lp] [ACTION] SIGNAL…`: the action is a script.
            let action = words[1..]
                .iter()
                .find(|w| !w.value().is_some_and(|v| v.starts_with('-')))?;
            return Some(script_or_opaque(Some(action)));
        }
        "alias" => return Some(alias_bodies(&words[1..])),
        "su" => {
            let at = words.iter().position(|w| {
                w.value()
                    .is_some_and(|v| v == "-c" || v == "--command" || v.starts_with("--command="))
            })?;
            return Some(
                match words[at].value().and_then(|v| v.strip_prefix("--command=")) {
                    Some(inline) => Inner::Script(inline.to_owned()),
                    None => script_or_opaque(words.get(at + 1)),
                },
            );
        }
        "watch" => return watched(words),
        "source" | "." => {
            return Some(Inner::Opaque(
                "a sourced file runs commands that cannot be checked before it runs",
            ));
        }
        "find" => return find_exec(words),
        _ => return None,
    };
    if name == "env"
        && let Some(split) = env_split_string(words)
    {
        return Some(split);
    }
    let start = after_options(words, &spec)?;
    if name == "flock" && words.get(start - 1).is_some() {
        // `flock FILE -c STRING` runs the string with a shell.
        if let Some(flag) = words.get(start).and_then(Word::value)
            && (flag == "-c" || flag == "--command")
        {
            return Some(script_or_opaque(words.get(start + 1)));
        }
    }
    (start < words.len()).then_some(Inner::Command(start))
}

/// The index of the first word after a wrapper's options and operands, or
/// `None` when the wrapper runs nothing.
fn after_options(words: &[Word], spec: &Options) -> Option<usize> {
    let mut i = 1;
    while let Some(word) = words.get(i) {
        let Some(value) = word.value() else { break };
        if value == "--" {
            i += 1;
            break;
        }
        if spec.assignments && is_assignment(value) {
            i += 1;
            continue;
        }
        if value.len() > 1 && value.starts_with('-') {
            i += if spec.with_value.contains(&value) {
                2
            } else {
                1
            };
            continue;
        }
        break;
    }
    let start = i + spec.operands;
    (start <= words.len()).then_some(start)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `env -S STRING` splits the string into a command line.
fn env_split_string(words: &[Word]) -> Option<Inner> {
    let at = words.iter().position(|w| {
        w.value()
            .is_some_and(|v| v == "-S" || v == "--split-string" || v.starts_with("--split-string="))
    })?;
    let value = words[at].value()?;
    if let Some(inline) = value.strip_prefix("--split-string=") {
        return Some(Inner::Script(inline.to_owned()));
    }
    Some(joined_script(&words[at + 1..]))
}

/// `bash [options] -c STRING [name [args]]`: the string is a script. A
/// shell given a script file or stdin is a command like any other.
fn shell_string(words: &[Word]) -> Option<Inner> {
    let mut i = 1;
    while let Some(word) = words.get(i) {
        let Some(value) = word.value() else {
            return Some(Inner::Opaque(
                "the shell's options are not literal, so what it runs is unknown",
            ));
        };
        if value == "--" || !(value.starts_with('-') || value.starts_with('+')) || value.len() < 2 {
            return None;
        }
        if value.starts_with("--") {
            i += 1;
            continue;
        }
        if value.starts_with('-') && value.contains('c') {
            return Some(script_or_opaque(words.get(i + 1)));
        }
        // `-o NAME` / `-O NAME` take an option name.
        i += if value.ends_with('o') || value.ends_with('O') {
            2
        } else {
            1
        };
    }
    None
}

fn script_or_opaque(word: Option<&Word>) -> Inner {
    match word.and_then(Word::value) {
        Some(script) => Inner::Script(script.to_owned()),
        None => Inner::Opaque("the script given to the shell is not a literal string"),
    }
}

/// `alias name='body'`: a body can run where the name is used (with
/// `expand_aliases`), so it is checked as a script.
fn alias_bodies(words: &[Word]) -> Inner {
    match literals(words) {
        Some(values) => Inner::Script(
            values
                .iter()
                .filter_map(|v| v.split_once('=').map(|(_, body)| format!("{body}\n")))
                .collect(),
        ),
        None => Inner::Opaque("an alias body is not literal"),
    }
}

/// The values of `words` when every one is literal.
fn literals(words: &[Word]) -> Option<Vec<&str>> {
    words.iter().map(Word::value).collect()
}

/// `eval a b c` runs `a b c` as a script: literal words only.
fn joined_script(words: &[Word]) -> Inner {
    match literals(words) {
        Some(values) => Inner::Script(values.join(" ")),
        None => Inner::Opaque("the script given to eval is not literal"),
    }
}

/// `watch [options] COMMAND…` runs its words with `sh -c` (or directly with
/// `-x`); either way checking them as a script covers both.
fn watched(words: &[Word]) -> Option<Inner> {
    let spec = options(
        &["-n", "--interval", "-d", "-q", "--equexit", "-s", "--shell"],
        0,
    );
    let start = after_options(words, &spec)?;
    (start < words.len()).then(|| joined_script(&words[start..]))
}

/// `find … -exec CMD … ;` (also `+`, `-execdir`, `-ok`, `-okdir`): each is a
/// command.
fn find_exec(words: &[Word]) -> Option<Inner> {
    let mut ranges = Vec::new();
    let mut i = 1;
    while i < words.len() {
        let is_exec = words[i]
            .value()
            .is_some_and(|v| matches!(v, "-exec" | "-execdir" | "-ok" | "-okdir"));
        i += 1;
        if !is_exec {
            continue;
        }
        let start = i;
        while i < words.len() && !words[i].value().is_some_and(|v| v == ";" || v == "+") {
            i += 1;
        }
        if start < i {
            ranges.push(start..i);
        }
        i += 1;
    }
    (!ranges.is_empty()).then_some(Inner::Commands(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Word> {
        line.split(' ').map(Word::plain).collect()
    }

    fn inner_of(line: &str) -> Option<String> {
        let words = words(line);
        match inner(&words)? {
            Inner::Command(i) => Some(line.split(' ').skip(i).collect::<Vec<_>>().join(" ")),
            Inner::Script(s) => Some(format!("script:{s}")),
            Inner::Commands(r) => Some(format!("{r:?}")),
            Inner::Opaque(_) => Some("opaque".into()),
        }
    }

    #[test]
    fn inner_commands_follow_the_wrappers_options() {
        let cases = [
            ("env -i A=1 -u B rm x", Some("rm x")),
            ("timeout -s KILL 5 rm x", Some("rm x")),
            ("timeout 5", None),
            ("nice -n 10 make", Some("make")),
            ("sudo -u root -- rm x", Some("rm x")),
            ("xargs -n 1 -I {} rm {}", Some("rm {}")),
            ("flock /tmp/l rm x", Some("rm x")),
            ("flock /tmp/l -c rm", Some("script:rm")),
            ("command -v rm", None),
            ("command rm x", Some("rm x")),
            ("bash -lc ls", Some("script:ls")),
            ("bash script.sh", None),
            ("eval rm x", Some("script:rm x")),
            ("source x.sh", Some("opaque")),
            (
                "find . -exec rm {} ; -execdir touch y +",
                Some("[3..5, 7..9]"),
            ),
            ("/usr/bin/env rm", Some("rm")),
            ("ls -la", None),
            ("trap rm EXIT", Some("script:rm")),
            ("alias ls=rm", Some("script:rm\n")),
            ("su -c rm", Some("script:rm")),
            ("coproc cat", Some("cat")),
        ];
        for (line, want) in cases {
            assert_eq!(inner_of(line).as_deref(), want, "{line}");
        }
    }
}
