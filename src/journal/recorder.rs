//! [`Recorder`]: journals the calls of one connection. It wraps the
//! executor (each call's start and end), the interactive handler (asks a
//! person answered) and, when asked to, the bus events the server forwards
//! (validated and running, a rule's decision). Events only touch calls of
//! this connection, matched by the model's call id: a sandbox cannot write
//! into another sandbox's records.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use dashmap::DashMap;

use super::record::{CallRecord, DecidedBy};
use super::state::CallState;
use super::writer::{Journal, PendingRecord};
use crate::context::QuestionAnswer;
use crate::error::CallError;
use crate::executor::{CallOptions, Executor};
use crate::metrics::CallOutcome;
use crate::peer::{EventCallback, InteractiveHandler, PeerConfig};
use crate::protocol::{
    Action, BusEvent, PermissionAsk, PermissionReply, QuestionAsk, ToolInfo, ToolRequest,
    ToolResponse,
};

type Live = Arc<PendingRecord>;

/// Journals the calls of one connection (one sandbox). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Recorder {
    journal: Journal,
    /// Calls in flight by the model's call id, kept only when events or
    /// asks are followed ([`Recorder::follow_events`]).
    live: Arc<DashMap<String, Live>>,
    following: Arc<AtomicBool>,
}

impl Recorder {
    /// A recorder writing into `journal`.
    pub fn new(journal: Journal) -> Self {
        Self {
            journal,
            live: Arc::default(),
            following: Arc::default(),
        }
    }

    /// Keeps calls in flight findable by the model's call id, so that
    /// [`Recorder::observe`] and the wrapped interactive handler can add to
    /// them. [`Recorder::peer_config`] turns it on; without it a call is
    /// journaled from its start and its answer only.
    pub fn follow_events(&self) {
        self.following.store(true, Ordering::Relaxed);
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// `config` with its interactive handler (if any) wrapped, so the
    /// asks a person answers are journaled. With `events`, also subscribes
    /// to the server's bus events (chained after an `on_event` already
    /// set): the journal then sees when a call was validated and started,
    /// and the decisions rules made. Events cost two frames per call.
    #[must_use]
    pub fn peer_config(&self, mut config: PeerConfig, events: bool) -> PeerConfig {
        if config.interactive.is_some() || events || config.on_event.is_some() {
            self.follow_events();
        }
        if let Some(handler) = config.interactive.take() {
            config.interactive = Some(Arc::new(RecordingHandler {
                recorder: self.clone(),
                inner: handler,
            }));
        }
        if events || config.on_event.is_some() {
            let recorder = self.clone();
            let earlier: Option<EventCallback> = config.on_event.take();
            config.on_event = Some(Arc::new(move |event: BusEvent| {
                recorder.observe(&event);
                if let Some(earlier) = &earlier {
                    earlier(event);
                }
            }));
        }
        config
    }

    /// `inner` with every call journaled.
    pub fn executor<E: Executor>(&self, inner: E) -> JournaledExecutor<E> {
        JournaledExecutor {
            inner,
            recorder: self.clone(),
        }
    }

    fn with_live(&self, tool_call_id: &str, change: impl FnOnce(&mut CallRecord)) {
        let Some(live) = self.live.get(tool_call_id).map(|l| l.clone()) else {
            return;
        };
        let mut record = live.lock();
        change(&mut record);
        let waiting = record.state() == CallState::Asked;
        drop(record);
        // Written again while it waits for a person, so a crash meanwhile
        // keeps what it waits for.
        if waiting {
            self.journal.queue_pending(&live);
        }
    }

    /// Applies a bus event the server forwarded to the call it names (once
    /// [`Recorder::follow_events`] is on).
    pub fn observe(&self, event: &BusEvent) {
        match event {
            // Published once the input was found valid, as the tool begins.
            BusEvent::ToolStarted { tool_call_id, .. } => self.with_live(tool_call_id, |r| {
                r.observe(CallState::Validated);
                r.observe(CallState::Running);
            }),
            BusEvent::PermissionAsked {
                tool_call_id,
                permission,
                patterns,
                decision,
            } => self.with_live(tool_call_id, |r| match decision {
                Action::Allow => r.decide(permission, patterns, true, DecidedBy::Rule),
                Action::Deny => r.decide(permission, patterns, false, DecidedBy::Rule),
                Action::Ask => r.observe(CallState::Asked),
            }),
            BusEvent::PermissionReplied {
                tool_call_id,
                permission,
                response,
            } => self.with_live(tool_call_id, |r| {
                // The interactive handler may have recorded this reply already.
                let state = r.state();
                if state == CallState::Asked {
                    let allowed = *response != PermissionReply::Reject;
                    r.decide(permission, &[], allowed, DecidedBy::Person);
                }
            }),
            BusEvent::ToolCompleted { .. }
            | BusEvent::QuestionAsked { .. }
            | BusEvent::QuestionReplied { .. } => {}
        }
    }
}

/// An [`Executor`] whose calls are journaled: made by [`Recorder::executor`].
#[derive(Debug)]
pub struct JournaledExecutor<E> {
    inner: E,
    recorder: Recorder,
}

impl<E> JournaledExecutor<E> {
    /// The wrapped executor.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

/// Ends a call's record: with its result through [`Ending::finish`], or
/// as cancelled when the caller drops the call's future first.
struct Ending<'a> {
    recorder: &'a Recorder,
    tool_call_id: Option<String>,
    record: Live,
    finished: bool,
}

impl Ending<'_> {
    fn finish(mut self, result: &Result<ToolResponse, CallError>) {
        self.finished = true;
        self.forget();
        let mut record = self.record.lock();
        match result {
            Ok(response) => {
                let state = if response.denied {
                    CallState::Denied
                } else if response.is_error {
                    CallState::Failed
                } else {
                    CallState::Completed
                };
                // A denial seen in the events already ended the record.
                if !(state == CallState::Denied && record.state() == CallState::Denied) {
                    record.observe(state);
                }
                if let Ok(json) = serde_json::to_string(response) {
                    record.set_response(json, self.recorder.journal.config().response_cap);
                }
            }
            Err(error) => {
                record.observe(final_state_of(error));
                record.error = Some(match record.error.take() {
                    Some(earlier) => format!("{error}; {earlier}"),
                    None => error.to_string(),
                });
            }
        }
        drop(record);
        self.recorder.journal.queue_pending(&self.record);
    }

