//! Launch backends behind one trait: a [`Launcher`] turns a configuration
//! into a [`Sandbox`] — a handle that yields a connected [`RemoteExecutor`],
//! reports how the sandbox ended (exit code, OOM, last logs), and shuts it
//! down. [`SandboxPool`] keeps sandboxes of any launcher warm.
//!
//! Docker (`docker::DockerLauncher`) is the first backend; the orchestrator's
//! code does not change with the next.

pub mod owner;
mod pool;

pub use pool::{PoolConfig, SandboxPool};

use std::path::Path;

use async_trait::async_trait;

use crate::error::SandboxEnded;
use crate::peer::{TransferError, Transferred};
use crate::remote::RemoteExecutor;

/// Creates sandboxes on one backend.
#[async_trait]
pub trait Launcher: Send + Sync + 'static {
    /// How to launch one sandbox.
    type Config: Clone + Send + Sync + 'static;
    /// The handle of a launched sandbox.
    type Sandbox: Sandbox;
    /// Why a launch failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Launches one sandbox and connects to it.
    ///
    /// # Errors
    /// The backend's error; nothing the launch created is left behind.
    async fn launch(&self, config: Self::Config) -> Result<Self::Sandbox, Self::Error>;
}

/// A running sandbox: its connected executor and its life. Dropping it only
/// signals (its backend removes it in a task the launcher owns);
/// [`Sandbox::shutdown`] removes it and waits.
#[async_trait]
pub trait Sandbox: Send + Sync + 'static {
    /// Why shutting down failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The executor to give the agent loop.
    fn executor(&self) -> &RemoteExecutor;

    /// The sandbox's name on its backend.
    fn name(&self) -> &str;

    /// Whether the sandbox runs and its connection stands.
    fn is_alive(&self) -> bool;

    /// How the sandbox ended, once it has ended on its own (exit code, OOM,
    /// last log lines, in the backend's error type).
    fn ended(&self) -> Option<SandboxEnded>;

    /// Copies the file or directory `local` into the sandbox at `remote`
    /// (over the sandbox's connection: no mount, any backend).
    ///
    /// # Errors
    /// As [`Peer::upload_with`](crate::Peer::upload_with).
    async fn upload(&self, local: &Path, remote: &str) -> Result<Transferred, TransferError> {
        self.executor().peer().upload(local, remote).await
    }

    /// Copies the file or directory `remote` of the sandbox to `local`.
    ///
    /// # Errors
    /// As [`Peer::download_with`](crate::Peer::download_with).
    async fn download(&self, remote: &str, local: &Path) -> Result<Transferred, TransferError> {
        self.executor().peer().download(remote, local).await
    }

    /// Stops the sandbox (a grace period, then a kill) and removes it.
    ///
    /// # Errors
    /// The backend's error when the sandbox cannot be removed.
    async fn shutdown(self) -> Result<(), Self::Error>;
}
