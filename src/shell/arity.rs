//! What an `always` reply allows from now on: the command's own words up to
//! its arity, then `*`. A program with subcommands keeps its subcommand
//! (`git status -s` → `git status *`, `npm run build` → `npm run *`), so
//! "always" never widens to a whole program family by accident; a plain
//! program keeps its name (`ls -la` → `ls *`).

/// How many leading words name "the command" of a program; the longest
/// matching prefix wins, and a program not listed has arity 1.
const ARITY: &[(&str, usize)] = &[
    ("apt", 2),
    ("apt-get", 2),
    ("aws", 3),
    ("az", 3),
    ("brew", 2),
    ("bun", 2),
    ("bundle", 2),
    ("cargo", 2),
    ("composer", 2),
    ("conda", 2),
    ("deno", 2),
    ("docker", 2),
    ("dotnet", 2),
    ("gcloud", 3),
    ("gh", 3),
    ("git", 2),
    ("go", 2),
    ("gradle", 2),
    ("helm", 2),
    ("kubectl", 2),
    ("make", 2),
    ("mvn", 2),
    ("node", 2),
    ("npm", 2),
    ("npx", 2),
    ("perl", 2),
    ("php", 2),
    ("pip", 2),
    ("pip3", 2),
    ("pipx", 2),
    ("pnpm", 2),
    ("podman", 2),
    ("poetry", 2),
    ("python", 2),
    ("python -m", 3),
    ("python3", 2),
    ("python3 -m", 3),
    ("ruby", 2),
    ("rustup", 2),
    ("sudo", 2),
    ("systemctl", 2),
    ("terraform", 2),
    ("uv", 2),
    ("uv run", 3),
    ("yarn", 2),
];

/// The pattern an `always` reply to `words` (as written) adds.
pub fn always_pattern(words: &[&str]) -> String {
    if words.is_empty() {
        return "*".to_owned();
    }
    let arity = ARITY
        .iter()
        .filter(|(prefix, _)| {
            prefix
                .split(' ')
                .enumerate()
                .all(|(i, p)| words.get(i) == Some(&p))
        })
        .max_by_key(|(prefix, _)| prefix.split(' ').count())
        .map_or(1, |(_, arity)| *arity);
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
        ];
        for (command, want) in cases {
            let words: Vec<&str> = command.split(' ').collect();
            assert_eq!(always_pattern(&words), want, "{command}");
        }
        assert_eq!(always_pattern(&[]), "*");
    }
}
