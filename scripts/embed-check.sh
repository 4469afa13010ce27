#!/usr/bin/env bash
# An orchestrator that embeds toolwire with `default-features = false,
# features = ["docker"]` must build without the CLI's dependencies in its
# tree (clap, indicatif, tracing-subscriber). Makes such a crate in a
# temporary directory, checks its dependency tree, and builds it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "toolwire-embed-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
toolwire = { path = "$repo", default-features = false, features = ["docker"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }

[workspace]

# Only whether it builds is checked: no debug info to write to disk.
[profile.dev]
debug = false
TOML
cat > "$dir/src/main.rs" <<'RS'
use toolwire::docker::{DockerLauncher, ImageConfig};

#[tokio::main]
async fn main() {
    let _ = toolwire::LocalExecutor::new(".");
    let _ = DockerLauncher::connect(ImageConfig::default());
}
RS
cp "$repo/Cargo.lock" "$dir/Cargo.lock"
tree="$(cargo tree --manifest-path "$dir/Cargo.toml" -e normal --prefix none)"
if grep -E '^(clap|indicatif|tracing-subscriber) ' <<<"$tree"; then
  echo "embed check: the CLI's dependencies are in an embedding crate's tree" >&2
  exit 1
fi
# Built in the temporary directory, so the trap removes the build with it.
CARGO_TARGET_DIR="$dir/target" cargo build --quiet --manifest-path "$dir/Cargo.toml"
echo "embed check: builds without clap, indicatif or tracing-subscriber"
