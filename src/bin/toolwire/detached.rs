//! Where `toolwire up` keeps what later commands need to reach a detached
//! sandbox: `<runtime dir>/toolwire/<name>.json` and the token beside it in
//! `<name>.token`, both mode 0600 in a directory of mode 0700. The runtime
//! dir is `$XDG_RUNTIME_DIR`, else `/tmp/toolwire-<uid>` (checked to be
//! ours and closed to others before anything is written there).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use toolwire::Endpoint;

/// Where a detached sandbox runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A container of the local Docker engine.
    #[default]
    Docker,
    /// A Pod of the current kubeconfig's (or in-cluster) Kubernetes.
    Kubernetes,
}

/// A detached sandbox, as `toolwire up --json` prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detached {
    /// The name given to `up`.
    pub name: String,
    /// Docker or Kubernetes (records written before there was a choice are Docker's).
    #[serde(default)]
    pub backend: Backend,
    /// `ws://127.0.0.1:PORT/ws`, `unix://PATH` for a sandbox with no
    /// network, or `k8s://NAMESPACE/POD` (reached through a port-forward).
    pub url: String,
    /// The bearer token's file (mode 0600).
    pub token_file: PathBuf,
    /// The container id, or the Pod's name.
    pub container: String,
    /// The Pod's namespace (Kubernetes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Unix socket's host directory, removed by `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_dir: Option<PathBuf>,
}

impl Detached {
    /// Where the server listens.
    pub fn endpoint(&self) -> Endpoint {
        match self.url.strip_prefix("unix://") {
            Some(path) => Endpoint::Unix(PathBuf::from(path)),
            None => Endpoint::Url(self.url.clone()),
        }
    }

    /// The URL form of `endpoint`.
    pub fn url_of(endpoint: &Endpoint) -> String {
        match endpoint {
            Endpoint::Url(url) => url.clone(),
            Endpoint::Unix(path) => format!("unix://{}", path.display()),
        }
    }

    /// The token, read from its file.
    pub fn token(&self) -> anyhow::Result<String> {
        let token = std::fs::read_to_string(&self.token_file)
            .with_context(|| format!("read the token file {}", self.token_file.display()))?;
        Ok(token.trim().to_owned())
    }
}

/// The directory of the state files, made (0700) when missing.
pub fn state_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if !runtime.is_empty() => PathBuf::from(runtime).join("toolwire"),
        _ => std::env::temp_dir().join(format!("toolwire-{}", current_uid())),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("create {}", dir.display())),
    }
    let meta =
        std::fs::symlink_metadata(&dir).with_context(|| format!("stat {}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != current_uid() || meta.mode() & 0o077 != 0 {
        bail!(
            "{} is not a directory of this user closed to others (mode 0700): refusing to keep sandbox tokens there",
            dir.display()
        );
    }
    Ok(dir)
}

/// This process's uid, from /proc (no unsafe call needed).
fn current_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

/// A name `up` accepts: what Docker allows in a container name, so it can
/// be part of file names too.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.starts_with('.');
    if !ok {
        bail!(
            "sandbox name {name:?}: use 1-40 letters, digits, '_', '.' or '-', not starting with '.'"
        );
    }
    Ok(())
}

fn state_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Writes `contents` to a new file of mode 0600 (never over an existing one).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents)
        .with_context(|| format!("write {}", path.display()))
}

/// Records a detached sandbox: its token file, then its state file.
pub fn save(dir: &Path, state: &Detached, token: &str) -> anyhow::Result<()> {
    write_private(&state.token_file, token.as_bytes())?;
    write_private(
        &state_file(dir, &state.name),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )
}

/// The token file's path for `name`.
pub fn token_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.token"))
}

/// Whether a sandbox of that name is recorded.
pub fn exists(dir: &Path, name: &str) -> bool {
    state_file(dir, name).exists()
}

/// The recorded sandbox `name`.
pub fn load(dir: &Path, name: &str) -> anyhow::Result<Detached> {
    check_name(name)?;
    let path = state_file(dir, name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "no sandbox named {name:?} is up (toolwire ps lists them; toolwire up --name {name} starts one)"
            )
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a sandbox record", path.display()))
}

/// Forgets `state`: its state file, token file and socket directory.
pub fn forget(dir: &Path, state: &Detached) {
    let _ = std::fs::remove_file(state_file(dir, &state.name));
    let _ = std::fs::remove_file(&state.token_file);
    if let Some(socket_dir) = &state.socket_dir {
        let _ = std::fs::remove_dir_all(socket_dir);
    }
}

/// Every recorded sandbox.
pub fn all(dir: &Path) -> Vec<Detached> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Detached> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The name `up` gave the recorded sandbox of `container` (a container id
/// or a Pod's name), or `-`.
pub fn name_of<'a>(recorded: &'a [Detached], container: &str) -> &'a str {
    recorded
        .iter()
        .find(|d| d.container == container)
        .map_or("-", |d| d.name.as_str())
}

/// Says on stderr which recorded sandboxes lost their `what` (container or
/// Pod): those whose `container` is not in `present`.
pub fn report_gone<'a>(
    recorded: &[Detached],
    present: impl Iterator<Item = &'a str> + Clone,
    what: &str,
) {
    for gone in recorded
        .iter()
        .filter(|d| !present.clone().any(|p| p == d.container))
    {
        eprintln!(
            "sandbox {} is recorded but its {what} is gone (idle timeout?); toolwire down {} forgets it",
            gone.name, gone.name
        );
    }
}
