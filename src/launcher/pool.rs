//! [`SandboxPool`]: N ready sandboxes of any [`Launcher`], one handed out at
//! once on request and replaced in the background. A sandbox leaves the pool
//! for good when it is handed out, so a used one is never handed out again.
//!
//! The filler task is owned by the pool: dropping the pool aborts it (a
//! launcher's launch is cancellation-safe: what a cut launch created is
//! removed by its launcher), and [`SandboxPool::shutdown`] lets the launch
//! under way finish, then shuts every warm sandbox down. No lock is held
//! across an `.await`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::{Launcher, Sandbox};

/// How a pool fills. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Sandboxes kept warm (at least 1). Default 1.
    pub size: usize,
    /// After a failed launch, the filler waits this long before the next. Default 1 s.
    pub retry_delay: Duration,
    /// Launches the filler runs at once (at least 1). One at a time refills
    /// at the speed of one launch; the engine starts several at once about
    /// as fast as one (`toolwire bench --scale`: 50 at once took 1.04× as
    /// long as 50 bare containers). Launches take the host's CPU from the
    /// sandboxes already running, though: on 2 cores, a warm sandbox's
    /// first answer while 200 were refilled took p99 99 ms with 8 at once
    /// and 19 ms with 1 (docs/PERFORMANCE.md, sixteenth session). Default 4.
    pub parallel_launches: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            size: 1,
            retry_delay: Duration::from_secs(1),
            parallel_launches: 4,
        }
    }
}

impl PoolConfig {
    /// A pool of `size` warm sandboxes.
    pub fn size(size: usize) -> Self {
        Self {
            size: size.max(1),
            ..Self::default()
        }
    }

    /// Sets [`PoolConfig::parallel_launches`].
    #[must_use]
    pub fn parallel_launches(mut self, n: usize) -> Self {
        self.parallel_launches = n.max(1);
        self
    }
}

struct Warm<S> {
    ready: Mutex<VecDeque<S>>,
    /// How many are warm; the filler waits on it, so do `wait_warm` callers.
    count: watch::Sender<usize>,
}

impl<S> Warm<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<S>> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, n: usize) {
        self.count.send_replace(n);
    }
}

/// Keeps sandboxes of one launcher warm.
pub struct SandboxPool<L: Launcher> {
    warm: Arc<Warm<L::Sandbox>>,
    launcher: L,
    config: L::Config,
    stop: CancellationToken,
    filler: Mutex<Option<AbortOnDropHandle<()>>>,
}

impl<L: Launcher> std::fmt::Debug for SandboxPool<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPool")
            .field("warm", &*self.warm.count.borrow())
            .finish_non_exhaustive()
    }
}

impl<L: Launcher + Clone> SandboxPool<L> {
    /// Starts filling a pool of sandboxes launched with `config`.
    pub fn new(launcher: L, config: L::Config, pool: PoolConfig) -> Self {
        let warm = Arc::new(Warm {
            ready: Mutex::new(VecDeque::new()),
            count: watch::channel(0).0,
        });
        let stop = CancellationToken::new();
        let filler = tokio::spawn(fill(
            launcher.clone(),
            config.clone(),
            pool,
            warm.clone(),
            stop.clone(),
        ));
        Self {
            warm,
            launcher,
            config,
            stop,
            filler: Mutex::new(Some(AbortOnDropHandle::new(filler))),
        }
    }
}

impl<L: Launcher> SandboxPool<L> {
    /// A fresh sandbox: a warm one at once when there is one, else one
    /// launched now. The pool launches its replacement in the background.
    ///
    /// # Errors
    /// The launcher's error when a sandbox has to be launched now and that fails.
    pub async fn acquire(&self) -> Result<L::Sandbox, L::Error> {
        match self.acquire_warm().await {
            Some(sandbox) => Ok(sandbox),
            None => self.launcher.launch(self.config.clone()).await,
        }
    }

    /// A warm sandbox if the pool has one, without launching one now:
    /// `None` when the pool is dry (every warm one taken, the refills still
    /// launching), so a caller under load can fail fast or go elsewhere.
    /// Warm sandboxes that died while waiting are shut down on the way.
    pub async fn acquire_warm(&self) -> Option<L::Sandbox> {
        let mut dead = Vec::new();
        let found = {
            let mut ready = self.warm.lock();
            let mut found = None;
            while let Some(sandbox) = ready.pop_front() {
                if sandbox.is_alive() {
                    found = Some(sandbox);
                    break;
                }
                dead.push(sandbox);
            }
            self.warm.publish(ready.len());
            found
        };
        for sandbox in dead {
            let _ = sandbox.shutdown().await;
        }
        found
    }

    /// Waits until `n` sandboxes are warm (for start-up and tests), at most
    /// `limit`; `false` when they were not.
    pub async fn wait_warm(&self, n: usize, limit: Duration) -> bool {
        let mut count = self.warm.count.subscribe();
        tokio::time::timeout(limit, count.wait_for(|warm| *warm >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops filling (after the launch under way) and shuts down every
    /// warm sandbox.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let filler = self
            .filler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(filler) = filler {
            let _ = filler.await;
        }
        let ready: Vec<_> = self.warm.lock().drain(..).collect();
        self.warm.publish(0);
        for sandbox in ready {
            let _ = sandbox.shutdown().await;
        }
    }
}

/// Launches sandboxes while the pool has room, up to
/// [`PoolConfig::parallel_launches`] at once. The launches are tasks of a
/// set this task owns: aborting the filler aborts them (a cut launch is
/// removed by its launcher); on stop, the launches under way finish and
/// their sandboxes join the pool, which shuts them down.
async fn fill<L: Launcher + Clone>(
    launcher: L,
    config: L::Config,
    pool: PoolConfig,
    warm: Arc<Warm<L::Sandbox>>,
    stop: CancellationToken,
) {
    let size = pool.size.max(1);
    let parallel = pool.parallel_launches.max(1);
    let mut count = warm.count.subscribe();
    let mut launches = JoinSet::new();
    // After a failed launch, no new one before this.
    let mut pause_until: Option<tokio::time::Instant> = None;
    loop {
        let paused = pause_until.is_some_and(|until| until > tokio::time::Instant::now());
        while !paused
            && launches.len() < parallel
            && *count.borrow_and_update() + launches.len() < size
        {
            let (launcher, config) = (launcher.clone(), config.clone());
            launches.spawn(async move { launcher.launch(config).await });
        }
        let pause = async {
            match pause_until {
                Some(until) if paused => tokio::time::sleep_until(until).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = launches.join_next() => match done {
                Ok(Ok(sandbox)) => {
                    let mut ready = warm.lock();
                    ready.push_back(sandbox);
                    warm.publish(ready.len());
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the sandbox pool could not launch a sandbox; retrying");
                    pause_until = Some(tokio::time::Instant::now() + pool.retry_delay);
                }
                Err(e) => tracing::warn!(error = %e, "a launch of the sandbox pool panicked"),
            },
            changed = count.changed() => if changed.is_err() { return },
            () = pause => pause_until = None,
            () = stop.cancelled() => {
                while let Some(done) = launches.join_next().await {
                    if let Ok(Ok(sandbox)) = done {
                        let mut ready = warm.lock();
                        ready.push_back(sandbox);
                        warm.publish(ready.len());
                    }
                }
                return;
            }
        }
    }
}
