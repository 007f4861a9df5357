//! `turnscope bench`: WebSocket mode against HTTP mode on the same scripted agent workload.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::bench::{self, BenchConfig, Server};
use crate::emulator::{LatencyProfile, Scenario};
use crate::ledger::cost::Prices;

/// Arguments of `turnscope bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The scripted workload: `coding-agent` or a scenario file (TOML/JSON).
    #[arg(long, default_value = "coding-agent", value_name = "NAME|FILE")]
    pub scenario: String,
    /// Tool-call counts to sweep, e.g. `5,10,20,50` (the scenario is cut or repeated);
    /// default: the scenario's own count.
    #[arg(long, value_delimiter = ',', value_name = "N,…")]
    pub tool_calls: Vec<usize>,
    /// Paired runs (one per mode) per tool-call count.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub runs: usize,
    /// Runs in flight at once; 1 runs everything one after another. Default: every run of a
    /// count at once against the emulator, 2 (one pair) against --url.
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Emulator latency profile: `realistic`, `lan`, `zero`, or FILE.toml[:NAME].
    #[arg(long, default_value = "realistic", value_name = "PROFILE")]
    pub latency: String,
    /// Bench a real endpoint instead of the emulator: its HTTP base URL, e.g.
    /// `https://api.openai.com/v1` (the key comes from OPENAI_API_KEY).
    #[arg(long, value_name = "BASE_URL")]
    pub url: Option<String>,
    /// Model to request from --url (default: the scenario's model).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Do not ask before spending tokens on a keyed endpoint.
    #[arg(long)]
    pub yes: bool,
    /// Print the JSON report (schema in the README) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write an SVG bar chart to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Show the result as a chart in the terminal (q to quit).
    #[arg(long)]
    pub tui: bool,
    /// Price the tokens at this model's list price (the price table, overridable in
    /// config.toml). Default: the requested model; against the emulator, whose scenario
    /// models have no price, gpt-5.1.
    #[arg(long, value_name = "MODEL")]
    pub price_as: Option<String>,
}

/// The model the emulator's bench is priced as when `--price-as` is not given and the
/// scenario's model has no price (the emulator's scenarios name made-up models).
const EMULATOR_PRICE_MODEL: &str = "gpt-5.1";

