//! `turnscope stats FILE [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `turnscope stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// A transcript (`.tsjsonl`) recorded by turnscope.
    pub file: PathBuf,
    /// Print the stable JSON report (schema in the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `stats`.
pub fn run(args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    Ok(ExitCode::SUCCESS)
}
