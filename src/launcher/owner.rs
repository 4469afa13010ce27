//! Owner identities, for every backend: which process launched a sandbox,
//! and whether it still runs (a pid with its start time, so a reused pid is not mistaken for it).

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// Start time of a process in clock ticks since boot (field 22 of
/// /proc/<pid>/stat): with the pid it names a process uniquely, so a reused
/// pid is not mistaken for the owner.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after its ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The owner label value of process `pid`.
pub fn owner_id(pid: u32) -> String {
    format!(
        "{}/{pid}/{}",
        hostname(),
        process_start_time(pid).unwrap_or(0)
    )
}

/// Whether the process an owner label names is still running. Labels of other
/// hosts, or that cannot be read, count as alive (never remove what we cannot judge).
pub fn owner_alive(owner: &str) -> bool {
    let mut parts = owner.split('/');
    let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
        return true;
    };
    if host != hostname() {
        return true;
    }
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return true;
    };
    process_start_time(pid) == Some(start)
}
