//! Words of a command line: as written, and their value when the value is
//! known before the shell runs (no expansion, substitution or tilde).

use tree_sitter::Node;

use super::kinds::kind;

/// One word of a command as the script wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The source text, quotes and escapes included (`"a b"`, `\;`).
    pub text: String,
    /// The word's value after quote removal, when it is known without running
    /// anything: `None` for `$x`, `$(cmd)`, `~`, brace expansions, `$'…'`.
    pub literal: Option<String>,
}

impl Word {
    /// A word read from a syntax node of `source`.
    pub(super) fn from_node(node: Node<'_>, source: &str) -> Self {
        Self {
            text: text_of(node, source).to_owned(),
            literal: literal_of(node, source),
        }
    }

    /// A word whose text is its value (a piece the analysis made up).
    pub(super) fn plain(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            literal: Some(text.to_owned()),
        }
    }

    /// The literal value, if any.
    pub fn value(&self) -> Option<&str> {
        self.literal.as_deref()
    }
}

/// The source text of a node.
pub(super) fn text_of<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    source.get(node.byte_range()).unwrap_or("")
}

/// The value of a word node when it is literal.
fn literal_of(node: Node<'_>, source: &str) -> Option<String> {
    let text = text_of(node, source);
    match kind(node) {
        "word" | "command_name" if node.named_child_count() == 0 => unquoted_word(text),
        "command_name" => node.named_child(0).and_then(|c| literal_of(c, source)),
        "number" if node.named_child_count() == 0 => Some(text.to_owned()),
        "raw_string" => text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .map(str::to_owned),
        "string" => {
            let mut cursor = node.walk();
            if node
                .named_children(&mut cursor)
                .any(|c| kind(c) != "string_content")
            {
                return None;
            }
            let inner = text.strip_prefix('"')?.strip_suffix('"')?;
            Some(double_quoted(inner))
        }
        "concatenation" => {
            let mut value = String::new();
            let mut end = node.start_byte();
            let mut cursor = node.walk();
            for child in node.children(&mut cursor) {
                // A gap or an unnamed piece between parts is not understood.
                if child.start_byte() != end {
                    return None;
                }
                end = child.end_byte();
                value.push_str(&literal_of(child, source)?);
            }
            (end == node.end_byte()).then_some(value)
        }
        _ => None,
    }
}

/// The value of an unquoted word: backslash escapes removed. A leading `~`
/// (tilde expansion) and a brace expansion (`{a,b}`, `{1..3}`) are not
/// literal: their value depends on the shell.
fn unquoted_word(text: &str) -> Option<String> {
    if text.starts_with('~') {
        return None;
    }
    if text.contains('{') && (text.contains(',') || text.contains("..")) {
        return None;
    }
    if text.contains('$') || text.contains('`') {
        return None;
    }
    let mut value = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\n') | None => {}
                Some(escaped) => value.push(escaped),
            }
        } else {
            value.push(c);
        }
    }
    Some(value)
}

/// The value of the inside of a double-quoted string without expansions:
/// only `\\`, `\"`, `\$`, `` \` `` and a backslash-newline are escapes.
fn double_quoted(inner: &str) -> String {
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\' | '"' | '$' | '`') => {
                    value.extend(chars.next());
                }
                Some('\n') => {
                    chars.next();
                }
                _ => value.push(c),
            }
        } else {
            value.push(c);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_words_lose_their_escapes_and_expansions_are_not_literal() {
        assert_eq!(unquoted_word(r"a\ b\;").as_deref(), Some("a b;"));
        assert_eq!(unquoted_word("~/x"), None);
        assert_eq!(unquoted_word("{a,../x}"), None);
        assert_eq!(unquoted_word("x{1..3}"), None);
        assert_eq!(unquoted_word("*.rs").as_deref(), Some("*.rs"));
    }

    #[test]
    fn double_quotes_keep_other_backslashes() {
        assert_eq!(double_quoted(r#"a \"b\" \$c \n"#), r#"a "b" $c \n"#);
    }
}
