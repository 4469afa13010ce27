//! Running one program for a tool (bash, and declarative command tools):
//! its own process group, stdin from /dev/null, a clean environment, the
//! tool user when one is set; stdout and stderr read into one capped buffer
//! in arrival order and streamed as progress; a timeout and the call's
//! cancellation; and when it exits, times out or is cancelled, the whole
//! group is killed, so a grandchild that kept the pipes open cannot hold
//! the call and nothing is left running.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::ToolsConfig;
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::ToolResponse;

/// Output kept in memory: the first `cap` bytes, then a count of what was dropped.
struct CappedOutput {
    bytes: Vec<u8>,
    cap: usize,
    dropped: u64,
}

impl CappedOutput {
    fn push(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes.len());
        let kept = room.min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..kept]);
        self.dropped += (chunk.len() - kept) as u64;
    }
}

/// Kills a process group when dropped (the call's future may be dropped
/// while the command still runs).
struct GroupKiller(Option<i32>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: kill(2) with a negative pid signals the process group
            // `pgid`, which this call created (process_group(0)); it has no
            // memory-safety preconditions.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How the wait for the program ended.
enum Ending {
    Exited(std::process::ExitStatus),
    TimedOut,
    Cancelled,
}

/// Runs `command` (program, arguments, workdir and the tool's own
/// environment already set; `what` names it in errors) within `timeout`
/// and the call's cancellation, and turns how it ended into the response:
/// the output, `is_error` with `exit code N` / the signal / the timeout,
/// and `exit_code`, `truncated`, `duration_ms` (and `timed_out`,
/// `cancelled`, `signal`) as metadata.
pub(crate) async fn run(
    mut command: tokio::process::Command,
    what: &str,
    timeout: Duration,
    config: &ToolsConfig,
    ctx: &CallContext,
) -> Result<ToolResponse, ToolError> {
    let started = Instant::now();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(user) = config.tool_user {
        // Not the server's uid: the program cannot signal, trace or
        // replace the server. (std drops supplementary groups too.)
        command.uid(user.uid).gid(user.gid);
    }
    let mut child = command
        .spawn()
        .map_err(|e| ToolError::failed(format!("cannot start {what}: {e}")))?;
    let mut group = GroupKiller(child.id().and_then(|pid| i32::try_from(pid).ok()));

    let output = Arc::new(Mutex::new(CappedOutput {
        bytes: Vec::new(),
        cap: config.output_cap_bytes,
        dropped: 0,
    }));
    let mut readers = tokio::task::JoinSet::new();
    if let Some(stdout) = child.stdout.take() {
        readers.spawn(pump(stdout, output.clone(), ctx.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.spawn(pump(stderr, output.clone(), ctx.clone()));
    }

    let ending = tokio::select! {
        status = child.wait() => match status {
            Ok(status) => Ending::Exited(status),
            Err(e) => return Err(ToolError::failed(format!("waiting for {what} failed: {e}"))),
        },
        () = tokio::time::sleep(timeout) => Ending::TimedOut,
        () = ctx.cancel.cancelled() => Ending::Cancelled,
    };
    if matches!(ending, Ending::Exited(_)) {
        // The program is gone; give the pipes a moment to drain what it wrote.
        let drained = async { while readers.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(config.pipe_drain, drained).await;
    }
    // Whatever is still in the group (background jobs, a hung pipeline) dies now.
    group.kill();
    let status = match ending {
        Ending::Exited(status) => Some(status),
        Ending::TimedOut | Ending::Cancelled => child.wait().await.ok(),
    };
    let drained = async { while readers.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_millis(500), drained)
        .await
        .is_err()
    {
        readers.abort_all();
    }

    let elapsed = started.elapsed();
    let (mut text, dropped) = {
        let captured = output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (
            String::from_utf8_lossy(&captured.bytes).into_owned(),
            captured.dropped,
        )
    };
    if dropped > 0 {
        text.push_str(&format!(
            "\n[output truncated: {dropped} more bytes were not kept (cap {} bytes)]",
            config.output_cap_bytes
        ));
    }
    let exit_code = status.and_then(|s| s.code());
    let signal = status.and_then(|s| s.signal());
    let (error, flag) = match ending {
        Ending::Exited(_) => {
            if let Some(sig) = signal {
                text.push_str(&format!("\n[killed by signal {sig}{}]", oom_hint(sig)));
            }
            let error = match (exit_code, signal) {
                (Some(0), _) => String::new(),
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                (None, None) => "exit status unknown".to_owned(),
            };
            (error, None)
        }
        Ending::TimedOut => {
            text.push_str(&format!(
                "\n[command timed out after {} ms; its process group was killed]",
                timeout.as_millis()
            ));
            (
                format!("timed out after {} ms", timeout.as_millis()),
                Some("timed_out"),
            )
        }
        Ending::Cancelled => {
            text.push_str("\n[command cancelled; its process group was killed]");
            ("cancelled".to_owned(), Some("cancelled"))
        }
    };
    let mut response = ToolResponse::text(text);
    response.is_error = !error.is_empty();
    response.error = error;
    if let Some(flag) = flag {
        response = response.with_metadata(flag, true);
    }
    response = response
        .with_metadata("exit_code", exit_code)
        .with_metadata("truncated", dropped > 0)
        .with_metadata(
            "duration_ms",
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        );
    if let Some(sig) = signal {
        response = response.with_metadata("signal", sig);
    }
    Ok(response)
}

fn oom_hint(signal: i32) -> &'static str {
    if signal == libc::SIGKILL {
        " (SIGKILL: possibly out of memory)"
    } else {
        ""
    }
}

/// Reads one pipe to its end into the shared buffer, streaming chunks as progress.
async fn pump(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    output: Arc<Mutex<CappedOutput>>,
    ctx: CallContext,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let chunk = &buffer[..n];
                let keep_streaming = {
                    let mut captured = output
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    captured.push(chunk);
                    captured.dropped == 0
                };
                if keep_streaming && ctx.wants_progress() {
                    ctx.progress(&String::from_utf8_lossy(chunk));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_output_keeps_the_head_and_counts_the_rest() {
        let mut out = CappedOutput {
            bytes: Vec::new(),
            cap: 4,
            dropped: 0,
        };
        out.push(b"abc");
        out.push(b"def");
        assert_eq!(out.bytes, b"abcd");
        assert_eq!(out.dropped, 2);
    }
}
