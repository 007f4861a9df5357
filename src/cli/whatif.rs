//! `turnscope whatif FILE [--profile P] [--json]`: a recorded session's turns in the other
//! mode under a latency profile — time, bytes, tokens and cost beside what was measured.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::emulator::LatencyProfile;
use crate::ledger::Ledger;
use crate::ledger::cost::MODES_NOTE;
use crate::report::{fmt_bytes, fmt_tokens, fmt_us_compact};
use crate::whatif::{self, HttpStyle, WhatIf, other};

/// The profile used when `--profile` is not given.
const DEFAULT_PROFILE: &str = "realistic";

/// How HTTP mode sends continued turns (`--http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpArg {
    /// The whole context in every request (stateless clients, store=false; what bench runs).
    Resend,
    /// Only new items plus previous_response_id; the server loads the stored chain.
    Chain,
}

/// Arguments of `turnscope whatif`.
#[derive(Debug, clap::Args)]
pub struct WhatIfArgs {
    /// A recording (`.tsjsonl` from turnscope, or a HAR) of a WebSocket- or HTTP-mode session.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Latency profile: a built-in name (zero, realistic, lan) or a TOML file (`FILE.toml` or
    /// `FILE.toml:NAME`, e.g. written by `turnscope calibrate`). Default: realistic.
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// How HTTP mode sends continued turns.
    #[arg(long, value_enum, default_value = "resend")]
    pub http: HttpArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Files over this size get a progress line on stderr while they are read.
const PROGRESS_BYTES: u64 = 16 << 20;

/// Runs `whatif`.
pub fn run(args: &WhatIfArgs, global: &super::config::GlobalArgs) -> anyhow::Result<ExitCode> {
    let spec = args.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let profile = LatencyProfile::resolve(spec)?;
    let prices = super::config::price_table(global)?;
    let name = args.file.display().to_string();
    let size = std::fs::metadata(&args.file).map_or(0, |m| m.len());
    if size > PROGRESS_BYTES {
        eprintln!("turnscope: reading {name} ({})…", fmt_bytes(size));
    }
    let recording = super::recording::read(&args.file)?;
    let mut ledger = Ledger::new();
    ledger.push_batch(&recording.frames);
    let style = match args.http {
        HttpArg::Resend => HttpStyle::Resend,
        HttpArg::Chain => HttpStyle::Chain,
    };
    let w = whatif::predict(&name, &ledger, &profile, style, &prices)?;
    let origin = if args.profile.is_some() {
        format!("profile {spec}")
    } else {
        format!(
            "profile {spec} (the default; --profile NAME|FILE to choose, e.g. from turnscope calibrate)"
        )
    };
    let mut out = crate::secrets::RedactLines::new(std::io::stdout().lock());
    if args.json {
        let mut v = serde_json::to_value(&w)?;
        v["file"] = serde_json::json!(name);
        v["e2e_change_pct"] = serde_json::json!(w.e2e_change_pct());
        v["cost"] = crate::report::cost_json(&w.cost);
        v["cost_note"] = serde_json::json!(MODES_NOTE);
        serde_json::to_writer_pretty(&mut out, &v)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(table(&name, &origin, &w).as_bytes())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Times in the turn list's one compact format (`482 ms`, `1.2 s`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn us(v: f64) -> String {
    fmt_us_compact(v.max(0.0).round() as u64)
}

/// The table: one row per turn, then totals and the note on cost.
fn table(name: &str, origin: &str, w: &WhatIf) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let modes: Vec<String> = w
        .modes()
        .iter()
        .map(|m| format!("{} → {}", m.name(), other(*m).name()))
        .collect();
    let _ = writeln!(s, "whatif {name}: {}; {origin}", modes.join(", "));
    if w.modes().contains(&crate::ledger::Transport::WebSocket) {
        let how = match w.http_style {
            HttpStyle::Resend => {
                "http resends the whole context every turn (--http chain: chained by id)"
            }
            HttpStyle::Chain => "http chains by previous_response_id; the server loads the chain",
        };
        let _ = writeln!(s, "{how}");
    }
    let _ = writeln!(
        s,
        "{:>4} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "turn",
        "time",
        "predicted",
        "sent",
        "predicted",
        "loaded tok",
        "predicted",
        "uncached",
        "cost"
    );
    for t in &w.turns {
        let _ = writeln!(
            s,
            "{:>4} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}{}",
            t.index,
            us(t.measured.total_us),
            us(t.predicted.total_us),
            fmt_bytes(t.measured.bytes),
            fmt_bytes(t.predicted.bytes),
            fmt_tokens(t.measured.loaded_tokens),
            fmt_tokens(t.predicted.loaded_tokens),
            fmt_tokens(t.measured.uncached_tokens),
            t.cost_usd
                .map_or_else(|| "n/a".into(), crate::ledger::cost::fmt_usd),
            if t.rotated {
                "  new connection (rotation)"
            } else {
                ""
            },
        );
    }
    let _ = writeln!(
        s,
        "total: end to end {} measured → {} predicted ({:+.1}%); sent {} → {}; loaded {} → {} tokens; uncached {} tokens in both modes; cost {} in both modes",
        us(w.measured.e2e_us),
        us(w.predicted.e2e_us),
        w.e2e_change_pct(),
        fmt_bytes(w.measured.bytes),
        fmt_bytes(w.predicted.bytes),
        fmt_tokens(w.measured.loaded_tokens),
        fmt_tokens(w.predicted.loaded_tokens),
        fmt_tokens(w.measured.uncached_tokens),
        w.cost.text(),
    );
    if !w.skipped.is_empty() {
        let list: Vec<String> = w.skipped.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            s,
            "skipped (no usage: error or dropped): turn {}",
            list.join(", ")
        );
    }
    if w.rotations > 0 {
        let _ = writeln!(
            s,
            "websocket rotations at the 55-minute age: {}",
            w.rotations
        );
    }
    let _ = writeln!(s, "note: {MODES_NOTE}");
    s
}
