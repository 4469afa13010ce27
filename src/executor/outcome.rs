//! [`Outcome`]: how one call ended, and the only conversions of it — to the
//! wire frame (server), from the wire frame (client) and into the caller's
//! result (both). Local and remote calls therefore end the same way.

use crate::error::{CallError, ToolError};
use crate::metrics::CallOutcome;
use crate::protocol::{PermissionNeeded, QuestionNeeded, ResponseFrame, ToolResponse};

/// How one call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool answered (also a failed or denied call).
    Response(ToolResponse),
    /// The call could not run (unknown or inactive tool, busy, stopped).
    Error(String),
    /// Suspended for a permission.
    PermissionNeeded(PermissionNeeded),
    /// Suspended for a question.
    QuestionNeeded(QuestionNeeded),
}

impl Outcome {
    /// The wire frame for request `id`.
    pub fn into_frame(self, id: String) -> ResponseFrame {
        match self {
            Self::Response(response) => ResponseFrame::ok(id, response),
            Self::Error(error) => ResponseFrame::error(id, error),
            Self::PermissionNeeded(p) => ResponseFrame {
                id,
                permission_needed: Some(p),
                ..ResponseFrame::default()
            },
            Self::QuestionNeeded(q) => ResponseFrame {
                id,
                question_needed: Some(q),
                ..ResponseFrame::default()
            },
        }
    }

    /// The outcome a response frame carries, read as sol's
    /// `WSTransport.Send` reads it: a suspension first, then the error
    /// string, then the response.
    ///
    /// # Errors
    /// [`CallError::Protocol`] when the frame carries none of the four.
    pub fn from_frame(frame: ResponseFrame) -> Result<Self, CallError> {
        if let Some(p) = frame.permission_needed {
            return Ok(Self::PermissionNeeded(p));
        }
        if let Some(q) = frame.question_needed {
            return Ok(Self::QuestionNeeded(q));
        }
        if !frame.error.is_empty() {
            return Ok(Self::Error(frame.error));
        }
        frame
            .response
            .map(Self::Response)
            .ok_or_else(|| CallError::Protocol("response frame without a response".into()))
    }

    /// A short word for logs and `tool.completed` events.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Response(r) if r.denied => "denied",
            Self::Response(r) if r.is_error => "error",
            Self::Response(_) => "ok",
            Self::Error(_) => "error",
            Self::PermissionNeeded(_) | Self::QuestionNeeded(_) => "suspended",
        }
    }

    /// How the call ended, as the metrics label it.
    pub fn metric_label(&self) -> CallOutcome {
        match self {
            Self::Response(r) if r.denied => CallOutcome::Denied,
            Self::Response(r) if r.is_error => CallOutcome::Error,
            Self::Response(_) => CallOutcome::Ok,
            Self::Error(_) => CallOutcome::Error,
            Self::PermissionNeeded(_) | Self::QuestionNeeded(_) => CallOutcome::Suspended,
        }
    }

    /// The caller's view: a response, or the suspension as an error. A call
    /// that could not run is an error response whose output is the reason,
    /// as sol's client makes it.
    ///
    /// # Errors
    /// [`CallError::PermissionNeeded`] / [`CallError::QuestionNeeded`].
    pub fn into_result(self) -> Result<ToolResponse, CallError> {
        match self {
            Self::Response(response) => Ok(response),
            Self::Error(error) => Ok(ToolResponse {
                output: error.clone(),
                error,
                is_error: true,
                ..ToolResponse::default()
            }),
            Self::PermissionNeeded(p) => Err(CallError::PermissionNeeded(p)),
            Self::QuestionNeeded(q) => Err(CallError::QuestionNeeded(q)),
        }
    }
}

impl From<ToolError> for Outcome {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::Failed(message) => Self::Response(ToolResponse::failure(message)),
            ToolError::Denied(reason) => Self::Response(ToolResponse::refused(reason)),
            ToolError::PermissionNeeded(p) => Self::PermissionNeeded(p),
            ToolError::QuestionNeeded(q) => Self::QuestionNeeded(q),
            ToolError::Cancelled => Self::Error("tool call cancelled".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_survives_the_wire() {
        let outcomes = [
            Outcome::Response(ToolResponse::text("hi")),
            Outcome::Response(ToolResponse::failure("boom")),
            Outcome::Error("unknown tool: \"x\"".into()),
            Outcome::PermissionNeeded(PermissionNeeded {
                permission: "bash".into(),
                patterns: vec!["ls".into()],
                tool_call_id: "c".into(),
                metadata: Default::default(),
            }),
            Outcome::QuestionNeeded(QuestionNeeded {
                questions: Vec::new(),
                tool_call_id: "c".into(),
            }),
        ];
        for outcome in outcomes {
            let back = Outcome::from_frame(outcome.clone().into_frame("1".into()));
            assert_eq!(back, Ok(outcome));
        }
    }

    #[test]
    fn an_empty_frame_is_a_protocol_error() {
        assert!(matches!(
            Outcome::from_frame(ResponseFrame::default()),
            Err(CallError::Protocol(_))
        ));
    }
}
