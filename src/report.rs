//! Headless reports of a ledger: the `stats` table and its stable JSON schema.

mod summary;
mod turns;

pub use summary::{
    FileSummary, ManyTotals, summary_json_end, summary_json_start, summary_row_json,
    summary_table_header, summary_table_row, summary_table_total,
};

use std::io::Write;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use crate::ledger::cost::{Cost, Prices, SessionCost, TurnCost, turn_cost};
use crate::ledger::{Ledger, Mark, Totals, Turn, TurnStatus};
use crate::secrets::RedactingFormatter;
use crate::transcript::{Header, LineError};

/// Label of the server's prompt-cache figure, `usage.input_tokens_details.cached_tokens`:
/// prompt-cache hits, computed the same way on WebSocket and HTTP. Every screen and report
/// uses this wording and [`fmt_tokens`], and never calls the connection cache "cached".
pub const PROMPT_CACHE: &str = "prompt cache";

/// Label of the ledger's connection-cache figure (`Turn::cache_estimate_tokens`): the
/// parent's context tokens the open WebSocket connection holds (state continuation, not
/// re-sent). An estimate by the ledger, never a server figure, never part of `cached_tokens`.
pub const CONN_CONTEXT: &str = "conn context";

/// Token counts, one format on every screen and report: `12,345`.
pub fn fmt_tokens(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Signed token counts (a saving can be negative): `-1,234`.
pub fn fmt_tokens_signed(n: i64) -> String {
    let abs = fmt_tokens(n.unsigned_abs());
    if n < 0 { format!("-{abs}") } else { abs }
}

/// A count and its noun, singular or plural, in the shared number format: `1 turn`,
/// `12,345 turns`. Nouns here take a plain `s`.
pub fn counted(n: impl TryInto<u64>, noun: &str) -> String {
    let n = n.try_into().unwrap_or(u64::MAX);
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", fmt_tokens(n))
}

/// Version of the `stats --json` schema; bumped on any incompatible change.
pub const STATS_SCHEMA: u32 = 1;

/// Writes the `stats --json` document (schema documented in the README), pretty-printed and
/// followed by a newline, turns a chunk at a time (written on all cores): the whole document is
/// never held in memory. Every string is redacted on its way out ([`RedactingFormatter`]).
pub fn write_stats_json(
    out: &mut impl Write,
    file: &str,
    header: &Header,
    ledger: &Ledger,
    skipped: &[LineError],
    prices: &Prices,
) -> std::io::Result<()> {
    let doc = StatsDoc {
        file,
        header,
        ledger,
        skipped,
        har: None,
        cost: &SessionCost::of(prices, ledger.turns()),
    };
    write_redacted(out, &doc, |out| turns::write_elements(out, ledger, prices))
}

/// The turns of a `stats --json` report whose ledger retires them as it folds
/// ([`Ledger::retire_finished`]): each written out as it retires, into an unnamed temporary
/// file, and priced into the running cost. The document's head (connections, notes, totals,
/// cost) needs the whole file folded and comes before the turns, so they wait on disk, not in
/// memory, and are copied in after it ([`write_stats_json_spooled`]).
pub struct TurnSpool {
    elements: turns::Elements<std::io::BufWriter<std::fs::File>>,
}

impl TurnSpool {
    /// An empty spool (a temporary file the system deletes once it is closed).
    pub fn new() -> std::io::Result<Self> {
        Ok(TurnSpool {
            elements: turns::Elements::new(std::io::BufWriter::new(tempfile::tempfile()?)),
        })
    }

    /// Writes the next retired `turns`, in turn order, each with its remedies (one list per
    /// turn, [`Ledger::remedies`]), on this thread (see [`turns::Elements::write_here`]).
    pub fn write(
        &mut self,
        remedies: &[Vec<crate::ledger::Remedy>],
        prices: &Prices,
        turns: &[Turn],
    ) -> std::io::Result<()> {
        self.elements.write_here(remedies, prices, turns)
    }
}

/// `write_stats_json` (with `har`, a HAR's `har` object beside the usual keys) for a ledger
/// whose every turn went into `spool`, in order, and cost `cost` ([`SessionCost::add_turn`]): the same bytes.
#[allow(clippy::too_many_arguments)]
pub fn write_stats_json_spooled(
    out: &mut impl Write,
    file: &str,
    header: &Header,
    ledger: &Ledger,
    skipped: &[LineError],
    har: Option<&Value>,
    cost: &SessionCost,
    spool: TurnSpool,
) -> std::io::Result<()> {
    let doc = StatsDoc {
        file,
        header,
        ledger,
        skipped,
        har,
        cost,
    };
    write_redacted(out, &doc, |out| {
        let mut file = spool
            .elements
            .end()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut file)?;
        std::io::copy(&mut file, out).map(|_| ())
    })
}

