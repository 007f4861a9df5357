//! The rerun's result: each recorded turn's figures beside its rerun's, and the table of them.

use std::path::PathBuf;

use serde::Serialize;

use crate::ledger::Turn;

/// A turn's figures for the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnFigures {
    /// Status label (`done`, `error`, …).
    pub status: String,
    /// Error code or message, when the turn failed.
    pub error: Option<String>,
    /// `resp_…`.
    pub response_id: Option<String>,
    /// send → terminal event, ms.
    pub latency_ms: Option<f64>,
    /// send → first output, ms.
    pub ttft_ms: Option<f64>,
    /// Server-reported input tokens.
    pub input_tokens: Option<u64>,
    /// Server-reported cached input tokens.
    pub cached_tokens: Option<u64>,
    /// Server-reported output tokens.
    pub output_tokens: Option<u64>,
    /// Bytes of the request as sent.
    pub request_bytes: u64,
}

impl TurnFigures {
    /// The figures of a ledger turn.
    pub fn of(turn: &Turn) -> Self {
        let ms = |us: Option<u64>| us.map(|u| u as f64 / 1000.0);
        let error = match &turn.status {
            crate::ledger::TurnStatus::Error { code, message } => {
                Some(code.clone().unwrap_or_else(|| message.clone()))
            }
            _ => None,
        };
        TurnFigures {
            status: turn.status.label().to_owned(),
            error,
            response_id: turn.response_id.clone(),
            latency_ms: ms(turn.latency_total_us()),
            ttft_ms: ms(turn.ttft_us()),
            input_tokens: turn.usage.as_ref().map(|u| u.input_tokens),
            cached_tokens: turn.cached_tokens(),
            output_tokens: turn.usage.as_ref().map(|u| u.output_tokens),
            request_bytes: turn.incremental.bytes,
        }
    }
}

/// One recorded turn beside its rerun.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Recorded turn number (1-based).
    pub turn: usize,
    /// As recorded.
    pub old: TurnFigures,
    /// This time; `None` when it was never sent (the rerun stopped first).
    pub new: Option<TurnFigures>,
}

/// The result of a rerun.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The server used.
    pub url: String,
    /// The new transcript.
    pub recorded_to: Option<PathBuf>,
    /// One row per recorded turn (steered successors included).
    pub rows: Vec<Row>,
    /// Recorded turn numbers whose new status differs (or that were never sent).
    pub status_changes: Vec<usize>,
    /// Client events that were not sent (binary frames, unsent at close).
    pub notes: Vec<String>,
    /// Why the rerun stopped early, if it did.
    pub stopped: Option<String>,
}

/// The side-by-side table: one line per turn, old │ new for each figure.
pub fn table(c: &Comparison) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<28} {:<28}  {:>17}  {:>15}  {:>15}  {:>13}",
        "turn",
        "status (old)",
        "status (new)",
        "latency ms",
        "input tokens",
        crate::report::PROMPT_CACHE,
        "output tokens"
    );
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), crate::report::fmt_tokens);
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    let status = |f: &TurnFigures| {
        let s = match &f.error {
            Some(e) => format!("{} ({e})", f.status),
            None => f.status.clone(),
        };
        s.chars().take(28).collect::<String>()
    };
    for row in &c.rows {
        let new = row.new.as_ref();
        let pair = |a: String, b: String| format!("{a:>7} │ {b:<7}");
        let _ = writeln!(
            out,
            "{:>4}  {:<28} {:<28}  {:>17}  {:>15}  {:>15}  {:>13}",
            row.turn,
            status(&row.old),
            new.map_or("not sent".to_owned(), status),
            pair(ms(row.old.latency_ms), ms(new.and_then(|n| n.latency_ms))),
            pair(
                opt(row.old.input_tokens),
                opt(new.and_then(|n| n.input_tokens))
            ),
            pair(
                opt(row.old.cached_tokens),
                opt(new.and_then(|n| n.cached_tokens))
            ),
            pair(
                opt(row.old.output_tokens),
                opt(new.and_then(|n| n.output_tokens))
            ),
        );
    }
    for note in &c.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if !c.status_changes.is_empty() {
        let turns: Vec<String> = c.status_changes.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "status differs on turn(s) {} (old │ new above)",
            turns.join(", ")
        );
    }
    if let Some(why) = &c.stopped {
        let _ = writeln!(out, "stopped early: {why}");
    }
    out
}
