//! A permission ask or a `question` that no rule answers, put to the person
//! behind an MCP client as an elicitation (a form the client shows), when
//! the client said at initialization that it can show one.
//!
//! - permission: one required field `reply`, one of `once`, `always`,
//!   `reject`; declining or cancelling the form rejects.
//! - questions: one required field per question (`answer_1`, …), a choice
//!   among its options when it has options and takes no free text;
//!   declining or cancelling rejects the questions.
//!
//! How a form reaches the person depends on the protocol version (module
//! `rounds`); a client that cannot elicit leaves the call as before: an error
//! result naming the permission and its patterns.

use async_trait::async_trait;
use rmcp::model::ElicitationAction;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::bus::PermissionRequest;
use crate::context::{Asker, QuestionAnswer};
use crate::protocol::{PermissionReply, QuestionInfo};

/// One form a running call waits on: the `elicitation/create` params, and
/// where the filled-in object goes (`None`: declined, cancelled, failed).
pub(super) struct Form {
    pub(super) params: Value,
    pub(super) reply: oneshot::Sender<Option<Map<String, Value>>>,
}

/// The filled-in object of an `ElicitResult`, if the person accepted.
pub(super) fn accepted(result: &Value) -> Option<Map<String, Value>> {
    let action: ElicitationAction = serde_json::from_value(result.get("action")?.clone()).ok()?;
    match (action, result.get("content")) {
        (ElicitationAction::Accept, Some(Value::Object(content))) => Some(content.clone()),
        _ => None,
    }
}

/// Puts a call's asks to whoever drives the call (see `rounds`), as forms.
pub(super) struct FormAsker {
    pub(super) forms: mpsc::Sender<Form>,
}

impl FormAsker {
    /// Shows a form; the filled-in object, or `None` when the person
    /// declined or cancelled, or nobody could show it.
    async fn form(&self, message: String, schema: Value) -> Option<Map<String, Value>> {
        let (reply, answer) = oneshot::channel();
        let params = json!({"mode": "form", "message": message, "requestedSchema": schema});
        self.forms.send(Form { params, reply }).await.ok()?;
        answer.await.ok().flatten()
    }
}

/// The form of a permission ask.
fn permission_form(request: &PermissionRequest) -> (String, Value) {
    let mut asked: Vec<&str> = request.patterns.iter().map(String::as_str).collect();
    asked.extend(request.opaque.iter().map(String::as_str));
    let mut message = format!(
        "A tool asks for permission `{}`: {}",
        request.permission,
        asked.join(", ")
    );
    if !request.always.is_empty() {
        message.push_str(&format!(
            "\n(always would allow from now on: {})",
            request.always.join(", ")
        ));
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "reply": {
                "type": "string",
                "title": "Reply",
                "description": "once: this call only; always: this call and the patterns named; reject: refuse",
                "enum": ["once", "always", "reject"],
            }
        },
        "required": ["reply"],
    });
    (message, schema)
}

/// The reply in a filled-in permission form.
fn permission_reply(content: &Map<String, Value>) -> PermissionReply {
    match content.get("reply").and_then(Value::as_str) {
        Some("once") => PermissionReply::Once,
        Some("always") => PermissionReply::Always,
        _ => PermissionReply::Reject,
    }
}

/// The field of question `index` (from 0).
fn answer_field(index: usize) -> String {
    format!("answer_{}", index + 1)
}

/// The form of some questions.
fn questions_form(questions: &[QuestionInfo]) -> (String, Value) {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        let labels: Vec<&str> = question.options.iter().map(|o| o.label.as_str()).collect();
        let mut property = json!({
            "type": "string",
            "title": if question.header.is_empty() { &question.question } else { &question.header },
            "description": question.question,
        });
        if question.multiple {
            property["description"] = format!(
                "{} (several: separate them by commas; choices: {})",
                question.question,
                labels.join(", ")
            )
            .into();
        } else if !labels.is_empty() && !question.custom {
            property["enum"] = labels.into();
        } else if !labels.is_empty() {
            property["description"] =
                format!("{} (for example: {})", question.question, labels.join(", ")).into();
        }
        properties.insert(answer_field(index), property);
        required.push(answer_field(index));
    }
    let message = match questions {
        [one] => one.question.clone(),
        _ => "A tool has questions for you".to_owned(),
    };
    (
        message,
        json!({"type": "object", "properties": properties, "required": required}),
    )
}

/// The answers in a filled-in questions form, one list per question.
fn question_answers(questions: &[QuestionInfo], content: &Map<String, Value>) -> QuestionAnswer {
    let answers = questions
        .iter()
        .enumerate()
        .map(|(index, question)| {
            let text = content
                .get(&answer_field(index))
                .and_then(Value::as_str)
                .unwrap_or("");
            if question.multiple {
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                vec![text.to_owned()]
            }
        })
        .collect();
    QuestionAnswer::Answers(answers)
}

#[async_trait]
impl Asker for FormAsker {
    async fn ask_permission(
        &self,
        _tool_call_id: &str,
        request: &PermissionRequest,
    ) -> Option<PermissionReply> {
        let (message, schema) = permission_form(request);
        // A declined or cancelled form is a refusal, not "nobody answered".
        Some(
            self.form(message, schema)
                .await
                .map_or(PermissionReply::Reject, |content| {
                    permission_reply(&content)
                }),
        )
    }

    async fn ask_questions(
        &self,
        _tool_call_id: &str,
        questions: &[QuestionInfo],
    ) -> Option<QuestionAnswer> {
        let (message, schema) = questions_form(questions);
        Some(
            self.form(message, schema)
                .await
                .map_or(QuestionAnswer::Rejected, |content| {
                    question_answers(questions, &content)
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_are_valid_elicitation_requests() {
        let request = PermissionRequest {
            permission: "bash".into(),
            patterns: vec!["rm -rf build".into()],
            always: vec!["rm *".into()],
            ..PermissionRequest::default()
        };
        let (message, schema) = permission_form(&request);
        assert!(message.contains("`bash`: rm -rf build"), "{message}");
        assert!(message.contains("rm *"), "{message}");
        let params: rmcp::model::ElicitRequestParams = serde_json::from_value(json!({
            "mode": "form", "message": message, "requestedSchema": schema,
        }))
        .expect("a valid permission form");
        assert!(matches!(
            params,
            rmcp::model::ElicitRequestParams::FormElicitationParams { .. }
        ));
        let questions: Vec<QuestionInfo> = serde_json::from_value(json!([
            {"question": "Which colour?", "header": "Colour", "options": [{"label": "red", "description": ""}, {"label": "blue", "description": ""}]},
            {"question": "Which days?", "options": [{"label": "mon", "description": ""}], "multiple": true},
        ]))
        .expect("questions");
        let (_, schema) = questions_form(&questions);
        assert_eq!(
            schema["properties"]["answer_1"]["enum"],
            json!(["red", "blue"])
        );
        serde_json::from_value::<rmcp::model::ElicitRequestParams>(json!({
            "mode": "form", "message": "q", "requestedSchema": schema,
        }))
        .expect("a valid questions form");
        let content = json!({"answer_1": "blue", "answer_2": "mon, tue"});
        assert_eq!(
            question_answers(&questions, content.as_object().expect("object")),
            QuestionAnswer::Answers(vec![vec!["blue".into()], vec!["mon".into(), "tue".into()]])
        );
    }
}
