//! The human-readable table of a bench report.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn print_table(report: &Value) {
    let f = |key: &str| match report[key].as_f64() {
        Some(v) => format!("{v:.1}"),
        None => "n/a".to_owned(),
    };
    println!(
        "{:<34} {:>12} {:>12} {:>10}  target",
        "measure", "floor", "toolwire", "ratio"
    );
    let rows = [
        (
            "echo p50 (us)",
            "floor_echo_p50_us",
            "echo_p50_us",
            "echo_p50_ratio",
            "ratio <= 1.3",
        ),
        (
            "echo p99 (us)",
            "floor_echo_p99_us",
            "echo_p99_us",
            "echo_p99_ratio",
            "",
        ),
        (
            "echo rate, 64 in flight (calls/s)",
            "floor_echo_rps",
            "echo_rps",
            "echo_rps_ratio",
            "ratio >= 0.75",
        ),
        (
            "echo rate, journaled (vs echo rate)",
            "echo_rps",
            "echo_rps_journal",
            "echo_rps_journal_ratio",
            "ratio >= 0.95",
        ),
    ];
    for (name, floor, ours, ratio, target) in rows {
        println!(
            "{name:<34} {:>12} {:>12} {:>10}  {target}",
            f(floor),
            f(ours),
            format!("{:.2}", report[ratio].as_f64().unwrap_or(0.0))
        );
    }
    println!(
        "{:<34} {:>12} {:>12}",
        "journal records committed/dropped",
        f("journal_committed"),
        f("journal_dropped"),
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  overhead <= 300 us",
        "bash true p50 (us)",
        f("spawn_p50_us"),
        f("bash_true_p50_us"),
        f("bash_overhead_us")
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  <= 50 us",
        "bash permission check p50 (us)",
        "",
        f("bash_permission_check_us"),
        ""
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  <= 300 ms",
        "64 x 200 ms calls, wall (ms)",
        "200.0",
        f("concurrent_64x200ms_wall_ms"),
        ""
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  overhead <= 150 ms",
        "container start (ms)",
        f("container_floor_ms"),
        f("cold_start_ms"),
        f("cold_start_overhead_ms")
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  <= 5 ms",
        "pool acquire + first call (ms)",
        "",
        f("pool_acquire_ms"),
        ""
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}  idle <= 10240",
        "server RSS idle / loaded (KiB)",
        f("server_rss_idle_kib"),
        f("server_rss_loaded_kib"),
        ""
    );
}
