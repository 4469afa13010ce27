//! [`CallRecord`]: what the journal keeps of one call — who, what (the
//! input, redacted), every transition, every permission decision and the
//! answer, stored verbatim up to a cap.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{CallState, Lifecycle, Transition};
use crate::protocol::ToolRequest;

/// Object keys whose values the journal never stores (compared without
/// case, as substrings: `api_key`, `X-Auth-Token`, `db_password` match).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "credential",
    "private_key",
    "cookie",
];

/// Transitions kept per call before further ones that are not final are
/// ignored (a hostile sandbox could send ask events without end).
const MAX_TRANSITIONS: usize = 256;
/// Permission decisions kept per call.
const MAX_DECISIONS: usize = 64;
/// Refused transitions noted per call in [`CallRecord::error`].
const MAX_NOTES: usize = 8;

/// What stands in for a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Longest string of the input stored as is; longer ones keep their head.
const INPUT_STRING_CAP: usize = 4096;

/// Who decided a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// A permission rule, without asking.
    Rule,
    /// A person (or the orchestrator's handler) answering an ask.
    Person,
}

/// One permission decision made for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The permission kind (`bash`, `edit`, ...).
    pub permission: String,
    /// What was accessed.
    pub patterns: Vec<String>,
    /// Allowed or not.
    pub allowed: bool,
    /// By a rule or by a person.
    pub by: DecidedBy,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl Decision {
    /// `allowed by rule`, `denied by person`, ...
    pub fn summary(&self) -> String {
        let verb = if self.allowed { "allowed" } else { "denied" };
        let by = match self.by {
            DecidedBy::Rule => "rule",
            DecidedBy::Person => "person",
        };
        format!("{verb} by {by}")
    }
}

/// One call as the journal keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// The journal's id of the call (a UUIDv7: sorted by time).
    pub id: String,
    /// The agent session (`ToolRequest::session_id`).
    pub session: String,
    /// The tool called.
    pub tool: String,
    /// The model's id of the call.
    pub tool_call_id: String,
    /// The input as JSON, with secret-looking values replaced by
    /// `[redacted]` and long strings cut.
    pub input: String,
    /// The state and every step that led to it.
    pub lifecycle: Lifecycle,
    /// Every permission decision, in order.
    pub decisions: Vec<Decision>,
    /// The answer as JSON (a [`crate::ToolResponse`]), verbatim up to the
    /// journal's cap.
    pub response: Option<String>,
    /// The answer was longer than the cap and is cut.
    pub response_truncated: bool,
    /// Why the call has no answer (timed out, lost, ...), or what the
    /// journal could not record about it (an illegal transition).
    pub error: Option<String>,
}

impl CallRecord {
    /// The record of `request`, received now.
    pub fn received(request: &ToolRequest) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            session: request.session_id.clone(),
            tool: request.tool_name.clone(),
            tool_call_id: request.tool_call_id.clone(),
            input: serde_json::to_string(&Redacted(&request.input))
                .unwrap_or_else(|e| format!("{{\"unreadable input\": {:?}}}", e.to_string())),
            lifecycle: Lifecycle::received(now_ms()),
            decisions: Vec::new(),
            response: None,
            response_truncated: false,
            error: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> CallState {
        self.lifecycle.state()
    }

    /// Every step so far.
    pub fn transitions(&self) -> &[Transition] {
        self.lifecycle.transitions()
    }

    /// Goes to `state` now, through the states it implies; an illegal step
    /// is kept in [`CallRecord::error`] (it is what the sandbox claimed, and
    /// the record must not lie about it) and logged.
    /// A call's record stays bounded: past 256 transitions only a final
    /// state is still taken.
    pub fn observe(&mut self, state: CallState) {
        if self.transitions().len() >= MAX_TRANSITIONS && !state.is_final() {
            self.note("too many transitions: later ones are not recorded".to_owned());
            return;
        }
        if let Err(illegal) = self.lifecycle.advance_implied(state, now_ms()) {
            tracing::warn!(id = %self.id, tool = %self.tool, %illegal, "journal refused a transition");
            self.note(format!("journal refused: {illegal}"));
        }
    }

    /// Adds `note` to [`CallRecord::error`], at most [`MAX_NOTES`] of them.
    fn note(&mut self, note: String) {
        let notes = self
            .error
            .as_deref()
            .map_or(0, |e| e.matches("; ").count() + 1);
        if notes >= MAX_NOTES {
            return;
        }
        self.error = Some(match self.error.take() {
            Some(earlier) => format!("{earlier}; {note}"),
            None => note,
        });
    }

