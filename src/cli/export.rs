//! `turnscope export --har OUT FILE`: writes a recording in another tool's format.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `turnscope export`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["har"])))]
pub struct ExportArgs {
    /// A recording: a transcript (`.tsjsonl`) or a HAR.
    pub file: PathBuf,
    /// Write a HAR (Chrome's WebSocket representation) that Chrome DevTools and mitmproxy open.
    #[arg(long, value_name = "OUT")]
    pub har: Option<PathBuf>,
}

/// Runs `export`.
pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let recording = super::recording::read(&args.file)?;
    if let Some(out) = &args.har {
        if out == &args.file {
            anyhow::bail!(
                "--har {} would overwrite the recording being exported; pick another path",
                out.display()
            );
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // A HAR holds the whole conversation: readable by its owner only, like a transcript.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(out)
            .with_context(|| format!("{}: cannot create the HAR", out.display()))?;
        let summary = crate::har::write_har(&recording.header, &recording.frames, file)
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
    }
    Ok(ExitCode::SUCCESS)
}
