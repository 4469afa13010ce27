//! The sandbox pool refills with several launches at once (the engine
//! starts several about as fast as one), never more than it was told and
//! never past its size. On the real local Docker engine, through a launcher
//! that counts the launches of the real one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::docker::launcher;
use toolwire::docker::{DockerLauncher, DockerSandbox, LaunchConfig, LaunchError};
use toolwire::launcher::{Launcher, PoolConfig, SandboxPool};
use toolwire::{Executor, ToolRequest};

/// The real launcher, counting how many of its launches run at once.
#[derive(Clone)]
struct Counting {
    inner: DockerLauncher,
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[async_trait]
impl Launcher for Counting {
    type Config = LaunchConfig;
    type Sandbox = DockerSandbox;
    type Error = LaunchError;

    async fn launch(&self, config: LaunchConfig) -> Result<DockerSandbox, LaunchError> {
        let running = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(running, Ordering::SeqCst);
        let launched = self.inner.launch(config).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        launched
    }
}

async fn warm_pool(size: usize, parallel: usize) -> usize {
    let counting = Counting {
        inner: launcher().await,
        now: Arc::new(AtomicUsize::new(0)),
        most: Arc::new(AtomicUsize::new(0)),
    };
    let pool = SandboxPool::new(
        counting.clone(),
        LaunchConfig::default().session("pool-parallel"),
        PoolConfig::size(size).parallel_launches(parallel),
    );
    assert!(
        pool.wait_warm(size, Duration::from_secs(120)).await,
        "the pool warms {size} sandboxes"
    );
    // A sandbox handed out is replaced; it answers like any other.
    let sandbox = pool.acquire().await.expect("acquire");
    let listed = sandbox
        .executor()
        .execute(ToolRequest::new("ls", serde_json::json!({})))
        .await
        .expect("answer");
    assert_eq!(listed.output, "(empty directory)");
    assert!(
        pool.wait_warm(size, Duration::from_secs(120)).await,
        "the pool refills"
    );
    sandbox.shutdown().await.expect("shutdown");
    pool.shutdown().await;
    assert_eq!(
        counting.now.load(Ordering::SeqCst),
        0,
        "no launch left running"
    );
    counting.most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_launches_up_to_its_parallel_limit_at_once() {
    assert_eq!(warm_pool(4, 4).await, 4, "four launches at once");
    assert_eq!(warm_pool(3, 8).await, 3, "never more than the pool's room");
    assert_eq!(warm_pool(2, 1).await, 1, "one at a time when told so");
}

/// The real launcher, each launch waiting for a permit the test hands out.
#[derive(Clone)]
struct Gated {
    inner: DockerLauncher,
    permits: Arc<tokio::sync::Semaphore>,
}

#[async_trait]
impl Launcher for Gated {
    type Config = LaunchConfig;
    type Sandbox = DockerSandbox;
    type Error = LaunchError;

    async fn launch(&self, config: LaunchConfig) -> Result<DockerSandbox, LaunchError> {
        let permit = self.permits.acquire().await.expect("the gate stays open");
        permit.forget();
        self.inner.launch(config).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_warm_takes_only_a_warm_sandbox_and_never_launches() {
    let gated = Gated {
        inner: launcher().await,
        permits: Arc::new(tokio::sync::Semaphore::new(1)),
    };
    let pool = SandboxPool::new(
        gated.clone(),
        LaunchConfig::default().session("pool-acquire-warm"),
        PoolConfig::size(1),
    );
    assert!(
        pool.wait_warm(1, Duration::from_secs(120)).await,
        "the pool warms its one sandbox"
    );
    let first = pool.acquire_warm().await.expect("the warm sandbox");
    // The refill waits at the gate: the pool is dry, and acquire_warm says
    // so at once instead of launching.
    assert!(pool.acquire_warm().await.is_none(), "a dry pool gives none");
    gated.permits.add_permits(1);
    assert!(
        pool.wait_warm(1, Duration::from_secs(120)).await,
        "the pool refills once a launch may run"
    );
    let second = pool.acquire_warm().await.expect("the refilled sandbox");
    assert_ne!(first.id(), second.id(), "a sandbox is handed out once");
    let answer = second
        .executor()
        .execute(ToolRequest::new("ls", serde_json::json!({})))
        .await
        .expect("answer");
    assert_eq!(answer.output, "(empty directory)");
    first.shutdown().await.expect("shutdown");
    second.shutdown().await.expect("shutdown");
    gated.permits.add_permits(1);
    pool.shutdown().await;
}
