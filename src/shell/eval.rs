//! Places where bash evaluates *data* as code, so that a command no one
//! wrote in the script can run: arithmetic on a variable (its value is an
//! expression, and `a[$(cmd)]` in it runs `cmd`), the prompt expansion
//! `${x@P}`, `let`, integer declarations, and a name with a subscript built
//! from a substitution (`unset 'a[$(cmd)]'`). A script with any of them is
//! opaque: it asks.

use tree_sitter::Node;

use super::kinds::kind;
use super::word::text_of;

/// Test operators of `[[ ]]` that compare as arithmetic.
const ARITHMETIC_TESTS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

/// Why `node` makes bash evaluate data as code, if it does.
/// `node_kind` is its kind, read once by the caller.
pub(super) fn data_as_code(node: Node<'_>, node_kind: &str, source: &str) -> Option<&'static str> {
    const ARITHMETIC: &str = "arithmetic on a variable evaluates its value as code";
    match node_kind {
        "arithmetic_expansion" | "c_style_for_statement" if names_a_variable(node, source) => {
            Some(ARITHMETIC)
        }
        "compound_statement"
            if text_of(node, source).starts_with("((") && names_a_variable(node, source) =>
        {
            Some(ARITHMETIC)
        }
        "subscript" => {
            let index = node.child_by_field_name("index")?;
            let text = text_of(index, source);
            let plain = text == "@" || text == "*" || text.chars().all(|c| c.is_ascii_digit());
            (!plain).then_some(ARITHMETIC)
        }
        "binary_expression" if node.parent().is_some_and(|p| kind(p) == "test_command") => {
            let operator = node.child_by_field_name("operator")?;
            (ARITHMETIC_TESTS.contains(&text_of(operator, source))
                && names_a_variable(node, source))
            .then_some(ARITHMETIC)
        }
        "expansion" if text_of(node, source).ends_with("@P}") => {
            Some("a prompt expansion (`@P`) runs the substitutions in a value")
        }
        "command" | "declaration_command" => {
            let text = text_of(node, source);
            let first = text.split_whitespace().next().unwrap_or("");
            let integer = matches!(first, "declare" | "typeset" | "local" | "export")
                && text
                    .split_whitespace()
                    .skip(1)
                    .take_while(|w| w.starts_with('-'))
                    .any(|w| w.contains('i'));
            if first == "let" || integer {
                Some(ARITHMETIC)
            } else {
                None
            }
        }
        "raw_string" | "string" | "word" | "ansi_c_string" => {
            let text = text_of(node, source);
            (text.contains('[') && (text.contains("$(") || text.contains('`')))
                .then_some("a subscript in a string can run a substitution when used as a name")
        }
        _ => None,
    }
}

/// Whether an arithmetic context refers to a variable (by name or `$`).
fn names_a_variable(node: Node<'_>, source: &str) -> bool {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match kind(node) {
            "variable_name" | "simple_expansion" | "expansion" | "command_substitution" => {
                return true;
            }
            "word" => {
                let text = text_of(node, source);
                if text.chars().any(|c| c.is_ascii_alphabetic() || c == '_') {
                    return true;
                }
            }
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    false
}