/// Writes `doc` pretty-printed and followed by a newline, every string redacted as it is written
/// (a transcript written by another tool may hold a key, e.g. an error message quoting it). The
/// document is printed with an empty `turns` array (its last key), and `turns` writes the array's
/// elements into it ([`turns::Elements`]): the bytes the one-pass printer would write.
fn write_redacted<W: Write>(
    out: &mut W,
    doc: &StatsDoc<'_>,
    turns: impl FnOnce(&mut W) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let formatter = RedactingFormatter::new(serde_json::ser::PrettyFormatter::new());
    let mut ser = serde_json::Serializer::with_formatter(&mut head, formatter);
    doc.serialize(&mut ser).map_err(std::io::Error::other)?;
    // An empty array ends the document: `"turns": []` and the closing brace.
    let close = b"]\n}";
    let Some(head) = head
        .strip_suffix(b"[]\n}")
        .map(|h| h.len() + 1)
        .and_then(|n| head.get(..n))
    else {
        return Err(std::io::Error::other(
            "stats --json: the report did not end with its turns (a bug; please report it)",
        ));
    };
    out.write_all(head)?;
    turns(out)?;
    out.write_all(close)?;
    out.write_all(b"\n")
}

/// The document `write_stats_json` streams. Its keys are written in the order a
/// `serde_json::Map` (sorted) would print them, so the bytes are those of the whole tree.
struct StatsDoc<'a> {
    file: &'a str,
    header: &'a Header,
    ledger: &'a Ledger,
    skipped: &'a [LineError],
    har: Option<&'a Value>,
    /// What every turn cost (the turns may have left the ledger).
    cost: &'a SessionCost,
}

impl Serialize for StatsDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ledger = self.ledger;
        let connections: Vec<Value> = ledger
            .connections()
            .iter()
            .map(|c| {
                json!({
                    "index": c.index,
                    "url": c.url,
                    "opened_us": c.opened_us,
                    "closed_us": c.closed_us,
                    "age_us": c.age_us(ledger.last_t_us()),
                    "close_code": c.close_code,
                    "close_reason": c.close_reason,
                    "reconnect_reason": c.reconnect_reason,
                    "turns": c.turns,
                })
            })
            .collect();
        let skipped: Vec<Value> = self
            .skipped
            .iter()
            .map(|e| json!({"line": e.line, "reason": e.reason, "truncated": e.truncated}))
            .collect();
        let mut map = s.serialize_map(Some(13))?;
        map.serialize_entry("client", &ledger.client())?;
        map.serialize_entry("connections", &connections)?;
        map.serialize_entry("cost", &cost_json(self.cost))?;
        map.serialize_entry("file", self.file)?;
        map.serialize_entry("frames", &ledger.frame_count())?;
        if let Some(har) = self.har {
            map.serialize_entry("har", har)?;
        }
        map.serialize_entry("model", &self.header.model)?;
        map.serialize_entry("notes", &json!(ledger.notes()))?;
        map.serialize_entry("schema", &STATS_SCHEMA)?;
        map.serialize_entry("skipped_lines", &skipped)?;
        map.serialize_entry("source", &self.header.source)?;
        map.serialize_entry("totals", &totals_json(ledger.totals()))?;
        // Written by `write_redacted`, on all cores.
        map.serialize_entry("turns", &[] as &[Value])?;
        map.end()
    }
}

