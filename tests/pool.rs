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
