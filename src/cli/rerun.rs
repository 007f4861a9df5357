//! `turnscope rerun FILE`: send a recording's client events again and compare old and new turns.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::emulator::{self, EmulatorConfig, LatencyProfile, Scenario};
use crate::replay::rerun::{self, RerunConfig};

/// Arguments of `turnscope rerun`.
#[derive(Debug, clap::Args)]
pub struct RerunArgs {
    /// A transcript (`.tsjsonl`) recorded by turnscope, or a HAR.
    pub file: PathBuf,
    /// Server to rerun against: a ws(s):// URL or an http(s) base URL such as
    /// https://api.openai.com/v1 (uses OPENAI_API_KEY). Default: the built-in emulator,
    /// started in-process on a free port.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Where to record the new transcript (default: FILE's name with `.rerun.tsjsonl`).
    #[arg(long, value_name = "OUT")]
    pub record: Option<PathBuf>,
    /// Use this model for every `response.create` instead of the recorded one.
    #[arg(long)]
    pub model: Option<String>,
    /// Emulator only: its scripted model (`coding-agent` or a scenario file); default the persona.
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "url")]
    pub scenario: Option<String>,
    /// Emulator only: latency profile (`zero`, `realistic`, `lan`, FILE.toml[:NAME]).
    #[arg(long, default_value = "zero", value_name = "PROFILE")]
    pub latency: String,
    /// Longest wait for one turn, e.g. `60s`, `5m`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print the comparison as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 even when a turn's status differs between the recording and the rerun.
    #[arg(long)]
    pub allow_status_changes: bool,
}

/// `dir/name.tsjsonl` → `dir/name.rerun.tsjsonl`.
pub fn default_record_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "transcript".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.rerun.tsjsonl"))
}

/// Runs `rerun`; exits 1 when the rerun stopped early or a turn's status differs (unless
/// `--allow-status-changes`).
pub fn run(args: &RerunArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    if let Some(url) = &args.url {
        crate::config::check_url(url, "--url").map_err(anyhow::Error::msg)?;
    }
    let frames = super::recording::read(&args.file)?.frames;
    let record = args
        .record
        .clone()
        .unwrap_or_else(|| default_record_path(&args.file));
    if record == args.file {
        anyhow::bail!(
            "--record {} would overwrite the transcript being rerun; pick another path",
            record.display()
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let comparison = runtime.block_on(async {
        let (url, api_key, emulator) = match &args.url {
            Some(url) => {
                crate::endpoint::install_crypto_provider();
                let key = std::env::var("OPENAI_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty());
                (crate::endpoint::ws_url_from_base(url), key, None)
            }
            None => {
                let scenario = args
                    .scenario
                    .as_deref()
                    .map(Scenario::resolve)
                    .transpose()?;
                let config = EmulatorConfig {
                    scenario,
                    latency: LatencyProfile::resolve(&args.latency)?,
                    // A recording is replayed with whatever model it named.
                    extra_models: vec!["*".to_owned()],
                    ..EmulatorConfig::default()
                };
                let running = emulator::start(config)
                    .await
                    .context("cannot start the built-in emulator")?;
                // The emulator accepts any key but wants one, as the real API does.
                let key = Some("turnscope-rerun".to_owned());
                (running.ws_url(), key, Some(running))
            }
        };
        let config = RerunConfig {
            url,
            api_key,
            record: Some(record),
            model: args.model.clone(),
            timeout: args.timeout,
        };
        let comparison = rerun::rerun(&frames, &config).await;
        if let Some(running) = emulator {
            running.shutdown().await;
        }
        anyhow::Ok(comparison)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        let to = comparison
            .recorded_to
            .as_ref()
            .map_or("nothing (recording failed)".to_owned(), |p| {
                p.display().to_string()
            });
        println!(
            "rerun of {name} against {}, recorded to {to}",
            comparison.url
        );
        print!("{}", rerun::table(&comparison));
    }
    if comparison.stopped.is_some() {
        return Ok(ExitCode::FAILURE);
    }
    if !comparison.status_changes.is_empty() && !args.allow_status_changes {
        eprintln!(
            "turnscope: rerun: {} turn(s) ended differently from the recording; pass --allow-status-changes to exit 0 anyway",
            comparison.status_changes.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
