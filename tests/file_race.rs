//! The symlink-swap race against the file tools, run for real: while the
//! tools read and write `race/…` 500 times each, another thread keeps
//! exchanging the directory `race` with a symlink to a directory outside the
//! workdir (`renameat2(RENAME_EXCHANGE)`). With `external_directory` denied,
//! nothing may be written or read outside, and no temporary file may stay.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use toolwire::tools::{self, ToolsConfig};
use toolwire::{Action, CallContext, LocalExecutor, Outcome, PermissionRule, ToolRequest};

const ROUNDS: usize = 500;

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in the path")
}

/// Swaps `a` and `b` atomically until `stop` is set; counts the swaps.
fn swapper(a: PathBuf, b: PathBuf, stop: Arc<AtomicBool>, swaps: Arc<AtomicUsize>) {
    let (a, b) = (c_path(&a), c_path(&b));
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: both are valid NUL-terminated paths that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
        swaps.fetch_add(1, Ordering::Relaxed);
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn call(executor: &LocalExecutor, tool: &str, input: serde_json::Value) -> Outcome {
    let ctx = CallContext::new(executor.workdir().to_path_buf(), executor.shared().clone());
    tokio::time::timeout(
        Duration::from_secs(10),
        executor.run(ToolRequest::new(tool, input), ctx),
    )
    .await
    .expect("the call returns")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_a_directory_for_a_symlink_never_leads_the_file_tools_outside() {
    let root = tempfile::tempdir().expect("tempdir");
    let base = root.path().canonicalize().expect("canonical");
    let work = base.join("work");
    let outside = base.join("outside");
    std::fs::create_dir_all(work.join("race")).expect("mkdir race");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    std::fs::write(work.join("race/x"), "INSIDE\n").expect("inside file");
    std::fs::write(outside.join("x"), "OUTSIDE\n").expect("outside file");
    std::fs::write(outside.join("only-outside"), "OUTSIDE\n").expect("outside file");
    std::os::unix::fs::symlink(&outside, work.join("link")).expect("symlink");

    let executor = tools::executor(&work, ToolsConfig::default()).expect("tools");
    executor.shared().permissions.set_rules(vec![
        PermissionRule::new("edit", "*", Action::Allow),
        PermissionRule::new("read", "*", Action::Allow),
        PermissionRule::new("external_directory", "*", Action::Deny),
    ]);

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let thread = {
        let (a, b, stop, swaps) = (
            work.join("race"),
            work.join("link"),
            stop.clone(),
            swaps.clone(),
        );
        std::thread::spawn(move || swapper(a, b, stop, swaps))
    };

    let (mut written, mut read_inside, mut read_outside, mut refused) = (0, 0, 0, 0);
    for i in 0..ROUNDS {
        match call(
            &executor,
            "write",
            json!({"path": format!("race/w{i}"), "content": "x"}),
        )
        .await
        {
            Outcome::Response(r) if !r.is_error && !r.denied => written += 1,
            _ => refused += 1,
        }
        match call(&executor, "read", json!({"path": "race/x"})).await {
            Outcome::Response(r) if !r.is_error && !r.denied => {
                if r.output.contains("OUTSIDE") {
                    read_outside += 1;
                } else {
                    assert!(r.output.contains("INSIDE"), "{}", r.output);
                    read_inside += 1;
                }
            }
            _ => refused += 1,
        }
        for tool in ["ls", "glob", "grep"] {
            let input = match tool {
                "ls" => json!({"path": "race"}),
                "glob" => json!({"pattern": "*", "path": "race"}),
                _ => json!({"pattern": "OUTSIDE", "path": "race"}),
            };
            if let Outcome::Response(r) = call(&executor, tool, input).await {
                assert!(
                    !r.output.contains("OUTSIDE") && !r.output.contains("only-outside"),
                    "{tool} showed what is outside: {}",
                    r.output
                );
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().expect("swapper");
    let swaps = swaps.load(Ordering::Relaxed);
    eprintln!("{swaps} swaps; {written} writes and {read_inside} reads inside, {refused} refused");

    assert!(swaps > 1000, "the race must really run ({swaps} swaps)");
    assert_eq!(read_outside, 0, "reads that returned outside content");
    assert_eq!(
        names_in(&outside),
        ["only-outside", "x"],
        "files written outside the workdir"
    );
    // Whichever way round the last swap left them, the real directory holds
    // only what the tools wrote and no temporary file.
    let real = if work.join("race").is_symlink() {
        work.join("link")
    } else {
        work.join("race")
    };
    let left: Vec<String> = names_in(&real)
        .into_iter()
        .filter(|n| n.starts_with(".toolwire-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    assert_eq!(
        names_in(&real).len(),
        written + 1,
        "every successful write, plus x"
    );
    assert!(
        written > 0 && read_inside > 0,
        "some calls must get through"
    );
}
