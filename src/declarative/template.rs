//! The Go-template subset tools files may use: `{{.x}}`, `{{json .x}}`,
//! `{{queryEscape .x}}`, `{{pathEscape .x}}`. Parsed when the file loads,
//! so anything else — and a name no parameter has — is a load error, never
//! passed through.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// What `pathEscape` and a value in a URL path leave as it is (RFC 3986
/// unreserved characters): `/`, `?`, `#` and `..` cannot be injected.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    /// `{{.x}}`: a string as it is, anything else as JSON.
    Plain,
    /// `{{json .x}}`.
    Json,
    /// `{{queryEscape .x}}`.
    QueryEscape,
    /// `{{pathEscape .x}}`.
    PathEscape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Value { func: Func, param: String },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`; every `{{…}}` must be one of the four forms and name
    /// one of `params`.
    pub(super) fn parse(text: &str, params: &[&str]) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("`{{{{` without `}}}}` in {text:?}"))?;
            let action = after[..close].trim();
            let (func, reference) = match action.split_once(char::is_whitespace) {
                None => (Func::Plain, action),
                Some(("json", r)) => (Func::Json, r.trim()),
                Some(("queryEscape", r)) => (Func::QueryEscape, r.trim()),
                Some(("pathEscape", r)) => (Func::PathEscape, r.trim()),
                Some(_) => return Err(unsupported(action)),
            };
            let param = reference
                .strip_prefix('.')
                .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .ok_or_else(|| unsupported(action))?;
            if !params.contains(&param) {
                return Err(format!(
                    "`{{{{{action}}}}}` names `{param}`, which is not a parameter here (parameters: {})",
                    if params.is_empty() {
                        "none".to_owned()
                    } else {
                        params.join(", ")
                    }
                ));
            }
            segments.push(Segment::Value {
                func,
                param: param.to_owned(),
            });
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("`}}}}` without `{{{{` in {text:?}"));
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        Ok(Self { segments })
    }

    /// The parameters it uses.
    pub(super) fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Value { param, .. } => Some(param.as_str()),
            Segment::Text(_) => None,
        })
    }

    /// Writes the template with the values of `input` (a missing value is
    /// empty, or `null` for `json`). `escape_plain` escapes `{{.x}}` as a
    /// path segment (used for URL paths).
    pub(super) fn render(&self, input: &Value, escape_plain: bool) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Value { func, param } => {
                    let value = input.get(param).unwrap_or(&Value::Null);
                    let func = if *func == Func::Plain && escape_plain {
                        Func::PathEscape
                    } else {
                        *func
                    };
                    match func {
                        Func::Json => out.push_str(&value.to_string()),
                        Func::Plain => out.push_str(&plain(value)),
                        Func::QueryEscape => out.extend(
                            percent_encoding::percent_encode(
                                plain(value).as_bytes(),
                                NON_ALPHANUMERIC,
                            )
                            .map(|s| s.replace("%20", "+")),
                        ),
                        Func::PathEscape => {
                            out.extend(utf8_percent_encode(&plain(value), PATH_SEGMENT));
                        }
                    }
                }
            }
        }
        out
    }
}

/// A value as text: a string as it is, null as nothing, anything else as JSON.
pub(super) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn unsupported(action: &str) -> String {
    format!(
        "unsupported template `{{{{{action}}}}}`: only {{{{.x}}}}, {{{{json .x}}}}, {{{{queryEscape .x}}}} and {{{{pathEscape .x}}}} are"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_four_forms_render_and_anything_else_is_refused() {
        let t = Template::parse(
            "a={{.a}} j={{ json .b }} q={{queryEscape .a}} p={{pathEscape .a}}",
            &["a", "b"],
        )
        .expect("parses");
        let input = json!({"a": "x y/z?", "b": {"k": [1]}});
        assert_eq!(
            t.render(&input, false),
            r#"a=x y/z? j={"k":[1]} q=x+y%2Fz%3F p=x%20y%2Fz%3F"#
        );
        assert_eq!(t.params().collect::<Vec<_>>(), ["a", "b", "a", "a"]);
        for bad in [
            "{{.a | upper}}",
            "{{printf \"%s\" .a}}",
            "{{range .a}}x{{end}}",
            "{{a}}",
            "{{.}}",
            "{{.a",
            "x}}",
        ] {
            assert!(
                Template::parse(bad, &["a"]).is_err(),
                "{bad} must be refused"
            );
        }
        let unknown = Template::parse("{{.nope}}", &["a"]).expect_err("unknown");
        assert!(unknown.contains("`nope`"), "{unknown}");
    }

    #[test]
    fn a_value_in_a_path_cannot_leave_its_segment() {
        let t = Template::parse("/users/{{.id}}/repos", &["id"]).expect("parses");
        assert_eq!(
            t.render(&json!({"id": "../admin?x=1#"}), true),
            "/users/..%2Fadmin%3Fx%3D1%23/repos"
        );
    }
}
