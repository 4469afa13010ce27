//! `bash_permission_check_us`: what the bash tool spends before a command
//! runs — reading a 200-character compound command with the shell parser and
//! deciding every request it makes under a realistic rule set.

use std::path::Path;
use std::time::{Duration, Instant};

use toolwire::bus::PermissionManager;
use toolwire::tools::bash::permission_requests;
use toolwire::{Action, PermissionRule};

/// A compound command of 200 characters: a list, a pipeline, a substitution,
/// a wrapper, a redirection and a loop.
pub(super) const COMPOUND_COMMAND: &str = "cd src && git status -s | grep -v '^??' | wc -l; \
     for f in $(ls *.rs); do timeout 5 grep -n \"TODO\" \"$f\" >> todo.txt 2>/dev/null; done \
     && cat todo.txt | sort -u | head -n 200 && echo \"done: $(date +%s)\"";

/// The p50 in microseconds of `iterations` checks.
pub(super) fn bash_permission_check_us(iterations: usize) -> f64 {
    let manager = PermissionManager::new();
    let mut rules: Vec<PermissionRule> = [
        "git status *",
        "git log *",
        "git diff *",
        "ls *",
        "cat *",
        "grep *",
        "wc *",
        "sort *",
        "head *",
        "tail *",
        "echo *",
        "cd *",
        "timeout *",
        "date *",
        "find *",
        "cargo build *",
        "cargo test *",
        "npm run *",
        "make *",
        "python3 -m pytest *",
    ]
    .iter()
    .map(|pattern| PermissionRule::new("bash", *pattern, Action::Allow))
    .collect();
    rules.push(PermissionRule::new("bash", "rm -rf *", Action::Deny));
    rules.push(PermissionRule::new(
        "external_directory",
        "/etc/*",
        Action::Deny,
    ));
    manager.set_rules(rules);
    let workdir = Path::new("/nonexistent-toolwire-bench-workdir");
    let mut samples: Vec<Duration> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        for request in permission_requests(workdir, COMPOUND_COMMAND) {
            std::hint::black_box(manager.decide(&request));
        }
        samples.push(started.elapsed());
    }
    super::measure::percentile(&mut samples, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmarked_command_is_200_characters_and_fully_allowed() {
        assert_eq!(COMPOUND_COMMAND.len(), 200, "{}", COMPOUND_COMMAND.len());
        let script = toolwire::shell::analyze(COMPOUND_COMMAND);
        assert!(script.commands.len() >= 10, "{:?}", script.commands);
        assert!(script.commands.iter().all(|c| c.opaque.is_none()));
    }
}