    /// Records a permission decision, and the transition it means.
    pub fn decide(&mut self, permission: &str, patterns: &[String], allowed: bool, by: DecidedBy) {
        if self.decisions.len() >= MAX_DECISIONS {
            self.note("too many permission decisions: later ones are not recorded".to_owned());
            return;
        }
        self.decisions.push(Decision {
            permission: permission.to_owned(),
            patterns: patterns.to_vec(),
            allowed,
            by,
            at_ms: now_ms(),
        });
        match (allowed, by) {
            (false, _) => self.observe(CallState::Denied),
            (true, DecidedBy::Person) => self.observe(CallState::Allowed),
            // A rule's allow is a decision, not a step: the tool runs on.
            (true, DecidedBy::Rule) => self.observe(CallState::Running),
        }
    }

    /// The decision that mattered: the last refusal, else the last allow.
    pub fn decision_summary(&self) -> Option<String> {
        self.decisions
            .iter()
            .rev()
            .find(|d| !d.allowed)
            .or_else(|| self.decisions.last())
            .map(Decision::summary)
    }

    /// Stores the answer, cut to `cap` bytes.
    pub fn set_response(&mut self, json: String, cap: usize) {
        let (json, truncated) = cut(json, cap);
        self.response = Some(json);
        self.response_truncated = truncated;
    }

    /// Milliseconds from received to the final state, once there.
    pub fn duration_ms(&self) -> Option<i64> {
        let first = self.transitions().first()?;
        let last = self.transitions().last()?;
        last.state.is_final().then(|| last.at_ms - first.at_ms)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `value` with the values of secret-looking keys replaced and long strings cut.
pub fn redacted(value: &Value) -> Value {
    serde_json::to_value(Redacted(value)).unwrap_or(Value::Null)
}

fn is_secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| lower.contains(s))
}

/// Serializes a JSON value redacted, in one pass (no redacted copy is made).
struct Redacted<'a>(&'a Value);

impl Serialize for Redacted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    if is_secret_key(key) {
                        out.serialize_entry(key, REDACTED)?;
                    } else {
                        out.serialize_entry(key, &Redacted(value))?;
                    }
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Redacted(item))?;
                }
                out.end()
            }
            Value::String(text) if text.len() > INPUT_STRING_CAP => {
                let mut end = INPUT_STRING_CAP;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                serializer.serialize_str(&format!("{}…[{} bytes]", &text[..end], text.len()))
            }
            other => other.serialize(serializer),
        }
    }
}

/// `text` cut to at most `cap` bytes on a character boundary.
fn cut(mut text: String, cap: usize) -> (String, bool) {
    if text.len() <= cap {
        return (text, false);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_looking_values_are_redacted_at_any_depth() {
        let input = json!({
            "command": "curl example.com",
            "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k"},
            "env": [{"DB_PASSWORD": "hunter2", "name": "x"}],
        });
        let stored = redacted(&input);
        assert_eq!(
            stored,
            json!({
                "command": "curl example.com",
                "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED},
                "env": [{"DB_PASSWORD": REDACTED, "name": "x"}],
            })
        );
    }

    #[test]
    fn long_strings_keep_their_head_and_say_how_long_they_were() {
        let long = "é".repeat(INPUT_STRING_CAP);
        let Value::String(stored) = redacted(&json!(long)) else {
            panic!("a string stays a string");
        };
        assert!(stored.len() < INPUT_STRING_CAP + 32);
        assert!(stored.ends_with(&format!("…[{} bytes]", long.len())));
    }

    #[test]
    fn a_response_over_the_cap_is_cut_on_a_char_boundary() {
        let request = ToolRequest::new("echo", json!({}));
        let mut record = CallRecord::received(&request);
        record.set_response("ééé".to_owned(), 3);
        assert_eq!(record.response.as_deref(), Some("é"));
        assert!(record.response_truncated);
    }

    #[test]
    fn a_flood_of_events_keeps_the_record_bounded_and_it_can_still_end() {
        let request = ToolRequest::new("guarded", json!({}));
        let mut record = CallRecord::received(&request);
        for _ in 0..10_000 {
            record.observe(CallState::Asked);
            record.observe(CallState::Allowed);
            record.observe(CallState::Asked); // illegal right after itself? no: a no-op
            record.observe(CallState::Completed); // illegal from asked: noted
            record.decide("bash", &["x".into()], true, DecidedBy::Rule);
        }
        assert!(record.transitions().len() <= MAX_TRANSITIONS);
        assert!(record.decisions.len() <= MAX_DECISIONS);
        assert!(record.error.as_deref().is_some_and(|e| e.len() < 1000));
        record.observe(CallState::Cancelled);
        assert_eq!(record.state(), CallState::Cancelled);
    }

    #[test]
    fn the_decision_that_mattered_is_the_refusal() {
        let request = ToolRequest::new("bash", json!({}));
        let mut record = CallRecord::received(&request);
        record.decide("bash", &["ls".into()], true, DecidedBy::Rule);
        record.decide("bash", &["rm -rf x".into()], false, DecidedBy::Person);
        assert_eq!(
            record.decision_summary().as_deref(),
            Some("denied by person")
        );
        assert_eq!(record.state(), CallState::Denied);
    }
}
