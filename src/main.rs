//! The `turnscope` binary: parse flags, run, print one-line errors.

use std::process::ExitCode;

use clap::Parser;
use turnscope::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("turnscope: {err:#}");
            ExitCode::FAILURE
        }
    }
}
