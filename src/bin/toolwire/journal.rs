//! The CLI's journal: where its own sandboxes record their calls
//! (`--journal PATH`, default in the user's state directory), and
//! `toolwire calls`, which reads it.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use toolwire::journal::{Journal, JournalConfig, JournalReader, Recorder, StoredCall};

/// Where the CLI journals its sandboxes' calls.
#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// The call journal (SQLite). Default $XDG_STATE_HOME/toolwire/journal.sqlite.
    #[arg(long, value_name = "PATH", global = true)]
    journal: Option<PathBuf>,
    /// Record nothing.
    #[arg(long, global = true, conflicts_with = "journal")]
    no_journal: bool,
}

impl JournalArgs {
    fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.journal {
            Some(path) => Ok(path.clone()),
            None => toolwire::journal::default_path().context(
                "no journal path: set XDG_STATE_HOME or HOME, or pass --journal PATH or --no-journal",
            ),
        }
    }

    /// A recorder for a new sandbox, unless `--no-journal`.
    pub fn recorder(&self) -> anyhow::Result<Option<Recorder>> {
        if self.no_journal {
            return Ok(None);
        }
        let journal = Journal::open(self.path()?, JournalConfig::default())?;
        Ok(Some(Recorder::new(journal)))
    }
}

/// A fresh session id for the CLI's own sandboxes: `<what>-<8 hex>`.
pub fn session_id(what: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{what}-{}", &id[..8])
}

/// `toolwire calls`: what the journal holds.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CallsArgs {
    #[command(subcommand)]
    command: Option<CallsCommand>,
    /// Only the calls of this session.
    #[arg(long)]
    session: Option<String>,
    /// The most recent N calls.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Debug, Subcommand)]
enum CallsCommand {
    /// One call with its transitions, decisions, input and answer.
    Show {
        /// The call's id (or a unique prefix of it).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn calls(args: &CallsArgs) -> anyhow::Result<()> {
    let path = args.journal.path()?;
    let reading = || format!("cannot read the call journal {}", path.display());
    let reader = JournalReader::open(&path)?;
    match &args.command {
        Some(CallsCommand::Show { id, json }) => {
            let call = reader.show(id).with_context(reading)?.with_context(|| {
                format!(
                    "no call (or more than one) with id {id:?} in {}",
                    path.display()
                )
            })?;
            if *json || args.json {
                println!("{}", serde_json::to_string_pretty(&call)?);
            } else {
                print_call(&call);
            }
        }
        None => {
            let calls = reader
                .list(args.session.as_deref(), args.limit)
                .with_context(reading)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&calls)?);
            } else {
                print_table(&calls);
            }
        }
    }
    Ok(())
}

fn print_table(calls: &[StoredCall]) {
    println!(
        "{:<36}  {:<23}  {:<14}  {:<8}  {:<10}  {:<17}  {:>8}",
        "ID", "RECEIVED (UTC)", "SESSION", "TOOL", "STATE", "DECISION", "MS"
    );
    for call in calls {
        println!(
            "{:<36}  {:<23}  {:<14}  {:<8}  {:<10}  {:<17}  {:>8}",
            call.id,
            utc(call.received_at),
            call.session,
            call.tool,
            call.state,
            call.decision.as_deref().unwrap_or("-"),
            call.duration_ms
                .map_or_else(|| "-".to_owned(), |ms| ms.to_string()),
        );
    }
}

fn print_call(call: &StoredCall) {
    println!("call      {}", call.id);
    println!("session   {}", call.session);
    println!("tool      {} (model's id {})", call.tool, call.tool_call_id);
    println!("state     {}", call.state);
    if let Some(ms) = call.duration_ms {
        println!("duration  {ms} ms");
    }
    println!("input     {}", call.input);
    println!("transitions:");
    for step in &call.transitions {
        println!(
            "  {}  +{:>6} ms  {}{}",
            utc(step.at_ms),
            step.at_ms - call.received_at,
            step.state,
            if step.inferred { "  (inferred)" } else { "" }
        );
    }
    if !call.decisions.is_empty() {
        println!("decisions:");
        for decision in &call.decisions {
            println!(
                "  {}  {} {}: {}",
                utc(decision.at_ms),
                decision.permission,
                decision.patterns.join(", "),
                decision.summary()
            );
        }
    }
    if let Some(error) = &call.error {
        println!("error     {error}");
    }
    if let Some(response) = &call.response {
        let cut = if call.response_truncated {
            " (cut at the cap)"
        } else {
            ""
        };
        println!("response{cut}:");
        match serde_json::from_str::<serde_json::Value>(response) {
            Ok(value) => println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_else(|_| response.clone())
            ),
            Err(_) => println!("{response}"),
        }
    }
}

/// `2026-11-22 04:05:06.789` from milliseconds since the Unix epoch (UTC).
fn utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00.000");
        // 2026-11-22 04:05:06.789 UTC
        assert_eq!(super::utc(1_795_320_306_789), "2026-11-22 04:05:06.789");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00.000");
    }
}
