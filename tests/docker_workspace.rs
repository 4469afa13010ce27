//! The sandbox's own workspace has a size limit: a runaway write fails with
//! "No space left on device" inside the sandbox, and the host's disk does
//! not fill. On the real local Docker engine.

mod common;

use common::docker::{allow_all, bash, launcher};
use toolwire::docker::LaunchConfig;

/// Bytes available to unprivileged users on the filesystem of `path`.
fn available_bytes(path: &str) -> u64 {
    let c_path = std::ffi::CString::new(path).expect("a path without NUL");
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed struct to fill.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    assert_eq!(rc, 0, "statvfs {path}: {}", std::io::Error::last_os_error());
    stats.f_bavail * stats.f_frsize
}

#[tokio::test]
async fn writing_past_the_workspace_limit_fails_inside_and_the_host_disk_does_not_fill() {
    const LIMIT: i64 = 1 << 30;
    let launcher = launcher().await;
    let docker_root = launcher
        .docker()
        .info()
        .await
        .expect("docker info")
        .docker_root_dir
        .unwrap_or_else(|| "/var/lib/docker".to_owned());
    let sandbox = launcher
        .launch(
            LaunchConfig::default()
                .session("disklimit")
                .workspace_limit_bytes(LIMIT),
        )
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let before = available_bytes(&docker_root);
    let write = bash(
        &sandbox,
        "head -c 3G /dev/zero > /workspace/big; echo \"exit=$?\"; stat -c %s /workspace/big",
    )
    .await;
    let after = available_bytes(&docker_root);
    assert!(
        write.output.contains("No space left on device"),
        "{}",
        write.output
    );
    assert!(write.output.contains("exit=1"), "{}", write.output);
    let size: i64 = write
        .output
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("a size in {}", write.output));
    assert!(size <= LIMIT, "the file grew to {size} bytes");
    assert!(size > LIMIT / 2, "only {size} bytes were written");
    let dropped = before.saturating_sub(after);
    assert!(
        dropped <= LIMIT as u64,
        "the host's free space dropped by {dropped} bytes"
    );
    // The server survived the full workspace, and removing the file frees it.
    let again = bash(&sandbox, "rm /workspace/big && head -c 1M /dev/zero > /workspace/small && stat -c %s /workspace/small").await;
    assert_eq!(again.output.trim(), "1048576", "{again:?}");
    sandbox.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_workspace_belongs_to_the_tool_user() {
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(LaunchConfig::default().session("wsowner"))
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let owner = bash(&sandbox, "stat -c '%u:%g %a' /workspace && id -u").await;
    assert_eq!(owner.output.trim(), "1000:1000 755\n1000", "{owner:?}");
    sandbox.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn files_go_in_and_out_of_a_sandbox_without_a_mount_as_the_tool_user() {
    use toolwire::Sandbox as _;
    let launcher = launcher().await;
    let sandbox = launcher
        .launch(LaunchConfig::default().session("transfer"))
        .await
        .expect("launch");
    allow_all(&sandbox).await;
    let local = tempfile::tempdir().expect("tempdir");
    let content: Vec<u8> = (0..32u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(local.path().join("in.bin"), &content).expect("write");

    let up = sandbox
        .upload(&local.path().join("in.bin"), "data/in.bin")
        .await
        .expect("upload");
    assert_eq!(up.bytes, content.len() as u64);
    let inside = bash(
        &sandbox,
        "sha256sum data/in.bin | cut -c1-64; stat -c %u data/in.bin; id -u",
    )
    .await;
    let lines: Vec<&str> = inside.output.lines().collect();
    assert_eq!(lines.len(), 3, "{}", inside.output);
    let sha256: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(
        lines[0], sha256,
        "the sandbox's own sha256sum of what arrived"
    );
    assert_eq!(up.blake3, blake3::hash(&content).to_hex().to_string());
    assert_eq!(lines[1], lines[2], "the file belongs to the tool user");

    let made = bash(&sandbox, "mkdir -p out/x && echo made > out/x/y && echo ok").await;
    assert_eq!(made.output.trim(), "ok");
    let down = sandbox
        .download("out", &local.path().join("out"))
        .await
        .expect("download");
    assert!(down.archive);
    assert_eq!(
        std::fs::read_to_string(local.path().join("out/x/y")).expect("downloaded"),
        "made\n"
    );
    sandbox.shutdown().await.expect("shutdown");
}
