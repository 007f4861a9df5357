//! `turnscope calibrate FILE…`: fit a latency profile to recorded sessions and write it as a
//! profile file that `bench --latency` and `emulate --latency` read.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::latency::calibrate::{self, Fit};

/// Arguments of `turnscope calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Recordings (`.tsjsonl` from `live` or `proxy`, or a HAR): WebSocket and/or HTTP mode;
    /// both modes are needed to tell their overheads apart.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the fitted profile here (TOML, table `[fitted]`).
    #[arg(long, short, value_name = "FILE", default_value = "calibrated.toml")]
    pub output: PathBuf,
    /// The network round trip in ms (e.g. from ping): splits it from the modes' fixed overheads,
    /// which otherwise include it.
    #[arg(long, value_name = "MS")]
    pub rtt_ms: Option<f64>,
    /// Fit what the recordings identify and write 0 for the rest, instead of refusing.
    #[arg(long)]
    pub partial: bool,
}

/// Runs `turnscope calibrate`.
pub fn run(args: &CalibrateArgs) -> anyhow::Result<ExitCode> {
    if let Some(r) = args.rtt_ms
        && !(r.is_finite() && r >= 0.0)
    {
        anyhow::bail!("--rtt-ms {r}: give the round trip as a number of milliseconds ≥ 0");
    }
    let mut samples = Vec::new();
    let mut skipped = 0;
    for path in &args.files {
        let name = path.display().to_string();
        eprintln!("calibrate: reading {name}…");
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let folded = super::stats::fold_file(path, &name, None, threads)?;
        let (s, k) = calibrate::samples(&folded.ledger);
        eprintln!(
            "calibrate: {name}: {} usable turns, {k} left out (errors, drops, steering, unfinished)",
            s.len()
        );
        samples.extend(s);
        skipped += k;
    }
    eprintln!("calibrate: fitting {} turns…", samples.len());
    let fit = calibrate::fit(&samples, args.rtt_ms, args.partial).with_context(|| {
        format!(
            "calibrate: {} turns used, {skipped} left out",
            samples.len()
        )
    })?;
    print!("{}", table(&fit));
    let mut toml = String::from(
        "# Fitted by `turnscope calibrate` from recorded turns; read with --latency FILE.\n",
    );
    toml.push_str(&fit.profile.to_toml("fitted"));
    std::fs::write(&args.output, toml)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "wrote {} (use: turnscope bench --latency {0})",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn num(v: f64) -> String {
    if v.is_infinite() {
        "∞".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The fit as a table: each parameter with its 95 % interval, R², turns, notes.
pub fn table(fit: &Fit) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<30} {:>12}   95% interval", "parameter", "value");
    for e in &fit.estimates {
        let ci = match e.ci95 {
            Some((lo, hi)) => format!("{} … {}", num(lo), num(hi)),
            None => "(not fitted)".into(),
        };
        let _ = writeln!(out, "{:<30} {:>12}   {ci}", e.key, num(e.value));
    }
    let _ = writeln!(
        out,
        "R² {:.3} (send → created, {} turns), {:.3} (created → done, {} turns)",
        fit.r2.0, fit.turns.0, fit.r2.1, fit.turns.1
    );
    for n in &fit.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