impl BenchArgs {
    /// The bench these flags describe (the API key is read from the environment).
    pub fn config(&self) -> anyhow::Result<BenchConfig> {
        anyhow::ensure!(self.runs > 0, "--runs must be at least 1");
        // Zero calls is one plain turn each way: nothing for WebSocket mode to save.
        anyhow::ensure!(
            !self.tool_calls.contains(&0),
            "--tool-calls 0: each count must be at least 1 (a run with no tool calls has nothing to compare); e.g. --tool-calls 5,10,20"
        );
        anyhow::ensure!(
            self.parallel != Some(0),
            "--parallel must be at least 1 (1 = one run at a time)"
        );
        let scenario = Scenario::resolve(&self.scenario)?;
        let server = match &self.url {
            None => Server::Emulator {
                latency: LatencyProfile::resolve(&self.latency)?,
            },
            Some(base) => Server::Url {
                base: base.clone(),
                api_key: std::env::var("OPENAI_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty()),
                model: self
                    .model
                    .clone()
                    .unwrap_or_else(|| scenario.model().to_owned()),
            },
        };
        let parallel = self.parallel.unwrap_or(match server {
            Server::Emulator { .. } => self.runs * 2,
            Server::Url { .. } => 2,
        });
        Ok(BenchConfig {
            scenario,
            tool_calls: self.tool_calls.clone(),
            runs: self.runs,
            parallel,
            server,
        })
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn stdout(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

/// `text` without the run's key or anything key-shaped (an upstream error may quote one).
fn clean(text: &str) -> String {
    let key = std::env::var("OPENAI_API_KEY").ok();
    crate::secrets::redact_json(text, key.as_slice()).into_owned()
}

/// Asks on stdin; true on `y`/`yes`.
fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer from stdin")?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// Draws `[####....] done/total turns  elapsed` on stderr, in place.
async fn progress_bar(mut rx: mpsc::UnboundedReceiver<()>, total: usize) {
    let started = Instant::now();
    let mut done = 0usize;
    let width = 30usize;
    while rx.recv().await.is_some() {
        done += 1;
        let filled = (done * width / total.max(1)).min(width);
        eprint!(
            "\r[{}{}] {done}/{total} turns  {:.0}s ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            started.elapsed().as_secs_f64()
        );
    }
    eprint!("\r{}\r", " ".repeat(width + 40));
}

/// Checks before the run that `--svg FILE` can be written, without touching an existing file:
/// a bad path must fail at once, not after minutes of benching. Returns whether it existed.
fn check_svg_path(path: &std::path::Path) -> anyhow::Result<bool> {
    let existed = path.exists();
    crate::secrets::append_private(path).with_context(|| {
        format!(
            "--svg {}: cannot write the chart there; pick a path in an existing, writable directory",
            path.display()
        )
    })?;
    Ok(existed)
}

/// The model whose price the bench's tokens are billed at (see `--price-as`).
fn price_model(args: &BenchArgs, config: &BenchConfig, prices: &Prices) -> String {
    if let Some(m) = &args.price_as {
        return m.clone();
    }
    match &config.server {
        Server::Url { model, .. } => model.clone(),
        Server::Emulator { .. } => {
            let own = config.scenario.model();
            if prices.get(own).is_some() {
                own.to_owned()
            } else {
                EMULATOR_PRICE_MODEL.to_owned()
            }
        }
    }
}

/// Runs `bench`.
pub fn run(args: &BenchArgs, global: &super::config::GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let prices = super::config::price_table(global)?;
    if let Some(m) = &args.price_as {
        anyhow::ensure!(
            prices.get(m).is_some(),
            "--price-as {m}: no price for that model; use one of {} or add it under [prices] in config.toml",
            prices
                .models()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let model = price_model(args, &config, &prices);
    let svg_existed = args.svg.as_deref().map(check_svg_path).transpose()?;
    let result = run_checked(args, config, &prices, &model);
    // The path check created an empty file; a run that failed or was cancelled leaves no empty
    // chart behind.
    if let (Some(path), Some(false)) = (&args.svg, svg_existed)
        && std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
    {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn run_checked(
    args: &BenchArgs,
    config: BenchConfig,
    prices: &Prices,
    price_model: &str,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        if let Server::Url {
            base,
            api_key: Some(_),
            model,
        } = &config.server
        {
            let e = bench::estimate(&config).await?;
            eprintln!(
                "This bench sends {} requests to {} (model {model}): about {} input tokens (billed, much of it at the cached rate) and {} output tokens, on your OPENAI_API_KEY. Multiply by your model's prices for the cost.",
                e.requests,
                crate::endpoint::display_url(base),
                bench::report::fmt_count(e.input_tokens as f64),
                bench::report::fmt_count(e.output_tokens as f64),
            );
            if !args.yes && !confirm("Run it?")? {
                eprintln!("turnscope: bench cancelled; nothing was sent");
                return Ok(ExitCode::FAILURE);
            }
        }
        if cfg!(debug_assertions) {
            eprintln!(
                "turnscope: note: this is a debug build; its slower JSON handling inflates the `other` time, most in HTTP mode; quote figures from a release build (cargo run --release -- bench)"
            );
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| tokio::spawn(progress_bar(rx, config.expected_turns())));
        let report = bench::run(&config, tx).await;
        if let Some(bar) = bar {
            let _ = bar.await;
        }
        let mut report = report?;
        bench::cost::price(&mut report, prices, price_model);
        if args.json {
            stdout(&clean(&format!(
                "{}\n",
                serde_json::to_string_pretty(&report)?
            )))?;
        } else if !args.tui {
            stdout(&clean(&bench::report::table(&report)))?;
        }
        if let Some(path) = &args.svg {
            crate::secrets::create_private(path)
                .and_then(|mut f| f.write_all(clean(&bench::svg::svg(&report)).as_bytes()))
                .with_context(|| format!("cannot write the chart to {}", path.display()))?;
            eprintln!("turnscope: wrote the chart to {}", path.display());
        }
        if args.tui {
            crate::tui::view::bench::show(&report)
                .await
                .context("cannot show the chart in this terminal")?;
            stdout(&bench::report::table(&report))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
