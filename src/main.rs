//! The `turnscope` binary: parse flags, run, print one-line errors.

use std::process::ExitCode;

use clap::Parser;
use turnscope::cli::{Cli, error_line, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("turnscope: {}", error_line(&err));
            ExitCode::FAILURE
        }
    }
}
