//! `ensure_image`: the sandbox image exists after it returns, built offline
//! when it was missing (base image included).
//!
//! The tag is a digest of the Dockerfile and the server binary, so an image
//! always holds the server it was built from. Several processes may call it at
//! once: they serialise on a lock file and re-check after taking it.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bollard::query_parameters::BuildImageOptions;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{DockerLauncher, LABEL_MANAGED, LaunchError};

/// Receives one line of build progress.
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

impl DockerLauncher {
    /// Makes sure the sandbox image exists and returns its tag: builds the
    /// base image from Debian packages if it is missing, then the sandbox
    /// image from the Dockerfile and the server binary. Progress lines go to
    /// `progress` (and to tracing).
    ///
    /// # Errors
    /// [`LaunchError::Image`] naming what is missing or what failed.
    pub async fn ensure_image(&self, progress: Progress<'_>) -> Result<String, LaunchError> {
        if let Some(image) = &self.images.image {
            return match self.docker.inspect_image(image).await {
                Ok(_) => Ok(image.clone()),
                Err(e) => Err(LaunchError::image_because(format!(
                    "the configured image {image} is not available"
                ))(e.into())),
            };
        }
        let binary = self.server_binary()?;
        let dockerfile = std::fs::read(&self.images.dockerfile).map_err(|e| {
            LaunchError::image_because(format!(
                "cannot read the Dockerfile {}",
                self.images.dockerfile.display()
            ))(e.into())
        })?;
        let tag = {
            let binary = binary.clone();
            let dockerfile = dockerfile.clone();
            let repository = self.images.repository.clone();
            tokio::task::spawn_blocking(move || image_tag(&repository, &dockerfile, &binary))
                .await
                .map_err(|e| {
                    LaunchError::image_because("hashing the server binary stopped")(e.into())
                })??
        };
        if self.docker.inspect_image(&tag).await.is_ok() {
            return Ok(tag);
        }
        let _lock = lock_builds().await?;
        if self.docker.inspect_image(&tag).await.is_ok() {
            return Ok(tag);
        }
        self.ensure_base(progress).await?;
        progress(&format!(
            "building {tag} from {}",
            self.images.dockerfile.display()
        ));
        let context = {
            let binary = binary.clone();
            tokio::task::spawn_blocking(move || build_context(&dockerfile, &binary))
                .await
                .map_err(|e| {
                    LaunchError::image_because("packing the build context stopped")(e.into())
                })??
        };
        let options = BuildImageOptions {
            t: Some(tag.clone()),
            dockerfile: "Dockerfile".into(),
            rm: true,
            forcerm: true,
            buildargs: Some(HashMap::from([(
                "BASE_IMAGE".to_owned(),
                self.images.base_image.clone(),
            )])),
            labels: Some(HashMap::from([(
                LABEL_MANAGED.to_owned(),
                "true".to_owned(),
            )])),
            ..BuildImageOptions::default()
        };
        let mut build =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        while let Some(step) = build.next().await {
            let info =
                step.map_err(|e| LaunchError::image_because("docker build failed")(e.into()))?;
            if let Some(error) = info.error {
                return Err(LaunchError::image(format!("docker build failed: {error}")));
            }
            if let Some(line) = info
                .stream
                .as_deref()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
            {
                tracing::debug!(target: "toolwire::docker::build", "{line}");
                progress(line);
            }
        }
        self.docker.inspect_image(&tag).await.map_err(|e| {
            LaunchError::image_because(format!("the build finished but {tag} is missing"))(e.into())
        })?;
        progress(&format!("built {tag}"));
        Ok(tag)
    }

