//! The per-call context every tool receives: who is calling, the call's
//! cancellation token, and the server's bus, permission and question managers,
//! with the ask flows built on them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, Decision, PermissionManager, PermissionRequest, QuestionManager};
use crate::error::ToolError;
use crate::metrics::ServerMetrics;
use crate::protocol::{
    Action, BusEvent, PermissionNeeded, PermissionReply, PermissionRule, QuestionInfo,
    QuestionNeeded,
};

/// How an interactive client answered questions.
#[derive(Debug, Clone, PartialEq)]
pub enum QuestionAnswer {
    /// One answer list per question.
    Answers(Vec<Vec<String>>),
    /// The user refused to answer.
    Rejected,
}

/// Asks a connected client on behalf of a tool (the `interactive` feature).
/// Implemented by the server's connection; `None` means nobody answered
/// (timeout, or the connection went away).
#[async_trait]
pub trait Asker: Send + Sync {
    /// Sends a permission ask and waits for the reply.
    async fn ask_permission(
        &self,
        tool_call_id: &str,
        request: &PermissionRequest,
    ) -> Option<PermissionReply>;

    /// Sends questions and waits for the answers.
    async fn ask_questions(
        &self,
        tool_call_id: &str,
        questions: &[QuestionInfo],
    ) -> Option<QuestionAnswer>;
}

/// Receives chunks of a running call's output (the `progress` feature).
pub trait ProgressSink: Send + Sync {
    /// Delivers one chunk; must not block.
    fn chunk(&self, text: &str);
}

/// Server-wide state shared by every call: bus, rules, queued answers.
#[derive(Debug, Clone, Default)]
pub struct SharedState {
    /// Event bus.
    pub bus: Bus,
    /// Permission rules.
    pub permissions: Arc<PermissionManager>,
    /// Pre-loaded answers.
    pub questions: Arc<QuestionManager>,
    /// The server's metrics (calls, permission decisions, connections).
    pub metrics: ServerMetrics,
}