    /// The record is no longer reachable by events.
    fn forget(&self) {
        if let Some(id) = &self.tool_call_id {
            self.recorder.live.remove(id);
        }
    }
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.forget();
            let mut record = self.record.lock();
            record.observe(CallState::Cancelled);
            record.error = Some("the caller dropped the call".to_owned());
            drop(record);
            self.recorder.journal.queue_pending(&self.record);
        }
    }
}

/// The state a call that got no response ends in.
fn final_state_of(error: &CallError) -> CallState {
    match error.outcome() {
        CallOutcome::Suspended => CallState::Suspended,
        CallOutcome::TimedOut => CallState::TimedOut,
        CallOutcome::Cancelled => CallState::Cancelled,
        CallOutcome::Lost => CallState::Lost,
        CallOutcome::Ok | CallOutcome::Error | CallOutcome::Denied => CallState::Failed,
    }
}

#[async_trait]
impl<E: Executor> Executor for JournaledExecutor<E> {
    async fn execute_with(
        &self,
        request: ToolRequest,
        options: CallOptions,
    ) -> Result<ToolResponse, CallError> {
        let record = PendingRecord::new(CallRecord::received(&request));
        self.recorder.journal.queue_pending(&record);
        let following = self.recorder.following.load(Ordering::Relaxed);
        let tool_call_id = if following {
            match self.recorder.live.entry(request.tool_call_id.clone()) {
                dashmap::Entry::Vacant(slot) => {
                    slot.insert(record.clone());
                    Some(request.tool_call_id.clone())
                }
                // Two calls in flight with one model id: events cannot tell
                // them apart, so the second is journaled from its answer only.
                dashmap::Entry::Occupied(_) => None,
            }
        } else {
            None
        };
        let ending = Ending {
            recorder: &self.recorder,
            tool_call_id,
            record,
            finished: false,
        };
        let result = self.inner.execute_with(request, options).await;
        ending.finish(&result);
        result
    }

    async fn tools(&self) -> Result<Vec<ToolInfo>, CallError> {
        self.inner.tools().await
    }
}

/// An interactive handler that journals the asks it answers.
struct RecordingHandler {
    recorder: Recorder,
    inner: Arc<dyn InteractiveHandler>,
}

#[async_trait]
impl InteractiveHandler for RecordingHandler {
    async fn permission(&self, ask: PermissionAsk) -> PermissionReply {
        self.recorder
            .with_live(&ask.tool_call_id, |r| r.observe(CallState::Asked));
        let tool_call_id = ask.tool_call_id.clone();
        let permission = ask.permission.clone();
        let patterns = ask.patterns.clone();
        let reply = self.inner.permission(ask).await;
        self.recorder.with_live(&tool_call_id, |r| {
            if r.state() == CallState::Asked {
                r.decide(
                    &permission,
                    &patterns,
                    reply != PermissionReply::Reject,
                    DecidedBy::Person,
                );
            }
        });
        reply
    }

    async fn questions(&self, ask: QuestionAsk) -> QuestionAnswer {
        self.inner.questions(ask).await
    }
}