/// The `totals` object of a report.
fn totals_json(t: &Totals) -> Value {
    json!({
        "turns": t.turns,
        "incremental": t.incremental,
        "full_context": t.full_context,
        "saved": {"bytes": t.saved_bytes(), "tokens": t.saved_tokens(), "pct_bytes": round2(t.saved_pct())},
        "cached_tokens": t.cached_tokens,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "tool_calls": t.tool_calls,
        "errors": t.errors,
    })
}

/// USD rounded to a billionth: enough for one token of the cheapest model, without float noise.
fn usd(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// A bill's `cost` object by part, USD rounded ([`usd`]), keys sorted: one definition for the
/// report's `cost` ([`cost_json`]) and each turn's in `stats --json` (streamed, no tree).
struct UsdJson<'a>(&'a Cost);

impl Serialize for UsdJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("cached_input_usd", &usd(c.cached_input_usd))?;
        map.serialize_entry("output_usd", &usd(c.output_usd))?;
        map.serialize_entry("uncached_input_usd", &usd(c.uncached_input_usd))?;
        map.serialize_entry("usd", &usd(c.total_usd))?;
        map.end()
    }
}

/// The `cost` object of a report: the priced turns' bill by part (`usd` null when a turn with
/// usage had no price), the tokens billed, and what could not be priced.
pub fn cost_json(s: &SessionCost) -> Value {
    let mut v = json!(UsdJson(&s.cost));
    v["usd"] = json!(s.total_usd().map(usd));
    v["billed_tokens"] = json!(s.billed);
    v["priced_turns"] = json!(s.priced_turns);
    v["no_usage_turns"] = json!(s.no_usage_turns);
    v["unpriced_models"] = json!(s.unpriced);
    v["text"] = json!(s.text());
    v
}

/// A turn's marks as words (`warm-up,edited`), `-` for none: the `stats` table's last column.
pub fn marks_text(t: &Turn) -> String {
    let words: Vec<&str> = t.marks().into_iter().map(Mark::label).collect();
    if words.is_empty() {
        "-".into()
    } else {
        words.join(",")
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Formats µs as a short duration: `850µs`, `12.3ms`, `4.20s`.
pub fn fmt_us(us: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = us as f64;
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => format!("{:.1}ms", f / 1e3),
        _ => format!("{:.2}s", f / 1e6),
    }
}

/// Formats µs in at most 6 columns, always with its unit: `850 µs`, `482 ms`, `1.2 s`, `42 s`,
/// `3.5 m`. For narrow columns, where `fmt_us`'s `482.5ms` was cut to `482.5m` (read as minutes).
pub fn fmt_us_compact(us: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = us as f64;
    match us {
        0..1_000 => format!("{us} µs"),
        // Below 999.5 ms so that rounding never prints `1000 ms`.
        1_000..999_500 => format!("{:.0} ms", f / 1e3),
        999_500..9_950_000 => format!("{:.1} s", f / 1e6),
        9_950_000..99_500_000 => format!("{:.0} s", f / 1e6),
        99_500_000..599_500_000 => format!("{:.1} m", f / 6e7),
        _ => format!("{:.0} m", f / 6e7),
    }
}

/// Formats a byte count: `512B`, `12.3K`, `4.5M`, `5.4G`. A figure that would round to
/// `1024.0` of its unit is written in the next one (`1.0M`, not `1024.0K`).
pub fn fmt_bytes(b: u64) -> String {
    if b < 1024 {
        return format!("{b}B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut f = b as f64 / 1024.0;
    for unit in ["K", "M"] {
        if f < 1023.95 {
            return format!("{f:.1}{unit}");
        }
        f /= 1024.0;
    }
    format!("{f:.1}G")
}

/// A signed byte figure (a saving can be negative: chaining to a parent with no items costs the
/// `previous_response_id` field): `-1.2K`, in [`fmt_bytes`]'s units.
pub fn fmt_bytes_signed(b: i64) -> String {
    let abs = fmt_bytes(b.unsigned_abs());
    if b < 0 { format!("-{abs}") } else { abs }
}

fn opt_us(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), fmt_us)
}

/// The `stats` table: one row per turn, then totals.
pub fn stats_table(ledger: &Ledger, prices: &Prices) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_stats_table(&mut out, ledger, prices);
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes the `stats` table row by row: a long recording's table is never held whole.
pub fn write_stats_table(
    out: &mut impl Write,
    ledger: &Ledger,
    prices: &Prices,
) -> std::io::Result<()> {
    write_table_head(out)?;
    write_table_rows(out, prices, ledger.turns())?;
    write_table_total(out, ledger, &SessionCost::of(prices, ledger.turns()))
}

/// The `stats` table's header line.
pub fn write_table_head(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>4} {:>4} {:<8} {:<10} {:>8} {:>8} {:>9} {:>9} {:>7} {:>12} {:>5} {:>9}  marks",
        "turn",
        "conn",
        "lane",
        "status",
        "ttft",
        "total",
        "sent",
        "full",
        "saved",
        PROMPT_CACHE,
        "tools",
        "cost"
    )
}

