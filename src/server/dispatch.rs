//! Frame → action: each client message is answered here or handed on (a
//! request to `call`, a reply to `ask`, `hello` to the feature switches).
//! Extensions exist only for clients that said hello.

use std::sync::Arc;

use super::ask::{AskReply, answer_ask};
use super::call::start_call;
use super::forward::forward_events;
use super::resume::{Kept, replay, take_over};
use super::session::{Features, Session};
use super::transfer;
use crate::context::QuestionAnswer;
use crate::executor::stop::StopReason;
use crate::protocol::{
    Ack, ClientMessage, InvalidMessage, PROTOCOL_VERSION, ResumeGrant, ResumeRequest,
    ServerMessage, feature, parse_client_message,
};

/// Parses one text frame and acts on it. Returns the session the
/// connection serves from now on when a `hello` took over a parked one.
pub(super) async fn dispatch(session: &Arc<Session>, text: &str) -> Option<Arc<Session>> {
    let message = match parse_client_message(text) {
        Ok(message) => message,
        Err(invalid) => {
            session.refuse(invalid).await;
            return None;
        }
    };
    let features = session.features();
    let server = &session.server;
    match message {
        ClientMessage::Tools { id } => {
            let tools = server.executor.tool_infos();
            session.send(&ServerMessage::Tools { id, tools }).await;
        }
        ClientMessage::Request {
            id,
            request,
            timeout_ms,
        } => start_call(session, id, request, timeout_ms).await,
        ClientMessage::SetRules { id, rules } => {
            server.executor.shared().permissions.set_rules(rules);
            session.send(&ServerMessage::SetRules(ack(id))).await;
        }
        ClientMessage::SetActiveTools { id, active_tools } => {
            server.executor.set_active_tools(active_tools);
            session.send(&ServerMessage::SetActiveTools(ack(id))).await;
        }
        ClientMessage::PushAnswers { id, answers } => {
            server.executor.shared().questions.push_answers(answers);
            session.send(&ServerMessage::PushAnswers(ack(id))).await;
        }
        ClientMessage::Hello {
            id,
            features,
            resume,
            ..
        } => return hello(session, id, &features, resume).await,
        ClientMessage::Cancel { id, .. } if !features.cancel => {
            refuse_extension(session, id, "cancel").await;
        }
        ClientMessage::PermissionReply { id, .. } if !features.hello => {
            refuse_extension(session, id, "permission_reply").await;
        }
        ClientMessage::QuestionReply { id, .. } if !features.hello => {
            refuse_extension(session, id, "question_reply").await;
        }
        ClientMessage::Upload { id, .. }
        | ClientMessage::UploadEnd { id, .. }
        | ClientMessage::Download { id, .. }
        | ClientMessage::Credit { id, .. }
            if !features.transfer =>
        {
            refuse_extension(session, id, "transfer").await;
        }
        ClientMessage::Upload { id, path, archive } => {
            transfer::start_upload(session, id, path, archive).await;
        }
        ClientMessage::UploadEnd { id, bytes, blake3 } => {
            transfer::upload_end(session, &id, bytes, blake3);
        }
        ClientMessage::Download { id, path, credit } => {
            transfer::start_download(session, id, path, credit).await;
        }
        ClientMessage::Credit { id, bytes } => transfer::credit(session, &id, bytes),
        ClientMessage::Cancel { id, target } => {
            session.calls.stop(&target, StopReason::Cancelled);
            session.send(&ServerMessage::Cancel(ack(id))).await;
        }
        ClientMessage::PermissionReply { id, reply } => {
            answer_ask(session, id, AskReply::Permission(reply)).await;
        }
        ClientMessage::QuestionReply {
            id,
            answers,
            reject,
        } => {
            let answer = if reject {
                QuestionAnswer::Rejected
            } else {
                QuestionAnswer::Answers(answers)
            };
            answer_ask(session, id, AskReply::Question(answer)).await;
        }
    }
    None
}

/// To a client that never said hello the server answers an extension
/// exactly as sol's does to a type it does not know.
async fn refuse_extension(session: &Session, id: String, kind: &str) {
    session
        .refuse(InvalidMessage {
            id,
            kind: None,
            reason: format!("unknown message type: {kind}"),
        })
        .await;
}

fn ack(id: String) -> Ack {
    Ack {
        id,
        error: String::new(),
    }
}

/// Grants the features the client wants. With `resume` and the id of a
/// parked session, as the connection's first frame, the connection takes
/// that session over: the session is returned, its calls' results follow.
async fn hello(
    session: &Arc<Session>,
    id: String,
    wanted: &[String],
    resume: Option<ResumeRequest>,
) -> Option<Arc<Session>> {
    let wants = |name: &str| wanted.iter().any(|w| w == name);
    let granted = Features {
        hello: true,
        cancel: wants(feature::CANCEL),
        progress: wants(feature::PROGRESS),
        interactive: wants(feature::INTERACTIVE),
        events: wants(feature::EVENTS),
        transfer: wants(feature::TRANSFER),
    };
    let taken = match &resume {
        Some(request) if wants(feature::RESUME) && session.is_new() => {
            take_over(&session.server.resumable, &request.session).await
        }
        _ => None,
    };
    let target = match &taken {
        Some(parked) => {
            parked.session.attach(session.writer());
            session.attach(None);
            parked.session.clone()
        }
        None => session.clone(),
    };
    let previous = std::mem::replace(
        &mut *target
            .features
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        granted,
    );
    let features: Vec<String> = feature::ALL
        .iter()
        .filter(|f| wants(f))
        .map(|f| (*f).to_owned())
        .collect();
    let grant = wants(feature::RESUME).then(|| {
        let kept = target.kept.get_or_init(|| {
            let kept = Kept::new();
            session.server.resumable.register(&kept.session, &target);
            kept
        });
        ResumeGrant {
            session: kept.session.clone(),
            resumed: taken.is_some(),
        }
    });
    target
        .send(&ServerMessage::Hello {
            id,
            version: PROTOCOL_VERSION,
            features,
            resume: grant,
        })
        .await;
    if granted.events && !previous.events {
        forward_events(&target);
    }
    let parked = taken?;
    session.server.metrics().session_resumed();
    replay(
        &target,
        resume.map(|r| r.waiting).as_deref().unwrap_or_default(),
    )
    .await;
    let _ = parked.taken.send(());
    Some(target)
}
