//! read, write, edit, ls, glob, grep and question against the "File tools"
//! faults of shared/FAULTS.md.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use toolwire::tools::{self, ToolsConfig};
use toolwire::{
    Action, CallContext, LocalExecutor, Outcome, PermissionRule, ToolRequest, ToolResponse,
};

/// Workdir `<tmp>/work`, tools allowed to edit inside it, nothing else decided.
fn setup() -> (tempfile::TempDir, LocalExecutor) {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().canonicalize().expect("canonical").join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let executor = tools::executor(&work, ToolsConfig::default()).expect("tools");
    executor
        .shared()
        .permissions
        .set_rules(vec![PermissionRule::new("edit", "*", Action::Allow)]);
    (dir, executor)
}

async fn call(executor: &LocalExecutor, tool: &str, input: Value) -> Outcome {
    let ctx = CallContext::new(executor.workdir().to_path_buf(), executor.shared().clone());
    tokio::time::timeout(
        Duration::from_secs(10),
        executor.run(ToolRequest::new(tool, input), ctx),
    )
    .await
    .expect("the call returns at once")
}

async fn ok(executor: &LocalExecutor, tool: &str, input: Value) -> ToolResponse {
    match call(executor, tool, input).await {
        Outcome::Response(r) if !r.is_error && !r.denied => r,
        other => panic!("{tool}: expected success, got {other:?}"),
    }
}

async fn failed(executor: &LocalExecutor, tool: &str, input: Value) -> String {
    match call(executor, tool, input).await {
        Outcome::Response(r) if r.is_error => r.output,
        other => panic!("{tool}: expected an error, got {other:?}"),
    }
}

fn work(executor: &LocalExecutor) -> &Path {
    executor.workdir()
}

