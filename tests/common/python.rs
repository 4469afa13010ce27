//! A Python virtual environment for tests that check toolwire against the
//! official Python packages (parsers, SDKs). Made on first use under the
//! target directory, shared by every test binary (a file lock serialises
//! the set-up), and never by hand: a fresh machine gets it from the tests.

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;

/// The venv's python with `packages` installed (pip requirement strings).
pub fn python_with(packages: &[&str]) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-venv");
    std::fs::create_dir_all(&root).expect("create the venv directory");
    let lock = File::create(root.with_extension("lock")).expect("create the venv lock");
    lock.lock().expect("lock the venv");
    let python = root.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&root)
            .status()
            .expect("python3 is needed to make the test venv (python3 -m venv)");
        assert!(made.success(), "python3 -m venv {} failed", root.display());
    }
    let marker = root.join(format!(
        "installed-{}",
        packages.join("+").replace(['/', ' '], "_")
    ));
    if !marker.exists() {
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages)
            .status()
            .expect("run pip");
        assert!(
            installed.success(),
            "pip install {packages:?} failed (is PyPI reachable?)"
        );
        File::create(&marker).expect("mark the packages installed");
    }
    python
}