    /// Builds the base image with the configured script when it is missing.
    async fn ensure_base(&self, progress: Progress<'_>) -> Result<(), LaunchError> {
        let base = &self.images.base_image;
        if self.docker.inspect_image(base).await.is_ok() {
            return Ok(());
        }
        let script = &self.images.base_script;
        if !script.exists() {
            return Err(LaunchError::image(format!(
                "the base image {base} is missing and there is no script to build it at {}; \
                 pull it or run container/make-base-image.sh from the toolwire repository",
                script.display()
            )));
        }
        progress(&format!(
            "base image {base} is missing: building it from Debian packages (about a minute)"
        ));
        let mut child = tokio::process::Command::new("bash")
            .arg(script)
            .arg(base)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                LaunchError::image_because(format!("cannot run {}", script.display()))(e.into())
            })?;
        let mut lines = Vec::new();
        if let Some(stderr) = child.stderr.take() {
            use tokio::io::AsyncBufReadExt;
            let mut reader = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                progress(&line);
                lines.push(line);
            }
        }
        let status = child.wait().await.map_err(|e| {
            LaunchError::image_because(format!("{} failed", script.display()))(e.into())
        })?;
        if !status.success() {
            let tail = lines[lines.len().saturating_sub(10)..].join("\n");
            return Err(LaunchError::image(format!(
                "{} failed ({status}):\n{tail}",
                script.display()
            )));
        }
        Ok(())
    }

    /// The server binary to put in the image.
    fn server_binary(&self) -> Result<PathBuf, LaunchError> {
        let path = match &self.images.server_binary {
            Some(path) => path.clone(),
            None => std::env::current_exe()
                .ok()
                .and_then(|exe| {
                    // target/<profile>/toolwire, or target/<profile>/deps/<test> for tests.
                    exe.ancestors()
                        .skip(1)
                        .take(2)
                        .map(|dir| dir.join("toolwire-server"))
                        .find(|candidate| candidate.is_file())
                })
                .ok_or_else(|| {
                    LaunchError::image(
                        "cannot find the toolwire-server binary next to this program; build it \
                         (cargo build --bin toolwire-server) or set ImageConfig::server_binary",
                    )
                })?,
        };
        if !path.is_file() {
            return Err(LaunchError::image(format!(
                "the server binary {} does not exist",
                path.display()
            )));
        }
        Ok(path)
    }
}

/// `<repository>:<first 16 hex digits of sha256(Dockerfile, binary)>`.
fn image_tag(repository: &str, dockerfile: &[u8], binary: &Path) -> Result<String, LaunchError> {
    let mut hasher = Sha256::new();
    hasher.update(dockerfile);
    let mut file = std::fs::File::open(binary)
        .map_err(LaunchError::io(format!("open {}", binary.display())))?;
    std::io::copy(&mut file, &mut hasher)
        .map_err(LaunchError::io(format!("read {}", binary.display())))?;
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(format!("{repository}:{hex}"))
}

/// A tar of the build context: the Dockerfile and the server binary.
fn build_context(dockerfile: &[u8], binary: &Path) -> Result<Vec<u8>, LaunchError> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "Dockerfile", dockerfile)
        .map_err(LaunchError::io("add the Dockerfile to the build context"))?;
    let mut file = std::fs::File::open(binary)
        .map_err(LaunchError::io(format!("open {}", binary.display())))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(
        file.metadata()
            .map_err(LaunchError::io("stat the server binary"))?
            .len(),
    );
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(&mut header, "toolwire-server", &mut file)
        .map_err(LaunchError::io(
            "add the server binary to the build context",
        ))?;
    tar.into_inner()
        .map_err(LaunchError::io("finish the build context"))
}

/// Holds an exclusive lock on a file shared by every toolwire process on this
/// machine while an image is built; released on drop.
struct BuildLock(std::fs::File);

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

async fn lock_builds() -> Result<BuildLock, LaunchError> {
    let path = std::env::temp_dir().join("toolwire-image-build.lock");
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(LaunchError::io(format!(
                "open the build lock {}",
                path.display()
            )))?;
        file.lock()
            .map_err(LaunchError::io(format!("lock {}", path.display())))?;
        let _ = writeln!(file, "{}", std::process::id());
        Ok(BuildLock(file))
    })
    .await
    .map_err(|e| LaunchError::image_because("taking the build lock stopped")(e.into()))?
}
