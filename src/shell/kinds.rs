//! Node kinds and field ids of tree-sitter-bash, looked up once per process.
//!
//! `Node::kind` and `TreeCursor::field_name` measure and UTF-8-check a C
//! string on every call (about 3 % of a permission check, which asks for a
//! kind at every node); a table indexed by the node's symbol gives the same
//! `&'static str` without either.

use std::num::NonZeroU16;
use std::sync::OnceLock;

use tree_sitter::{Language, Node, TreeCursor};

/// The names of every symbol, and the ids of the fields the walk reads.
struct Table {
    /// `names[symbol]` is what `Node::kind` says for a node of that symbol.
    names: Vec<Option<&'static str>>,
    /// The `name` field of a command.
    name: Option<NonZeroU16>,
    /// The `argument` field of a command.
    argument: Option<NonZeroU16>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let language: Language = tree_sitter_bash::LANGUAGE.into();
        let count = u16::try_from(language.node_kind_count()).unwrap_or(u16::MAX);
        Table {
            names: (0..count).map(|id| language.node_kind_for_id(id)).collect(),
            name: language.field_id_for_name("name"),
            argument: language.field_id_for_name("argument"),
        }
    })
}

/// `node.kind()`, without reading the C string.
pub(super) fn kind(node: Node<'_>) -> &'static str {
    let known = table().names.get(usize::from(node.kind_id())).copied();
    // `ERROR` and other built-in symbols lie outside the table.
    known.flatten().unwrap_or_else(|| node.kind())
}

/// Whether the node under `cursor` is a command's name or one of its
/// arguments (the fields `name` and `argument`).
pub(super) fn is_command_word(cursor: &TreeCursor<'_>) -> bool {
    let table = table();
    let field = cursor.field_id();
    field.is_some() && (field == table.name || field == table.argument)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_says_what_tree_sitter_says_for_every_node() {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_bash::LANGUAGE.into())
            .expect("the bash grammar loads");
        let script =
            "a=1 cmd \"x $(y)\" 'z' >f; for i in 1 2; do [[ $i -eq 1 ]]; done; ((x++)); (( \n";
        let tree = parser.parse(script, None).expect("parsed");
        let mut cursor = tree.walk();
        let mut seen = 0;
        let mut fields = 0;
        loop {
            let node = cursor.node();
            assert_eq!(kind(node), node.kind());
            assert_eq!(
                is_command_word(&cursor),
                matches!(cursor.field_name(), Some("name" | "argument")),
                "{}",
                node.kind()
            );
            seen += 1;
            fields += usize::from(is_command_word(&cursor));
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    assert!(seen > 40 && fields >= 4, "{seen} nodes, {fields} words");
                    assert!(tree.root_node().has_error(), "the script ends in an error");
                    return;
                }
            }
        }
    }
}