/// Everything a tool call may use besides its input.
#[derive(Clone)]
pub struct CallContext {
    /// The model's id of this call.
    pub tool_call_id: String,
    /// The agent session.
    pub session_id: String,
    /// The directory tools work in (the sandbox's `/workspace`).
    pub workdir: PathBuf,
    /// Fires when the call is cancelled, times out or its connection drops.
    pub cancel: CancellationToken,
    /// Bus, rules and answers of the server: private, so a tool can read the
    /// rules ([`CallContext::rules`]) but never rewrite them.
    shared: SharedState,
    asker: Option<Arc<dyn Asker>>,
    progress: Option<Arc<dyn ProgressSink>>,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("tool_call_id", &self.tool_call_id)
            .field("workdir", &self.workdir)
            .field("interactive", &self.asker.is_some())
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl CallContext {
    /// A context with its own cancellation token, no interactive client and no progress sink.
    pub fn new(workdir: impl Into<PathBuf>, shared: SharedState) -> Self {
        Self {
            tool_call_id: String::new(),
            session_id: String::new(),
            workdir: workdir.into(),
            cancel: CancellationToken::new(),
            shared,
            asker: None,
            progress: None,
        }
    }

    /// Sets the model's call id and session id.
    #[must_use]
    pub fn for_call(mut self, tool_call_id: &str, session_id: &str) -> Self {
        tool_call_id.clone_into(&mut self.tool_call_id);
        session_id.clone_into(&mut self.session_id);
        self
    }

    /// Uses `cancel` as the call's token.
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Routes "ask" decisions to an interactive client.
    #[must_use]
    pub fn with_asker(mut self, asker: Arc<dyn Asker>) -> Self {
        self.asker = Some(asker);
        self
    }

    /// Streams output chunks to `sink`.
    #[must_use]
    pub fn with_progress(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// The workdir.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// A read-only view of the permission rules.
    pub fn rules(&self) -> RulesView<'_> {
        RulesView(&self.shared.permissions)
    }

    /// The server's event bus.
    pub fn bus(&self) -> &Bus {
        &self.shared.bus
    }

    /// Whether anyone listens to [`CallContext::progress`].
    pub fn wants_progress(&self) -> bool {
        self.progress.is_some()
    }

    /// Sends a chunk of output to a client that asked for progress.
    pub fn progress(&self, text: &str) {
        if let Some(sink) = &self.progress {
            sink.chunk(text);
        }
    }

    /// Asks for a permission. Returns `Ok` when the rules (or the interactive
    /// client) allow it.
    ///
    /// # Errors
    /// [`ToolError::Denied`] when a rule denies it, the client rejects it or
    /// does not answer in time; [`ToolError::PermissionNeeded`] when no rule
    /// decides and no interactive client is connected (the call suspends);
    /// [`ToolError::Cancelled`] when the call is cancelled while waiting.
    pub async fn ask_permission(&self, request: PermissionRequest) -> Result<(), ToolError> {
        let decision = self.shared.permissions.decide(&request);
        let action = match decision {
            Decision::Allow => Action::Allow,
            Decision::Deny { .. } => Action::Deny,
            Decision::Ask { .. } => Action::Ask,
        };
        self.shared
            .metrics
            .permission_decided(&request.permission, action.as_str());
        self.shared.bus.publish_with(|| BusEvent::PermissionAsked {
            tool_call_id: self.tool_call_id.clone(),
            permission: request.permission.clone(),
            patterns: request.patterns.clone(),
            decision: action,
        });
        match decision {
            Decision::Allow => Ok(()),
            Decision::Deny { pattern } => Err(ToolError::Denied(format!(
                "permission `{}` for `{pattern}` is denied by a rule",
                request.permission
            ))),
            Decision::Ask { undecided } => {
                self.ask_client_permission(narrowed(request, undecided))
                    .await
            }
        }
    }

    async fn ask_client_permission(&self, request: PermissionRequest) -> Result<(), ToolError> {
        let Some(asker) = &self.asker else {
            return Err(ToolError::PermissionNeeded(PermissionNeeded {
                permission: request.permission,
                patterns: request.patterns,
                tool_call_id: self.tool_call_id.clone(),
                metadata: request.metadata,
            }));
        };
        let reply = tokio::select! {
            reply = asker.ask_permission(&self.tool_call_id, &request) => reply,
            () = self.cancel.cancelled() => return Err(ToolError::Cancelled),
        };
        self.shared
            .bus
            .publish_with(|| BusEvent::PermissionReplied {
                tool_call_id: self.tool_call_id.clone(),
                permission: request.permission.clone(),
                response: reply.unwrap_or(PermissionReply::Reject),
            });
        match reply {
            Some(PermissionReply::Once) => Ok(()),
            Some(PermissionReply::Always) => {
                // Without suggestions, the asked patterns themselves; never
                // an opaque one (no allow rule could apply to it anyway).
                let always: Vec<&String> = if request.always.is_empty() {
                    request
                        .patterns
                        .iter()
                        .filter(|p| !request.opaque.contains(p))
                        .collect()
                } else {
                    request.always.iter().collect()
                };
                self.shared
                    .permissions
                    .add_rules(always.into_iter().map(|pattern| {
                        PermissionRule::new(&request.permission, pattern, Action::Allow)
                    }));
                Ok(())
            }
            Some(PermissionReply::Reject) => Err(ToolError::Denied(format!(
                "permission `{}` for {} was rejected by the user",
                request.permission,
                quoted_list(&request.patterns)
            ))),
            None => Err(ToolError::Denied(format!(
                "permission `{}` for {} was not answered in time",
                request.permission,
                quoted_list(&request.patterns)
            ))),
        }
    }

    /// Asks the user questions: a pre-loaded answer batch if one is queued,
    /// else the interactive client.
    ///
    /// # Errors
    /// [`ToolError::QuestionNeeded`] when nothing is queued and no interactive
    /// client is connected; [`ToolError::Denied`] when the client rejects or
    /// does not answer in time; [`ToolError::Cancelled`] on cancellation.
    pub async fn ask_questions(
        &self,
        questions: Vec<QuestionInfo>,
    ) -> Result<Vec<Vec<String>>, ToolError> {
        self.shared.bus.publish_with(|| BusEvent::QuestionAsked {
            tool_call_id: self.tool_call_id.clone(),
            questions: questions.clone(),
        });
        let answers = if let Some(batch) = self.shared.questions.take_answers() {
            batch
        } else if let Some(asker) = &self.asker {
            let reply = tokio::select! {
                reply = asker.ask_questions(&self.tool_call_id, &questions) => reply,
                () = self.cancel.cancelled() => return Err(ToolError::Cancelled),
            };
            match reply {
                Some(QuestionAnswer::Answers(answers)) => answers,
                Some(QuestionAnswer::Rejected) => {
                    return Err(ToolError::Denied("the user declined to answer".into()));
                }
                None => {
                    return Err(ToolError::Denied(
                        "the questions were not answered in time".into(),
                    ));
                }
            }
        } else {
            return Err(ToolError::QuestionNeeded(QuestionNeeded {
                questions,
                tool_call_id: self.tool_call_id.clone(),
            }));
        };
        self.shared.bus.publish_with(|| BusEvent::QuestionReplied {
            tool_call_id: self.tool_call_id.clone(),
            answers: answers.clone(),
        });
        Ok(answers)
    }
}

/// The request as the person sees it: only the patterns the rules left
/// undecided, and only the `always` suggestions that cover one of them.
fn narrowed(mut request: PermissionRequest, undecided: Vec<String>) -> PermissionRequest {
    request.always.retain(|always| {
        undecided.iter().any(|pattern| {
            crate::bus::wildcard::matches(always, pattern)
                || always.strip_suffix(" *") == Some(pattern.as_str())
        })
    });
    request.patterns = undecided;
    request
}

/// What a tool may know of the permission rules: how they decide, never a
/// way to change them.
#[derive(Debug, Clone, Copy)]
pub struct RulesView<'a>(&'a PermissionManager);

impl RulesView<'_> {
    /// How the rules decide `request` now.
    pub fn decide(&self, request: &PermissionRequest) -> Decision {
        self.0.decide(request)
    }

    /// The rules, in order.
    pub fn rules(&self) -> Vec<PermissionRule> {
        self.0.rules()
    }
}

/// Default time an interactive client has to answer an ask.
pub const DEFAULT_ASK_TIMEOUT: Duration = Duration::from_secs(300);

/// `` `a`, `b` `` for messages.
pub(crate) fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
