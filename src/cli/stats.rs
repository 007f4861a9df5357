//! `turnscope stats FILE [--json] [--fail-on …]`: per-turn metrics of a recorded transcript.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ledger::{CacheOutcome, Ledger, SendMode, Turn, TurnStatus};
use crate::{report, transcript};

/// A condition `--fail-on` can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A turn resent items the server already had.
    FullResend,
    /// A turn's cached tokens fell short of the context the ledger expected cached.
    CacheMiss,
    /// A turn ended with an error event or failed.
    Error,
    /// A turn was lost when its connection closed.
    Dropped,
}

/// Arguments of `turnscope stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// A transcript (`.tsjsonl`) recorded by turnscope.
    pub file: PathBuf,
    /// Print the stable JSON report (schema in the README) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 (and a summary on stderr) if any turn shows one of these.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT,…")]
    pub fail_on: Vec<FailOn>,
}

/// Runs `stats`: skipped lines are reported on stderr, one line each.
pub fn run(args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let reader = transcript::Reader::open(&args.file)?;
    let header = reader.header().clone();
    let mut ledger = Ledger::new();
    let mut skipped = Vec::new();
    for entry in reader {
        match entry {
            Ok(e) => {
                ledger.push(&e.frame);
            }
            Err(e) => {
                eprintln!("turnscope: {name}: {e} (skipped)");
                skipped.push(e);
            }
        }
    }
    if args.json {
        let doc = report::stats_json(&name, &header, &ledger, &skipped);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", report::stats_table(&ledger));
    }
    let failures: Vec<String> = ledger
        .turns()
        .iter()
        .flat_map(|t| args.fail_on.iter().filter_map(move |c| violation(t, *c)))
        .collect();
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "turnscope: {name}: {} --fail-on violation(s): {}",
        failures.len(),
        failures.join("; ")
    );
    Ok(ExitCode::FAILURE)
}

/// Describes how `turn` violates `check`, if it does.
fn violation(turn: &Turn, check: FailOn) -> Option<String> {
    let n = turn.index;
    let insight = &turn.insight;
    match check {
        FailOn::FullResend => match &insight.mode {
            SendMode::FullResend {
                reason,
                known_bytes,
                ..
            } => Some(format!(
                "turn {n} full-resend ({reason}; {known_bytes} bytes already known)"
            )),
            _ => None,
        },
        FailOn::CacheMiss => (insight.cache == CacheOutcome::Miss).then(|| {
            let causes: Vec<String> = insight.causes.iter().map(report::cause_text).collect();
            format!("turn {n} cache-miss ({})", causes.join(", "))
        }),
        FailOn::Error => match &turn.status {
            TurnStatus::Error { code, message } => Some(format!(
                "turn {n} error ({}: {message})",
                code.as_deref().unwrap_or("error")
            )),
            TurnStatus::Failed => Some(format!("turn {n} failed")),
            _ => None,
        },
        FailOn::Dropped => {
            (turn.status == TurnStatus::Dropped).then(|| format!("turn {n} dropped"))
        }
    }
}