/// The `stats` table's rows of `turns`, one each: for a ledger's turns, or those it retires.
pub fn write_table_rows(
    out: &mut impl Write,
    prices: &Prices,
    turns: &[Turn],
) -> std::io::Result<()> {
    for t in turns {
        let status = match &t.status {
            TurnStatus::Error {
                code: Some(code), ..
            } => code.as_str(),
            s => s.label(),
        };
        // The reason for an n/a is said once, on the totals line.
        let cost = match turn_cost(prices, t) {
            TurnCost::Priced(c) => crate::ledger::cost::fmt_usd(c.total_usd),
            TurnCost::NoUsage | TurnCost::NoPrice(_) => "n/a".into(),
        };
        writeln!(
            out,
            "{:>4} {:>4} {:<8} {:<10} {:>8} {:>8} {:>9} {:>9} {:>6.1}% {:>12} {:>5} {:>9}  {}",
            t.index,
            t.conn,
            t.lane.as_deref().unwrap_or("-"),
            truncate(status, 10),
            opt_us(t.ttft_us()),
            opt_us(t.latency_total_us()),
            fmt_bytes(t.incremental.bytes),
            fmt_bytes(t.full_context.bytes),
            t.saved_pct(),
            t.cached_tokens().map_or_else(|| "-".into(), fmt_tokens),
            t.tool_calls.len(),
            cost,
            marks_text(t),
        )?;
    }
    Ok(())
}

