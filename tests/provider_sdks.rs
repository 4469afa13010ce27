//! As a user would check it: what `toolwire tools --format F` prints for
//! every format, and every golden file of proto-examples/providers/, is
//! accepted by that provider's official SDK types (openai, anthropic,
//! google-genai, mcp from PyPI, in the test venv).

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn every_format_is_accepted_by_its_providers_sdk() {
    let python = common::python::python_with(&["openai", "anthropic", "google-genai", "mcp"]);
    let dir = tempfile::tempdir().expect("tempdir");
    for format in ["openai", "openai-responses", "anthropic", "gemini", "mcp"] {
        for (suffix, strict) in [("", false), ("-strict", true)] {
            let mut command = Command::new(env!("CARGO_BIN_EXE_toolwire"));
            command.args(["tools", "--format", format]);
            if strict {
                command.arg("--strict");
            }
            let output = command.output().expect("run toolwire tools");
            assert!(
                output.status.success(),
                "toolwire tools --format {format}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let printed: serde_json::Value =
                serde_json::from_slice(&output.stdout).expect("stdout is only JSON");
            assert!(printed.is_array(), "{format}: a JSON array");
            std::fs::write(
                dir.path().join(format!("{format}{suffix}.json")),
                &output.stdout,
            )
            .expect("write");
        }
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto-examples/providers");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/provider_sdks.py");
    let checked = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .arg(examples)
        .output()
        .expect("run the SDK check");
    assert!(
        checked.status.success(),
        "an SDK refused a shape:\n{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(String::from_utf8_lossy(&checked.stdout).contains("all shapes accepted"));
}
