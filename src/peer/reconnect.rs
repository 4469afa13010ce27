//! Reconnect and resume (feature `resume`): after a lost connection the
//! reader opens new ones with exponential backoff and full jitter until
//! [`PeerConfig::reconnect_window`](super::PeerConfig) runs out. Each new
//! connection says `hello` with the session id and the requests still
//! waiting; the server answers those (result, or an error if it was lost)
//! and the calls go on. A launcher's report that the sandbox ended stops
//! the attempts at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::reader::route;
use super::shared::Shared;
use crate::error::CallError;
use crate::protocol::{ClientMessage, PROTOCOL_VERSION, ResumeRequest, ServerMessage};
use crate::transport::{ConnectError, Frame, FrameStream};
use crate::wire::heartbeat::seconds;
use crate::wire::{Contention, FrameWriter};

/// The first pause between attempts at most; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why one attempt did not resume the session.
enum Failed {
    /// Try again (the server is not reachable yet).
    Retry(String),
    /// Give up: trying again cannot help.
    Fatal(CallError),
}

/// Reconnects and resumes the session after the connection was lost for
/// `lost`; the next connection's frames, or why the calls fail.
pub(super) async fn resume(shared: &Arc<Shared>, lost: &str) -> Result<FrameStream, CallError> {
    let window = shared.config.reconnect_window;
    let deadline = Instant::now() + window;
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::from("no attempt finished");
    let explained = async {
        match shared.explanation.get() {
            Some(explanation) => {
                let mut explanation = explanation.clone();
                let explained = explanation
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|explained| explained.clone());
                match explained {
                    Some(explained) => Some(explained),
                    None => std::future::pending().await,
                }
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(explained);
    tracing::info!(%lost, window_ms = window.as_millis(), "connection lost: reconnecting to resume the session");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let attempt = tokio::select! {
            attempt = tokio::time::timeout(left, attempt(shared)) => attempt,
            Some(explained) = &mut explained => return Err(explained),
            () = shared.closed.cancelled() => return Err(shared.reason()),
        };
        match attempt {
            Ok(Ok(stream)) => {
                tracing::info!("session resumed on a new connection");
                return Ok(stream);
            }
            Ok(Err(Failed::Fatal(CallError::ConnectionLost { reason }))) => {
                return Err(CallError::ConnectionLost {
                    reason: format!("{lost}; {reason}"),
                });
            }
            Ok(Err(Failed::Fatal(error))) => return Err(error),
            Ok(Err(Failed::Retry(why))) => last = why,
            Err(_) => last = "the attempt did not finish in time".to_owned(),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let pause = jitter(backoff).min(left);
        backoff = (backoff * 2).min(MAX_BACKOFF);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            Some(explained) = &mut explained => return Err(explained),
            () = shared.closed.cancelled() => return Err(shared.reason()),
        }
    }
    Err(CallError::ConnectionLost {
        reason: format!("{lost}; no reconnect within {} ({last})", seconds(window)),
    })
}

/// Full jitter: a pause drawn evenly from zero to `backoff`.
fn jitter(backoff: Duration) -> Duration {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    let nanos = u64::try_from(backoff.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.max(1))
}

/// One attempt: connect, say `hello` with the session, and on `resumed`
/// join the link to the new connection.
async fn attempt(shared: &Arc<Shared>) -> Result<FrameStream, Failed> {
    let (Some(connector), Some(session)) = (&shared.connector, shared.resume_session.get()) else {
        return Err(Failed::Fatal(shared.reason()));
    };
    let (sink, mut stream) = connector().await.map_err(|e| match e {
        ConnectError::Unauthorized => Failed::Fatal(CallError::ConnectionLost {
            reason: e.to_string(),
        }),
        other => Failed::Retry(other.to_string()),
    })?;
    let writer = Arc::new(FrameWriter::start(sink, true, shared.config.close_timeout));
    // Listed before the hello's own id is taken.
    let waiting = shared.link.waiting(shared.pending.ids());
    let id = shared.next_id();
    let Some(mut reply) = shared.pending.register(id) else {
        return Err(Failed::Retry(format!("request id {id} is in use")));
    };
    let hello = ClientMessage::Hello {
        id: id.to_string(),
        version: PROTOCOL_VERSION,
        features: shared.config.wanted_features(true),
        resume: Some(ResumeRequest {
            session: session.clone(),
            waiting: waiting.iter().map(u64::to_string).collect(),
        }),
    };
    let frame = Shared::encode(&hello).map_err(Failed::Fatal)?;
    if writer.send(frame, Contention::Alone).await.is_err() {
        return Err(Failed::Retry("the new connection ended at once".to_owned()));
    }
    // The answer to hello comes first; anything else is routed as usual.
    let answer = async {
        loop {
            tokio::select! {
                biased;
                answer = reply.wait() => return answer,
                frame = stream.next() => match frame {
                    Some(Ok(Frame::Text(text))) => route(shared, &text),
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_) | Frame::Binary(_))) => {}
                    Some(Ok(Frame::Close(_)) | Err(_)) | None => return None,
                },
            }
        }
    };
    let answer = tokio::time::timeout(shared.config.hello_timeout, answer).await;
    drop(reply);
    match answer {
        Ok(Some(ServerMessage::Hello {
            resume: Some(grant),
            ..
        })) if grant.resumed => {
            shared.link.join(writer, waiting);
            Ok(stream)
        }
        Ok(Some(ServerMessage::Hello { .. })) => {
            // The server opened a new session for this connection: close it.
            writer.finish(Some(Frame::Close(None))).await;
            Err(Failed::Fatal(CallError::ConnectionLost {
                reason: "reconnected, but the tool server no longer had the session: its calls were stopped".to_owned(),
            }))
        }
        Ok(Some(_)) => Err(Failed::Retry(
            "the tool server did not answer hello with hello".to_owned(),
        )),
        Ok(None) => Err(Failed::Retry(
            "the new connection ended during hello".to_owned(),
        )),
        Err(_) => Err(Failed::Retry(format!(
            "no answer to hello within {}",
            seconds(shared.config.hello_timeout)
        ))),
    }
}