/// The `stats` table's totals line: `ledger`'s totals and connections, and what every turn
/// cost (`cost`: its turns may have left the ledger).
pub fn write_table_total(
    out: &mut impl Write,
    ledger: &Ledger,
    cost: &SessionCost,
) -> std::io::Result<()> {
    let t = ledger.totals();
    writeln!(
        out,
        "total: {} on {}; sent {} vs {} full resend: saved {} ({:.1}%), {} tokens; {PROMPT_CACHE} {} of {} input tokens; {}; {}; cost {}",
        counted(t.turns, "turn"),
        counted(ledger.connections().len(), "connection"),
        fmt_bytes(t.incremental.bytes),
        fmt_bytes(t.full_context.bytes),
        fmt_bytes_signed(t.saved_bytes()),
        t.saved_pct(),
        fmt_tokens_signed(t.saved_tokens()),
        fmt_tokens(t.cached_tokens),
        fmt_tokens(t.input_tokens),
        counted(t.tool_calls, "tool call"),
        counted(t.errors, "error"),
        cost.text(),
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// A turn's prompt-cache figures, label first: `prompt cache 7,296 of 7,952 expected` (`-` while
/// the server has not reported). The one wording of the ledger's one estimate
/// (`Insight::expected_cached_tokens`), shared by the TUI's header and its Insight tab.
pub fn prompt_cache_text(turn: &Turn) -> String {
    format!(
        "{PROMPT_CACHE} {} of {} expected",
        turn.cached_tokens().map_or_else(|| "-".into(), fmt_tokens),
        fmt_tokens(turn.insight.expected_cached_tokens)
    )
}

/// A cause in a few words, for summaries and the UI.
pub fn cause_text(cause: &crate::ledger::Cause) -> String {
    use crate::ledger::Cause;
    match cause {
        Cause::InstructionsChanged => "instructions changed".into(),
        Cause::ToolsChanged {
            added,
            removed,
            changed,
        } => {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("+{}", added.join(",+")));
            }
            if !removed.is_empty() {
                parts.push(format!("-{}", removed.join(",-")));
            }
            if !changed.is_empty() {
                parts.push(format!("~{}", changed.join(",~")));
            }
            format!("tools changed ({})", parts.join(" "))
        }
        Cause::ToolsReordered { to, .. } => format!("tools reordered (now {})", to.join(", ")),
        Cause::ModelChanged { from, to } => format!(
            "model changed ({} → {})",
            from.as_deref().unwrap_or("-"),
            to.as_deref().unwrap_or("-")
        ),
        Cause::ReasoningChanged => "reasoning settings changed".into(),
        Cause::TextChanged => "text settings changed".into(),
        Cause::NewConnection { from, to } => format!("new connection ({from} → {to}): cache lost"),
        Cause::StoreFalseAfterReconnect => {
            "store=false after a reconnect: parent unrecoverable".into()
        }
        Cause::Compaction => "compaction (context_management)".into(),
        Cause::Unknown => "unknown cause".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each unit up to G, and no `1024.0` of a unit at its top.
    #[test]
    fn byte_counts_move_to_the_next_unit_before_1024() {
        for (b, text) in [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1.0K"),
            (1_048_575, "1.0M"),
            (5_828_000_000, "5.4G"),
            (u64::MAX, "17179869184.0G"),
        ] {
            assert_eq!(fmt_bytes(b), text, "{b}");
        }
    }

    /// A negative saving keeps its sign and its size (the table once printed `0B` for it).
    #[test]
    fn signed_figures_keep_their_sign() {
        assert_eq!(fmt_bytes_signed(-2048), "-2.0K");
        assert_eq!(fmt_bytes_signed(i64::MIN), "-8589934592.0G");
        assert_eq!(fmt_bytes_signed(587), "587B");
        assert_eq!(fmt_tokens_signed(-1234), "-1,234");
        assert_eq!(fmt_tokens_signed(0), "0");
    }

    /// Every duration keeps its unit within 6 columns, and rounding never prints `1000 ms`.
    #[test]
    fn compact_durations_keep_their_unit_in_six_columns() {
        for (us, text) in [
            (850, "850 µs"),
            (482_500, "482 ms"),
            (999_400, "999 ms"),
            (999_600, "1.0 s"),
            (1_234_000, "1.2 s"),
            (42_000_000, "42 s"),
            (210_000_000, "3.5 m"),
            (3_600_000_000, "60 m"),
        ] {
            assert_eq!(fmt_us_compact(us), text);
        }
        for us in (0..40).map(|k| 10u64.pow(k / 4) * [1, 2, 5, 9][(k % 4) as usize]) {
            let text = fmt_us_compact(us);
            assert!(text.chars().count() <= 6, "{us} -> {text}");
            assert!(text.contains(' '), "{us} -> {text}");
        }
    }
}
