//! `toolwire bench --scale`: how costs grow with the work, each figure with
//! its floor from the same run.

#[allow(clippy::wildcard_imports)]
use super::*;

use std::path::Path;

/// Runs the scale measurements and prints them (JSON, or a table).
pub(super) async fn run(args: &BenchArgs, exe: &Path, server_binary: &Path) -> anyhow::Result<()> {
    let mut report = json!({});
    let transfer = transfer::transfer_figures(exe, server_binary, args.transfer_mib).await?;
    merge(&mut report, transfer);
    let growth = growth::growth_figures(exe, server_binary).await?;
    merge(&mut report, growth);
    if !args.no_docker {
        let fleet = fleet::fleet_figures(
            args.parallel,
            args.many,
            args.network.into(),
            args.pool_size,
        )
        .await?;
        merge(&mut report, fleet);
    }
    if args.json {
        println!("{report}");
    } else {
        for (key, value) in report.as_object().into_iter().flatten() {
            match value.as_f64() {
                Some(v) => println!("{key:<36} {v:>14.1}"),
                None => println!("{key:<36} {value:>14}"),
            }
        }
    }
    Ok(())
}

fn merge(report: &mut Value, part: Value) {
    if let (Some(into), Value::Object(from)) = (report.as_object_mut(), part) {
        into.extend(from);
    }
}
