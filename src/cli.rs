//! Command-line interface: one clap subcommand per job; each lives in `cli/<name>.rs`.

mod bench;
mod calibrate;
pub mod completions;
pub mod config;
mod emulate;
pub mod export;
pub mod live;
mod log;
pub mod man;
pub mod panic;
mod proxy;
mod recording;
pub mod replay;
pub mod rerun;
mod shutdown;
mod stats;
pub mod themes;
mod whatif;

use clap::{Parser, Subcommand};

/// Inspect and debug OpenAI Responses API WebSocket sessions.
///
/// With no subcommand, opens the live session TUI: against the real API when
/// OPENAI_API_KEY is set, otherwise against the built-in emulator.
#[derive(Debug, Parser)]
#[command(name = "turnscope", version, about, long_about)]
pub struct Cli {
    /// What to do; none opens the live TUI.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the live TUI.
    #[command(flatten)]
    pub live: live::LiveArgs,
    /// Config file, theme and log flags (every subcommand takes them).
    #[command(flatten)]
    pub global: config::GlobalArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-turn metrics and totals of a recorded transcript.
    Stats(stats::StatsArgs),
    /// Run the local Responses API emulator (WebSocket + HTTP on /v1/responses).
    Emulate(emulate::EmulateArgs),
    /// Send a recording's client events again (emulator by default) and compare old and new turns.
    Rerun(rerun::RerunArgs),
    /// Relay an agent to the API (or the emulator), recording and showing its turns.
    Proxy(proxy::ProxyArgs),
    /// Measure WebSocket mode against HTTP mode on the same scripted agent workload.
    Bench(bench::BenchArgs),
    /// Fit a latency profile to recorded sessions (both modes), with 95% intervals; writes a
    /// profile file for `bench --latency` and `emulate --latency`.
    Calibrate(calibrate::CalibrateArgs),
    /// Print the config file's path and the effective settings with their sources.
    Config(config::ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), or write all pages with --out DIR.
    Man(man::ManArgs),
    /// Browse a recorded transcript: timeline, play, search, filter, diff, export.
    Replay(replay::ReplayArgs),
    /// Write a recording in another tool's format: `--har OUT`, or OpenTelemetry spans to a
    /// collector (`--otlp URL`, OTLP/HTTP) or a file (`--otlp-file F`, OTLP/JSON).
    Export(export::ExportArgs),
    /// List the colour themes (built-in and user) with a sample of each.
    Themes(themes::ThemesArgs),
    /// A recorded session's turns in the other mode (WebSocket ↔ HTTP) under a latency
    /// profile: predicted time, bytes, tokens and cost beside what was measured.
    Whatif(whatif::WhatIfArgs),
}

/// The keys this run was given (environment, flags): masked in logs and panic messages too.
pub fn known_secrets(cli: &Cli) -> crate::secrets::Secrets {
    let mut secrets = crate::secrets::Secrets::new(std::env::var("OPENAI_API_KEY").ok());
    if let Some(Command::Emulate(args)) = &cli.command
        && let Some(key) = &args.api_key
    {
        secrets.add(key);
    }
    secrets
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    log::init(cli.global.log.as_deref(), known_secrets(&cli))?;
    tracing::debug!(command = ?cli.command, "run");
    match cli.command {
        Some(Command::Stats(args)) => stats::run(&args, &cli.global),
        Some(Command::Emulate(args)) => emulate::run(&args),
        Some(Command::Rerun(args)) => rerun::run(&args),
        Some(Command::Proxy(args)) => proxy::run(&args, &cli.global),
        Some(Command::Bench(args)) => bench::run(&args, &cli.global),
        Some(Command::Calibrate(args)) => calibrate::run(&args),
        Some(Command::Config(args)) => config::run(&args, &cli.global, cli.live.overrides()),
        Some(Command::Completions(args)) => completions::run(&args),
        Some(Command::Man(args)) => man::run(&args),
        Some(Command::Replay(args)) => replay::run(&args, &cli.global),
        Some(Command::Themes(args)) => themes::run(&args),
        Some(Command::Whatif(args)) => whatif::run(&args, &cli.global),
        Some(Command::Export(args)) => export::run(&args),
        None => live::run(&cli.live, &cli.global),
    }
}

/// An error and its causes on one line, each cause once: our messages already quote the OS
/// error they wrap, and printing the chain again read "Is a directory (os error 21): Is a
/// directory (os error 21)".
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
