//! `turnscope stats FILE [--json]`: per-turn metrics of a recorded transcript.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ledger::Ledger;
use crate::{report, transcript};

/// Arguments of `turnscope stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// A transcript (`.tsjsonl`) recorded by turnscope.
    pub file: PathBuf,
    /// Print the stable JSON report (schema in the README) instead of a table.
    #[arg(long)]
    pub json: bool,
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
    Ok(ExitCode::SUCCESS)
}
