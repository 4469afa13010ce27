//! What an `always` reply allows from now on: the command's own words up to
//! its arity, then `*`. A program with subcommands keeps its subcommand
//! (`git status -s` → `git status *`, `npm run build` → `npm run *`), so
//! "always" never widens to a whole program family by accident; a plain
//! program keeps its name (`ls -la` → `ls *`).

/// How many leading words of `words` name "the command": the program and
/// its subcommand (and sub-subcommand) for programs that have them, the
/// longest matching prefix winning (`python3 -m pytest` has three); a
/// program not listed has arity 1. A `match` on the program name, not a
/// table scan: it runs for every simple command of every checked script.
fn arity(words: &[&str]) -> usize {
    let second = words.get(1).copied();
    match words.first().copied() {
        Some("python" | "python3") if second == Some("-m") => 3,
        Some("uv") if second == Some("run") => 3,
        Some("aws" | "az" | "gcloud" | "gh") => 3,
        Some(
            "apt" | "apt-get" | "brew" | "bun" | "bundle" | "cargo" | "composer" | "conda" | "deno"
            | "docker" | "dotnet" | "git" | "go" | "gradle" | "helm" | "kubectl" | "make" | "mvn"
            | "node" | "npm" | "npx" | "perl" | "php" | "pip" | "pip3" | "pipx" | "pnpm" | "podman"
            | "poetry" | "python" | "python3" | "ruby" | "rustup" | "sudo" | "systemctl"
            | "terraform" | "uv" | "yarn",
        ) => 2,
        _ => 1,
    }
}

/// The pattern an `always` reply to `words` (as written) adds.
pub fn always_pattern(words: &[&str]) -> String {
    if words.is_empty() {
        return "*".to_owned();
    }
    let arity = arity(words);
    if words.len() < arity {
        // Fewer words than the command has: only this exact command.
        return words.join(" ");
    }
    let mut pattern = words[..arity].join(" ");
    pattern.push_str(" *");
    pattern
}

#[cfg(test)]
mod tests {
    use super::always_pattern;

    #[test]
    fn always_keeps_the_subcommand() {
        let cases = [
            ("git status -s", "git status *"),
            ("npm run build", "npm run *"),
            ("docker compose up", "docker compose *"),
            ("ls -la", "ls *"),
            ("ls", "ls *"),
            ("git", "git"),
            ("python -m pytest -x", "python -m pytest *"),
            ("python3 script.py", "python3 script.py *"),
            ("gh pr list", "gh pr list *"),
            ("uv run pytest -q", "uv run pytest *"),
            ("uv sync --frozen", "uv sync *"),
            ("aws s3 ls s3://b", "aws s3 ls *"),
            ("python3 -m", "python3 -m"),
            ("sudo apt-get install x", "sudo apt-get *"),
            ("kubectl get pods -A", "kubectl get *"),
        ];
        for (command, want) in cases {
            let words: Vec<&str> = command.split(' ').collect();
            assert_eq!(always_pattern(&words), want, "{command}");
        }
        assert_eq!(always_pattern(&[]), "*");
    }
}
