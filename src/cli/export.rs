//! `turnscope export`: a recording in another tool's format — `--har OUT` (Chrome DevTools,
//! mitmproxy) or OpenTelemetry spans, `--otlp URL` / `--otlp-file F`, one trace per file (the
//! same OTLP flags put `turnscope proxy` on the live path).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::ledger::Ledger;
use crate::otel::{self, ExportConfig, SessionTrace, Sink, TimeBase};

/// Where spans go; shared by `export` and `proxy`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OtlpArgs {
    /// Send spans to this OpenTelemetry collector over OTLP/HTTP (protobuf): its base URL, e.g.
    /// http://127.0.0.1:6006 for Phoenix or http://127.0.0.1:4318 for a Collector
    /// (/v1/traces is appended) [env: OTEL_EXPORTER_OTLP_ENDPOINT]. Each export waits at most
    /// OTEL_EXPORTER_OTLP_TIMEOUT ms (default 10 s; 5 s in the proxy).
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
    /// A header for every export, KEY=VALUE, e.g. authorization=Bearer%20TOKEN (repeatable;
    /// wins over OTEL_EXPORTER_OTLP_HEADERS, which is read too).
    #[arg(long = "otlp-header", value_name = "K=V")]
    pub otlp_headers: Vec<String>,
    /// Write the spans as OTLP/JSON to FILE, one export request per line (appended).
    #[arg(long, value_name = "FILE")]
    pub otlp_file: Option<PathBuf>,
    /// Put prompts and outputs on the spans (input.value, output.value); keys are redacted.
    #[arg(long)]
    pub include_content: bool,
}

impl OtlpArgs {
    /// The export settings, or `None` when no destination is given (flag or environment).
    pub fn config(&self) -> anyhow::Result<Option<ExportConfig>> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let endpoint = match self.otlp.clone().or_else(|| env(otel::ENV_ENDPOINT)) {
            Some(url) => Some(otel::traces_url(&url)?),
            None => None,
        };
        if endpoint.is_none() && self.otlp_file.is_none() {
            return Ok(None);
        }
        let headers = otel::headers(env(otel::ENV_HEADERS).as_deref(), &self.otlp_headers)?;
        Ok(Some(ExportConfig {
            endpoint,
            headers,
            file: self.otlp_file.clone(),
            include_content: self.include_content,
            timeout: otel::timeout(env(otel::ENV_TIMEOUT).as_deref())?,
        }))
    }
}

/// Arguments of `turnscope export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Recordings: transcripts (`.tsjsonl`) or HARs; each becomes one trace (`--har`: one file).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write a HAR (Chrome's WebSocket representation) that Chrome DevTools and mitmproxy open.
    #[arg(long, value_name = "OUT")]
    pub har: Option<PathBuf>,
    /// OpenTelemetry destinations and content.
    #[command(flatten)]
    pub otlp: OtlpArgs,
}

/// Runs `export`.
pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let otlp = args.otlp.config()?;
    if args.har.is_none() && otlp.is_none() {
        anyhow::bail!(
            "nothing to export to: give --har OUT, --otlp URL (or set {}) or --otlp-file FILE",
            otel::ENV_ENDPOINT
        );
    }
    if let Some(out) = &args.har {
        let [file] = args.files.as_slice() else {
            anyhow::bail!(
                "--har writes one recording: give one FILE (got {})",
                args.files.len()
            );
        };
        write_har(file, out)?;
    }
    match otlp {
        Some(config) => export_otlp(args, &config),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `--har OUT`.
fn write_har(file: &Path, out: &Path) -> anyhow::Result<()> {
    let recording = super::recording::read(file)?;
    if out == file {
        anyhow::bail!(
            "--har {} would overwrite the recording being exported; pick another path",
            out.display()
        );
    }
    // A HAR holds the whole conversation: readable by its owner only, like a transcript.
    let handle = crate::secrets::create_private(out)
        .with_context(|| format!("{}: cannot create the HAR", out.display()))?;
    let summary = crate::har::write_har(&recording.header, &recording.frames, handle)
        .with_context(|| format!("{}: cannot write the HAR", out.display()))?;
    eprintln!(
        "turnscope: wrote {}: {} WebSocket entr{} ({} messages), {} HTTP entr{}{}",
        out.display(),
        summary.websocket,
        if summary.websocket == 1 { "y" } else { "ies" },
        summary.messages,
        summary.http,
        if summary.http == 1 { "y" } else { "ies" },
        if summary.meta_dropped > 0 {
            format!(
                "; {} meta line(s) that were not JSON were left out",
                summary.meta_dropped
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `--otlp` / `--otlp-file`: one line per file on stdout (turns, trace id); failures on
/// stderr, exit 1.
fn export_otlp(args: &ExportArgs, config: &ExportConfig) -> anyhow::Result<ExitCode> {
    let config = config.clone();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sink = Sink::new(&config, otel::EXPORT_TIMEOUT)?;
        let mut failed = false;
        for path in &args.files {
            match export_file(path, &sink, config.include_content).await {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("turnscope: {e:#}");
                    failed = true;
                }
            }
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Exports one transcript; returns its summary line.
async fn export_file(path: &Path, sink: &Sink, include_content: bool) -> anyhow::Result<String> {
    let name = path.display().to_string();
    let super::recording::Recording { header, frames } = super::recording::read(path)?;
    let ledger = Ledger::from_frames(&frames);
    let time = frames
        .first()
        .and_then(TimeBase::from_frame)
        .or_else(|| TimeBase::from_rfc3339(&header.created))
        .with_context(|| {
            format!("{name}: no usable wall-clock time in the header or first frame")
        })?;
    let session = path
        .file_name()
        .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
    let trace = SessionTrace::new(&session, time, include_content);
    let spans = trace.all(&ledger, &|i| {
        usize::try_from(i).ok().and_then(|i| frames.get(i))
    });
    let count = spans.len();
    sink.send(spans)
        .await
        .with_context(|| format!("{name}: not exported"))?;
    let to = match sink.endpoint() {
        Some(url) => url.to_owned(),
        None => "the OTLP/JSON file".into(),
    };
    Ok(format!(
        "{name}: {} turn(s), {} connection(s), {count} span(s) → trace {} at {to}",
        ledger.turns().len(),
        ledger.connections().len(),
        trace.trace_id()
    ))
}
