//! The library's modules form layers: every `crate::` import points to a
//! lower floor, so there is no import cycle. The floors are those of
//! docs/ARCHITECTURE.md; a new module must be given one here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Floor of each top-level module of `src/` (lower floors are imported by higher ones).
const FLOORS: &[(&str, u8)] = &[
    ("protocol", 1),
    ("metrics", 1),
    ("shell", 1),
    ("bus", 2),
    ("error", 2),
    ("context", 3),
    ("tool", 4),
    ("executor", 5),
    ("transport", 6),
    ("tools", 6),
    ("providers", 6),
    ("wire", 7),
    ("declarative", 7),
    ("mcp", 7),
    ("server", 8),
    ("peer", 8),
    ("remote", 9),
    ("journal", 9),
    ("launcher", 10),
    ("docker", 11),
    ("kubernetes", 11),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `module -> modules it names as crate::<module>`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let top = relative
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "bin" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for (at, _) in text.match_indices("crate::") {
            let name: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                edges.entry(top.clone()).or_default().insert(name);
            }
        }
    }
    edges
}

#[test]
fn every_import_points_down_the_layers() {
    let floors: BTreeMap<&str, u8> = FLOORS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, targets) in imports() {
        let from = *floors
            .get(module.as_str())
            .unwrap_or_else(|| panic!("module `{module}` has no floor in tests/layers.rs"));
        for target in targets {
            let Some(&to) = floors.get(target.as_str()) else {
                continue; // a re-exported item named at the crate root
            };
            if to >= from {
                wrong.push(format!(
                    "{module} (floor {from}) imports {target} (floor {to})"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down:\n{}",
        wrong.join("\n")
    );
}
