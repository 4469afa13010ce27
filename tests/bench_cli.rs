//! `toolwire bench --json` reports every figure the performance issue asks
//! for (a smoke run with small counts; the speed itself is the benchmark's
//! business, not a test's).

use std::process::Command;

#[test]
fn bench_json_has_every_key_with_sane_values() {
    let output = Command::new(env!("CARGO_BIN_EXE_toolwire"))
        .args([
            "bench",
            "--json",
            "--no-docker",
            "--echo-iterations",
            "90",
            "--rps-calls",
            "640",
            "--spawn-iterations",
            "12",
        ])
        .output()
        .expect("run toolwire bench");
    assert!(
        output.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    for key in [
        "floor_echo_p50_us",
        "floor_echo_p99_us",
        "echo_p50_us",
        "echo_p99_us",
        "echo_p50_ratio",
        "floor_echo_rps",
        "echo_rps",
        "echo_rps_ratio",
        "spawn_p50_us",
        "bash_true_p50_us",
        "concurrent_64x200ms_wall_ms",
        "server_rss_idle_kib",
        "server_rss_loaded_kib",
        "mcp_echo_p50_us",
        "mcp_echo_p50_ratio",
        "mcp_stateless_echo_p50_us",
        "mcp_stateless_echo_p50_ratio",
    ] {
        let value = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {report}"));
        assert!(value > 0.0, "{key} = {value}");
    }
    assert!(report["bash_overhead_us"].is_number());
    // 64 concurrent 200 ms calls can never take less than 200 ms.
    assert!(
        report["concurrent_64x200ms_wall_ms"]
            .as_f64()
            .unwrap_or(0.0)
            >= 200.0
    );
    for key in [
        "container_floor_ms",
        "cold_start_ms",
        "cold_start_overhead_ms",
        "pool_acquire_ms",
    ] {
        assert!(
            report.get(key).is_some(),
            "{key} present (null without Docker)"
        );
    }
}
