//! The `turnscope` binary: parse flags, run, print one-line errors.

use std::process::ExitCode;

use clap::Parser;
use turnscope::cli::{Cli, error_line, known_secrets, panic, run};

fn main() -> ExitCode {
    // Before parsing: even `--help | head` must end quietly.
    panic::install(turnscope::secrets::Secrets::default());
    let cli = Cli::parse();
    panic::install(known_secrets(&cli));
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`| head`): what it wanted was written.
        Err(err) if panic::is_closed_pipe_error(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("turnscope: {}", error_line(&err));
            ExitCode::FAILURE
        }
    }
}
