//! [`SandboxPool`]: N ready sandboxes, one handed out at once on request and
//! replaced in the background. A sandbox leaves the pool for good when it is
//! handed out, so a used one is never handed out again.

use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio_util::task::AbortOnDropHandle;

use super::{DockerLauncher, LaunchConfig, LaunchError, Sandbox};

/// Keeps `size` sandboxes warm.
pub struct SandboxPool {
    ready: Mutex<mpsc::Receiver<Sandbox>>,
    launcher: DockerLauncher,
    config: LaunchConfig,
    _filler: AbortOnDropHandle<()>,
}

impl std::fmt::Debug for SandboxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPool").finish_non_exhaustive()
    }
}

impl SandboxPool {
    /// Starts filling a pool of `size` (at least 1) sandboxes launched with `config`.
    pub fn new(launcher: DockerLauncher, config: LaunchConfig, size: usize) -> Self {
        // The channel's capacity is the pool: the filler waits while it is full.
        let (sender, receiver) = mpsc::channel(size.max(1));
        let filler = tokio::spawn(fill(launcher.clone(), config.clone(), sender));
        Self {
            ready: Mutex::new(receiver),
            launcher,
            config,
            _filler: AbortOnDropHandle::new(filler),
        }
    }

    /// A fresh sandbox: a warm one at once when there is one, else one
    /// launched now. The pool launches its replacement in the background.
    ///
    /// # Errors
    /// [`LaunchError`] when a sandbox has to be launched now and that fails.
    pub async fn acquire(&self) -> Result<Sandbox, LaunchError> {
        let mut ready = self.ready.lock().await;
        while let Ok(sandbox) = ready.try_recv() {
            if sandbox.is_alive() {
                return Ok(sandbox);
            }
            drop(sandbox.shutdown().await);
        }
        drop(ready);
        self.launcher.launch(self.config.clone()).await
    }

    /// Waits until `n` sandboxes are warm (for start-up and tests), at most `limit`.
    pub async fn wait_warm(&self, n: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.ready.lock().await.len() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops filling and removes every warm sandbox.
    pub async fn shutdown(self) {
        drop(self._filler);
        let mut ready = self.ready.into_inner();
        ready.close();
        while let Some(sandbox) = ready.recv().await {
            let _ = sandbox.shutdown().await;
        }
    }
}

/// Launches sandboxes one at a time while the pool has room.
async fn fill(launcher: DockerLauncher, config: LaunchConfig, sender: mpsc::Sender<Sandbox>) {
    loop {
        let Ok(permit) = sender.reserve().await else {
            return;
        };
        match launcher.launch(config.clone()).await {
            Ok(sandbox) => permit.send(sandbox),
            Err(e) => {
                drop(permit);
                tracing::warn!(error = %e, "the sandbox pool could not launch a sandbox; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
