//! `turnscope replay FILE`: the read-only replay screen on a recorded transcript.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::replay::{Index, IndexOptions};
use crate::tui::replay::app::{ReplayAction, ReplayApp, update};

/// Arguments of `turnscope replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A transcript (`.tsjsonl`) recorded by turnscope (may still be growing), or a HAR.
    pub file: PathBuf,
    /// Follow a growing file (a live recording) like `tail -f`.
    #[arg(long)]
    pub follow: bool,
    /// Skip the o200k token pass (bytes, latencies and usage are still shown).
    #[arg(long)]
    pub no_tokens: bool,
    /// Start at this turn, `#frame`, response id or time (as the `:` prompt takes).
    #[arg(long, value_name = "TARGET")]
    pub at: Option<String>,
    /// Where `e`, `E`, `r` and `w` write their JSON files (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub export_dir: PathBuf,
}

/// Runs `replay` until the user quits.
pub fn run(args: &ReplayArgs, global: &super::config::GlobalArgs) -> anyhow::Result<ExitCode> {
    let settings = global.settings(crate::config::Overrides::default())?;
    let theme = super::config::load_theme(&settings.theme)?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let options = IndexOptions {
        follow: args.follow,
        tokens: !args.no_tokens,
        notify: Some(Arc::new(move || {
            let _ = tx.send(());
        })),
    };
    // A HAR is converted to a private temporary transcript the index can seek in; the copy
    // lives as long as the replay and is deleted after it.
    let har_copy = if crate::har::is_har(&args.file) {
        if args.follow {
            anyhow::bail!(
                "--follow watches a growing transcript; a HAR is complete: drop --follow"
            );
        }
        let loaded = crate::har::load(&args.file)?;
        super::recording::report_har(&args.file.display().to_string(), &loaded.summary);
        let copy = tempfile::Builder::new()
            .prefix("turnscope-har-")
            .suffix(".tsjsonl")
            .tempfile()
            .context("cannot create a temporary transcript for the HAR")?;
        crate::har::write_transcript(&loaded, copy.path())
            .context("cannot write a temporary transcript for the HAR")?;
        Some(copy)
    } else {
        None
    };
    let path = har_copy.as_ref().map_or(args.file.as_path(), |c| c.path());
    let index = Index::open(path, options)?;
    let mut app = ReplayApp::new(
        args.file.display().to_string(),
        index.header().clone(),
        theme,
    );
    app.keymap = super::config::keymap(&settings)?;
    app.keys = super::config::replay_keys(&settings)?;
    app.export_dir = args.export_dir.clone();
    app.tail = args.follow;
    if let Some(at) = &args.at {
        // Wait briefly so a target near the start resolves against an index that has it.
        index.wait_frames(u64::MAX, std::time::Duration::from_millis(300));
        update(
            &mut app,
            ReplayAction::OpenPrompt(crate::tui::replay::app::PromptKind::Jump),
        );
        for c in at.chars() {
            update(&mut app, ReplayAction::PromptChar(c));
        }
        update(&mut app, ReplayAction::PromptSubmit);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(crate::tui::replay::run::run(
        &index,
        app,
        rx,
        CancellationToken::new(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
