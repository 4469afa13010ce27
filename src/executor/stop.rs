//! The call policy local calls and the tool server share: a call's stop
//! handle (its cancellation token and why it fired) and [`run_bounded`],
//! which runs a call until it ends, times out or is stopped, and then gives
//! the tool a grace period to clean up (kill its process group).

use std::future::Future;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Outcome;

/// Why a call's token fired.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum StopReason {
    /// Its caller (or a `cancel` frame) cancelled it.
    Cancelled,
    /// Its timeout expired.
    TimedOut(Duration),
    /// Its connection went away.
    Disconnected,
    /// The server is shutting down.
    ShuttingDown,
}

impl StopReason {
    /// The error a call stopped for this reason answers with on the wire.
    pub(crate) fn message(self) -> String {
        match self {
            Self::Cancelled => "tool call cancelled".to_owned(),
            Self::TimedOut(after) => format!("tool call timed out after {} ms", after.as_millis()),
            Self::Disconnected => "tool call cancelled: the client disconnected".to_owned(),
            Self::ShuttingDown => {
                "tool call cancelled: the tool server is shutting down".to_owned()
            }
        }
    }
}

/// A running call's cancellation token and why it fired (the first reason wins).
#[derive(Debug)]
pub(crate) struct CallStop {
    pub(crate) cancel: CancellationToken,
    reason: OnceLock<StopReason>,
}

impl CallStop {
    /// A stop handle whose token is a child of `parent`: cancelling the
    /// parent stops the call, with [`StopReason::Cancelled`] unless another
    /// reason was recorded first.
    pub(crate) fn child_of(parent: &CancellationToken) -> Self {
        Self {
            cancel: parent.child_token(),
            reason: OnceLock::new(),
        }
    }

    /// Records `reason` (unless one is recorded already) and cancels the call.
    pub(crate) fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.cancel.cancel();
    }

    /// Why the call was stopped (cancelled when nobody said otherwise).
    pub(crate) fn reason(&self) -> StopReason {
        self.reason.get().copied().unwrap_or(StopReason::Cancelled)
    }
}

/// How [`run_bounded`] ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Ended {
    /// The call ended by itself.
    Done(Outcome),
    /// The call was stopped, for this reason.
    Stopped(StopReason),
}

/// Runs `call` until it ends, `timeout` expires, or `stop` fires; a stopped
/// call gets `grace` to finish its clean-up before it is dropped. A call
/// that finishes on its first poll arms no timer: most calls (echo, read,
/// edit, a denied command) do, and an armed timer costs the runtime a
/// wake-up of its own (measured: one extra syscall per call).
pub(crate) async fn run_bounded<F>(
    call: F,
    stop: &CallStop,
    timeout: Option<Duration>,
    grace: Duration,
) -> Ended
where
    F: Future<Output = Outcome>,
{
    tokio::pin!(call);
    let outcome = match futures::poll!(call.as_mut()) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => {
            let expired = async {
                match timeout {
                    Some(limit) => tokio::time::sleep(limit).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                outcome = call.as_mut() => outcome,
                () = expired => {
                    if let Some(limit) = timeout {
                        stop.stop(StopReason::TimedOut(limit));
                    }
                    let _ = tokio::time::timeout(grace, call.as_mut()).await;
                    return Ended::Stopped(stop.reason());
                }
                () = stop.cancel.cancelled() => {
                    let _ = tokio::time::timeout(grace, call.as_mut()).await;
                    return Ended::Stopped(stop.reason());
                }
            }
        }
    };
    // A tool that noticed the cancellation first ends with an error of its
    // own; the caller is told why the call was stopped instead.
    match outcome {
        Outcome::Error(_) if stop.cancel.is_cancelled() => Ended::Stopped(stop.reason()),
        other => Ended::Done(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_stop_reason_wins() {
        let stop = CallStop::child_of(&CancellationToken::new());
        stop.stop(StopReason::TimedOut(Duration::from_millis(5)));
        stop.stop(StopReason::Disconnected);
        assert!(stop.cancel.is_cancelled());
        assert_eq!(stop.reason().message(), "tool call timed out after 5 ms");
    }

    #[tokio::test]
    async fn a_call_past_its_timeout_is_stopped_and_given_its_grace() {
        let stop = CallStop::child_of(&CancellationToken::new());
        let token = stop.cancel.clone();
        let call = async move {
            token.cancelled().await;
            Outcome::Error("cancelled".into())
        };
        let ended = run_bounded(
            call,
            &stop,
            Some(Duration::from_millis(10)),
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(
            ended,
            Ended::Stopped(StopReason::TimedOut(Duration::from_millis(10)))
        );
    }

    #[tokio::test]
    async fn a_parent_cancel_stops_the_call_as_cancelled() {
        let parent = CancellationToken::new();
        let stop = CallStop::child_of(&parent);
        parent.cancel();
        let ended = run_bounded(
            std::future::pending::<Outcome>(),
            &stop,
            None,
            Duration::from_millis(1),
        )
        .await;
        assert_eq!(ended, Ended::Stopped(StopReason::Cancelled));
    }
}
