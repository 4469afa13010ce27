//! `${VAR}` and `${VAR:-default}` in a tools file, expanded from the
//! environment of the process that loads it before the YAML is read.
//! For configuration (hosts, paths); secrets go through an `authService`,
//! which keeps them out of definitions, logs and outputs.

use std::sync::LazyLock;

use regex::Regex;

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}").expect("a valid pattern")
});

/// `text` with every reference replaced; `lookup` reads a variable.
///
/// # Errors
/// The name of a variable that is unset and has no default, with the byte
/// offset of its reference.
pub(super) fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, (String, usize)> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for found in REFERENCE.captures_iter(text) {
        // Group 0, the whole match, is always there.
        let Some(whole) = found.get(0) else { continue };
        let name = &found[1];
        let value = match (lookup(name), found.get(2)) {
            (Some(value), _) => value,
            (None, Some(default)) => default.as_str().to_owned(),
            (None, None) => return Err((name.to_owned(), whole.start())),
        };
        out.push_str(&text[last..whole.start()]);
        out.push_str(&value);
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_with_defaults_and_an_unset_one_is_named() {
        let lookup = |name: &str| (name == "HOST").then(|| "example.org".to_owned());
        assert_eq!(
            expand("url: https://${HOST}:${PORT:-8080}/x ${EMPTY:-}", lookup),
            Ok("url: https://example.org:8080/x ".to_owned())
        );
        assert_eq!(
            expand("a\nb: ${MISSING}", lookup),
            Err(("MISSING".to_owned(), 5))
        );
        assert_eq!(
            expand("$HOST {HOST}", lookup),
            Ok("$HOST {HOST}".to_owned())
        );
    }
}
