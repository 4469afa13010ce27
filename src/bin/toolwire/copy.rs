//! `toolwire cp SRC DST`: copies a file or a directory between this machine
//! and a detached sandbox, over the sandbox's connection (no mount), with a
//! progress bar. The sandbox side is written `NAME:path`, as `docker cp` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use toolwire::{TransferOptions, Transferred};

use super::{detached, sandboxes};

/// Arguments of `toolwire cp`.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// What to copy: a local path, or NAME:path in a sandbox.
    pub source: String,
    /// Where to: NAME:path in a sandbox, or a local path. A sandbox path
    /// ending in `/` (or an existing local directory) receives the source
    /// under its own name.
    pub destination: String,
    /// Approve every permission ask (without it, an ask is asked on the
    /// terminal, or refused when there is none).
    #[arg(long)]
    pub allow_all: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One side of a copy.
#[derive(Debug, PartialEq, Eq)]
enum Side {
    Local(PathBuf),
    Sandbox { name: String, path: String },
}

/// `NAME:path` when the part before the first `:` is a sandbox name (a
/// local path with a `:` in it can be written `./a:b`).
fn side(text: &str) -> Side {
    match text.split_once(':') {
        Some((name, path)) if detached::check_name(name).is_ok() && !path.is_empty() => {
            Side::Sandbox {
                name: name.to_owned(),
                path: path.to_owned(),
            }
        }
        _ => Side::Local(PathBuf::from(text)),
    }
}

fn base_name(path: &str) -> anyhow::Result<&str> {
    Path::new(path.trim_end_matches('/'))
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{path:?} has no file name to copy under"))
}

/// `toolwire cp SRC DST`.
pub async fn run(args: &CopyArgs) -> anyhow::Result<()> {
    let bar = progress_bar(args.quiet);
    let options = TransferOptions {
        progress: Some(Arc::new({
            let bar = bar.clone();
            move |done, total| {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
        })),
    };
    let done = match (side(&args.source), side(&args.destination)) {
        (Side::Local(local), Side::Sandbox { name, path }) => {
            let remote = if path.ends_with('/') {
                format!("{path}{}", base_name(&local.to_string_lossy())?)
            } else {
                path
            };
            let executor = sandboxes::connect_to(&name, args.allow_all).await?;
            let result = executor.peer().upload_with(&local, &remote, &options).await;
            executor.close().await;
            result
                .with_context(|| format!("could not copy {} to {name}:{remote}", local.display()))?
        }
        (Side::Sandbox { name, path }, Side::Local(local)) => {
            let local = if local.is_dir() {
                local.join(base_name(&path)?)
            } else {
                local
            };
            let executor = sandboxes::connect_to(&name, args.allow_all).await?;
            let result = executor.peer().download_with(&path, &local, &options).await;
            executor.close().await;
            result
                .with_context(|| format!("could not copy {name}:{path} to {}", local.display()))?
        }
        (Side::Local(_), Side::Local(_)) => {
            anyhow::bail!("one side must be in a sandbox, written NAME:path (see toolwire ps)")
        }
        (Side::Sandbox { .. }, Side::Sandbox { .. }) => {
            anyhow::bail!(
                "copy between two sandboxes through this machine: cp to a local path, then from it"
            )
        }
    };
    bar.finish_and_clear();
    report(&done);
    Ok(())
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn report(done: &Transferred) {
    let what = if done.archive {
        "a directory"
    } else {
        "a file"
    };
    println!(
        "copied {what}: {} bytes, blake3 {}",
        done.bytes, done.blake3
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_side_is_name_colon_path() {
        assert_eq!(
            side("box1:/workspace/a"),
            Side::Sandbox {
                name: "box1".into(),
                path: "/workspace/a".into()
            }
        );
        assert_eq!(side("./a:b"), Side::Local(PathBuf::from("./a:b")));
        assert_eq!(side("/tmp/x"), Side::Local(PathBuf::from("/tmp/x")));
        assert_eq!(base_name("dir/sub/").expect("a name"), "sub");
    }
}