#[tokio::test]
async fn write_then_read_numbered_lines_with_offset_and_limit() {
    let (_dir, ex) = setup();
    ok(
        &ex,
        "write",
        json!({"path": "src/a.txt", "content": "one\ntwo\nthree\n"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(work(&ex).join("src/a.txt")).expect("written"),
        "one\ntwo\nthree\n"
    );
    let all = ok(&ex, "read", json!({"path": "src/a.txt"})).await;
    assert_eq!(all.output, "     1\tone\n     2\ttwo\n     3\tthree\n");
    let page = ok(
        &ex,
        "read",
        json!({"path": "src/a.txt", "offset": 2, "limit": 1}),
    )
    .await;
    assert_eq!(
        page.output,
        "     2\ttwo\n[more lines follow; continue with offset 3]\n"
    );
}

#[tokio::test]
async fn read_refuses_binaries_directories_fifos_and_devices_at_once() {
    let (_dir, ex) = setup();
    let w = work(&ex);
    std::fs::write(w.join("bin"), b"\x7fELF\0\0\x01").expect("write");
    std::fs::create_dir(w.join("dir")).expect("mkdir");
    let fifo = w.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", w.join("zero")).expect("symlink");
    ex.shared().permissions.add_rules([PermissionRule::new(
        "external_directory",
        "*",
        Action::Allow,
    )]);
    assert!(
        failed(&ex, "read", json!({"path": "bin"}))
            .await
            .contains("binary")
    );
    assert!(
        failed(&ex, "read", json!({"path": "dir"}))
            .await
            .contains("directory")
    );
    assert!(
        failed(&ex, "read", json!({"path": "fifo"}))
            .await
            .contains("FIFO")
    );
    assert!(
        failed(&ex, "read", json!({"path": "zero"}))
            .await
            .contains("device")
    );
    assert!(
        failed(&ex, "read", json!({"path": "missing.txt"}))
            .await
            .contains("not found")
    );
}

#[tokio::test]
async fn paths_leading_outside_ask_external_directory_never_silently_followed() {
    let (dir, ex) = setup();
    let w = work(&ex);
    std::os::unix::fs::symlink("/etc", w.join("etc")).expect("symlink");
    std::fs::write(dir.path().join("outside.txt"), "secret").expect("write");
    for (path, resolved) in [
        ("etc/hostname", "/etc/hostname".to_owned()),
        (
            "../outside.txt",
            dir.path()
                .canonicalize()
                .expect("c")
                .join("outside.txt")
                .display()
                .to_string(),
        ),
        ("/etc/hostname", "/etc/hostname".to_owned()),
    ] {
        match call(&ex, "read", json!({ "path": path })).await {
            Outcome::PermissionNeeded(p) => {
                assert_eq!(p.permission, "external_directory");
                assert_eq!(p.patterns, [resolved]);
            }
            other => panic!("{path}: expected external_directory, got {other:?}"),
        }
    }
    // A deny rule refuses; write through the symlink creates nothing.
    ex.shared().permissions.add_rules([PermissionRule::new(
        "external_directory",
        "*",
        Action::Deny,
    )]);
    match call(
        &ex,
        "write",
        json!({"path": "etc/toolwire-test", "content": "x"}),
    )
    .await
    {
        Outcome::Response(r) => assert!(r.denied, "{r:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!Path::new("/etc/toolwire-test").exists());
}

#[tokio::test]
async fn write_and_edit_ask_edit_with_the_relative_path() {
    let (_dir, ex) = setup();
    ex.shared().permissions.set_rules(vec![]);
    match call(
        &ex,
        "write",
        json!({"path": "./a/../b.txt", "content": "x"}),
    )
    .await
    {
        Outcome::PermissionNeeded(p) => {
            assert_eq!(p.permission, "edit");
            assert_eq!(p.patterns, ["b.txt"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(!work(&ex).join("b.txt").exists());
}

#[tokio::test]
async fn edit_replaces_exactly_and_leaves_the_file_byte_identical_on_a_bad_match() {
    let (_dir, ex) = setup();
    let file = work(&ex).join("code.py");
    let original = "x = 1\ny = 1\nprint(x)\n";
    std::fs::write(&file, original).expect("write");

    let ambiguous = failed(
        &ex,
        "edit",
        json!({"path": "code.py", "old_string": "= 1", "new_string": "= 2"}),
    )
    .await;
    assert!(ambiguous.contains("occurs 2 times"), "{ambiguous}");
    assert_eq!(std::fs::read(&file).expect("read"), original.as_bytes());

    let missing = failed(
        &ex,
        "edit",
        json!({"path": "code.py", "old_string": "z = 1", "new_string": "z = 2"}),
    )
    .await;
    assert!(missing.contains("not found"), "{missing}");
    assert_eq!(std::fs::read(&file).expect("read"), original.as_bytes());

    ok(
        &ex,
        "edit",
        json!({"path": "code.py", "old_string": "y = 1", "new_string": "y = 2"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "x = 1\ny = 2\nprint(x)\n"
    );
    let all = ok(
        &ex,
        "edit",
        json!({"path": "code.py", "old_string": "x", "new_string": "z", "replace_all": true}),
    )
    .await;
    assert_eq!(all.metadata["replacements"], 2);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "z = 1\ny = 2\nprint(z)\n"
    );
}

#[tokio::test]
async fn a_failed_write_leaves_the_old_content_and_no_temp_file() {
    let (_dir, ex) = setup();
    let w = work(&ex);
    std::fs::create_dir(w.join("ro")).expect("mkdir");
    std::fs::write(w.join("ro/keep.txt"), "old").expect("write");
    // A directory where the file should be: refused, nothing replaced.
    std::fs::create_dir(w.join("ro/adir")).expect("mkdir");
    assert!(
        failed(&ex, "write", json!({"path": "ro/adir", "content": "new"}))
            .await
            .contains("not a regular file")
    );
    assert!(w.join("ro/adir").is_dir());
    let leftovers: Vec<_> = std::fs::read_dir(w.join("ro"))
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".toolwire-"))
        .collect();
    assert!(leftovers.is_empty());
    assert_eq!(
        std::fs::read_to_string(w.join("ro/keep.txt")).expect("read"),
        "old"
    );
}

#[tokio::test]
async fn ls_glob_and_grep_honor_gitignore_and_cap_results() {
    let (_dir, ex) = setup();
    let w = work(&ex);
    std::fs::write(w.join(".gitignore"), "target/\n").expect("write");
    for (path, content) in [
        ("src/main.rs", "fn main() {\n    // TODO: start\n}\n"),
        ("src/lib/util.rs", "pub fn util() {} // todo later\n"),
        ("target/debug/gen.rs", "// TODO generated\n"),
        ("README.md", "TODO docs\n"),
    ] {
        std::fs::create_dir_all(w.join(path).parent().expect("parent")).expect("mkdir");
        std::fs::write(w.join(path), content).expect("write");
    }
    let ls = ok(&ex, "ls", json!({})).await;
    assert_eq!(ls.output, ".gitignore\nREADME.md\nsrc/\ntarget/");

    let mut glob: Vec<String> = ok(&ex, "glob", json!({"pattern": "*.rs"}))
        .await
        .output
        .lines()
        .map(str::to_owned)
        .collect();
    glob.sort();
    assert_eq!(glob, ["src/lib/util.rs", "src/main.rs"]);
    let nested = ok(&ex, "glob", json!({"pattern": "src/*.rs"})).await;
    assert_eq!(nested.output, "src/main.rs");

    let grep = ok(&ex, "grep", json!({"pattern": "TODO", "include": "*.rs"})).await;
    assert_eq!(grep.output, "src/main.rs:2:     // TODO: start\n");
    let ci = ok(
        &ex,
        "grep",
        json!({"pattern": "todo", "case_insensitive": true}),
    )
    .await;
    assert_eq!(ci.metadata["matches"], 3, "{}", ci.output);
    assert!(
        failed(&ex, "grep", json!({"pattern": "("}))
            .await
            .contains("invalid regex")
    );

    for i in 0..1200 {
        std::fs::write(w.join(format!("src/f{i}.txt")), "hit\n").expect("write");
    }
    let capped = ok(&ex, "glob", json!({"pattern": "*.txt"})).await;
    assert_eq!(capped.metadata["matches"], 1200);
    assert!(
        capped
            .output
            .ends_with("[results truncated: 1200 files matched, 1000 shown]")
    );
    let capped = ok(&ex, "grep", json!({"pattern": "hit"})).await;
    assert_eq!(capped.metadata["matches"], 500);
    assert_eq!(capped.metadata["truncated"], true);
}

#[tokio::test]
async fn question_uses_the_queue_and_suspends_without_answers() {
    let (_dir, ex) = setup();
    let input = json!({"questions": [{"question": "Proceed?", "header": "Go", "options": [{"label": "yes", "description": ""}]}]});
    match call(&ex, "question", input.clone()).await {
        Outcome::QuestionNeeded(q) => assert_eq!(q.questions[0].question, "Proceed?"),
        other => panic!("{other:?}"),
    }
    ex.shared().questions.push_answers(vec![vec!["yes".into()]]);
    let answered = ok(&ex, "question", input).await;
    assert_eq!(
        answered.output,
        "The user answered:\n\"Proceed?\" = \"yes\""
    );
}
