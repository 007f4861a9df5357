//! The `turns` array of `stats --json`, its elements written on all cores in turn order.
//!
//! Each turn's JSON is independent of the others', and writing it (building its value, redacting
//! and pretty-printing every string) was a third of `stats --json`'s CPU after the fold, all on
//! one core. Turns are written a chunk at a time on all cores into buffers, then copied out in
//! order, so the bytes are those the one-pass serializer wrote and memory holds one chunk.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

use crate::ledger::cost::Prices;
use crate::ledger::{Ledger, Remedy, Turn};
use crate::secrets::RedactingFormatter;
use element::TurnElement;

mod element;

/// Turns written per parallel step: enough for every core to have work, few enough that the
/// buffers stay small (a turn is ~2 KB of pretty JSON).
const CHUNK: usize = 512;

/// What a pretty-printed element of `turns` is indented by: the array sits in the document's
/// top-level object, two levels of two spaces deep.
const ELEMENT_INDENT: &[u8] = b"    ";

/// At most this many turns go into one buffer: fewer, larger buffers than one per turn.
const PIECE: usize = 32;

/// Turns per buffer for `n` turns: at most [`PIECE`], and at least four pieces per core where
/// there are that many turns (a fold's batch retires a dozen or so), so no core waits idle
/// for the last one.
fn piece(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads().max(1) * 4)
        .clamp(1, PIECE)
}

/// One turn as an element of the pretty-printed `turns` array (without the separator before
/// it), appended to `out`: printed as it would be inside the document, at the array's depth.
fn element(out: &mut Vec<u8>, remedies: &[Remedy], prices: &Prices, t: &Turn) -> io::Result<()> {
    let formatter = RedactingFormatter::new(serde_json::ser::PrettyFormatter::new()).at_depth(2);
    let mut ser = serde_json::Serializer::with_formatter(out, formatter);
    TurnElement {
        remedies,
        prices,
        turn: t,
    }
    .serialize(&mut ser)
    .map_err(io::Error::other)
}

/// `turns` as elements of the array, each after its separator (none before the array's
/// `first`), each with its list in `remedies` (none past its end).
fn elements(
    first: bool,
    turns: &[Turn],
    remedies: Option<&[Vec<Remedy>]>,
    prices: &Prices,
) -> io::Result<Vec<u8>> {
    let none: &[Remedy] = &[];
    let remedies = remedies.unwrap_or_default();
    let mut out = Vec::with_capacity(turns.len() * 2048);
    for (i, t) in turns.iter().enumerate() {
        let remedies = remedies.get(i).map_or(none, Vec::as_slice);
        out.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(ELEMENT_INDENT);
        element(&mut out, remedies, prices, t)?;
    }
    Ok(out)
}

/// Writes the elements of the `turns` array, as `serde_json`'s pretty printer would between its
/// `[` and `]` at this depth: each element on a new line after a comma, the closing bracket on a
/// line of its own (nothing between the brackets for no turns).
pub(super) fn write_elements(
    out: &mut impl Write,
    ledger: &Ledger,
    prices: &Prices,
) -> io::Result<()> {
    write_chunked(out, ledger, prices, CHUNK)
}

/// [`write_elements`], `chunk` turns at a time.
fn write_chunked(
    out: &mut impl Write,
    ledger: &Ledger,
    prices: &Prices,
    chunk: usize,
) -> io::Result<()> {
    let mut elements = Elements::new(out);
    for turns in ledger.turns().chunks(chunk.max(1)) {
        let remedies: Vec<Vec<Remedy>> = turns.iter().map(|t| ledger.remedies(t)).collect();
        elements.write(&remedies, prices, turns)?;
    }
    elements.end().map(|_| ())
}

/// The elements of the `turns` array as turns come (in order, a few at a time): what
/// [`write_elements`] writes for a whole ledger, for turns a ledger retires as it folds.
pub struct Elements<W: Write> {
    out: W,
    any: bool,
}

impl<W: Write> Elements<W> {
    /// Elements written to `out`.
    pub fn new(out: W) -> Self {
        Elements { out, any: false }
    }

    /// Writes `turns` (the next in turn order), each with its `remedies` (one list per turn,
    /// [`Ledger::remedies`]), pretty-printed on all cores, copied out in order.
    pub fn write(
        &mut self,
        remedies: &[Vec<Remedy>],
        prices: &Prices,
        turns: &[Turn],
    ) -> io::Result<()> {
        for (n, chunk) in turns.chunks(CHUNK).enumerate() {
            let base = n * CHUNK;
            let size = piece(chunk.len());
            let first = !self.any;
            let written: Vec<io::Result<Vec<u8>>> = chunk
                .par_chunks(size)
                .enumerate()
                .map(|(p, turns)| {
                    let at = base + p * size;
                    elements(first && p == 0, turns, remedies.get(at..), prices)
                })
                .collect();
            for bytes in written {
                self.out.write_all(&bytes?)?;
            }
            self.any |= !chunk.is_empty();
        }
        Ok(())
    }

    /// [`Elements::write`] on this thread: for a caller whose other cores are busy already
    /// (`stats` writes a batch's retired turns while its other threads read the next batches).
    pub fn write_here(
        &mut self,
        remedies: &[Vec<Remedy>],
        prices: &Prices,
        turns: &[Turn],
    ) -> io::Result<()> {
        let bytes = elements(!self.any, turns, Some(remedies), prices)?;
        self.out.write_all(&bytes)?;
        self.any |= !turns.is_empty();
        Ok(())
    }

    /// Ends the elements (the line break before the closing bracket, when there were any) and
    /// gives the writer back.
    pub fn end(mut self) -> io::Result<W> {
        if self.any {
            self.out.write_all(b"\n  ")?;
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::cost::{TurnCost, turn_cost};
    use crate::ledger::{Cause, ConnEvent, SendMode, ToolCall, TurnStatus};
    use serde_json::{Value, json};

    /// The element as it was once built: a `Value` tree (its maps sort their keys), the reference
    /// the streamed element must reproduce byte for byte.
    fn turn_value(ledger: &Ledger, prices: &Prices, t: &Turn) -> Value {
        let error = match &t.status {
            TurnStatus::Error { code, message } => json!({"code": code, "message": message}),
            _ => Value::Null,
        };
        let incomplete_reason = match &t.status {
            TurnStatus::Incomplete { reason } => json!(reason),
            _ => Value::Null,
        };
        let cost = turn_cost(prices, t);
        json!({
            "index": t.index,
            "conn": t.conn,
            "lane": t.lane,
            "status": t.status.label(),
            "incomplete_reason": incomplete_reason,
            "error": error,
            "response_id": t.response_id,
            "previous_response_id": t.previous_response_id,
            "store": t.store,
            "generate": t.generate,
            "steered_successor": t.steered_successor,
            "marks": t.marks(),
            "model": t.model,
            "incremental": t.incremental,
            "full_context": t.full_context,
            "saved": {"bytes": t.saved_bytes(), "tokens": t.saved_tokens(), "pct_bytes": super::super::round2(t.saved_pct())},
            "cached_tokens": t.cached_tokens(),
            "input_tokens": t.usage.as_ref().map(|u| u.input_tokens),
            "output_tokens": t.usage.as_ref().map(|u| u.output_tokens),
            "conn_context_tokens": t.cache_estimate_tokens,
            "context_tokens": t.context_tokens,
            "latency_us": {
                "created": t.latency_created_us(),
                "ttft": t.ttft_us(),
                "first_item": t.first_item_latency_us(),
                "total": t.latency_total_us(),
            },
            "gap_us": t.gap_us,
            "tool_calls": t.tool_calls,
            "steers": t.steers,
            "transport": t.transport,
            "prefix": t.prefix,
            "insight": t.insight,
            "remedies": ledger.remedies(t),
            "cost": match &cost {
                TurnCost::Priced(c) => json!({
                    "usd": super::super::usd(c.total_usd),
                    "uncached_input_usd": super::super::usd(c.uncached_input_usd),
                    "cached_input_usd": super::super::usd(c.cached_input_usd),
                    "output_usd": super::super::usd(c.output_usd),
                }),
                _ => Value::Null,
            },
            "cost_text": cost.text(),
        })
    }

    /// What the tree of `turns` prints between the brackets of a `turns` array one level into
    /// the document, through the redacting formatter.
    fn tree_elements(ledger: &Ledger, prices: &Prices, turns: &[Turn]) -> String {
        let values: Vec<Value> = turns
            .iter()
            .map(|t| turn_value(ledger, prices, t))
            .collect();
        let mut whole = Vec::new();
        let formatter = RedactingFormatter::new(serde_json::ser::PrettyFormatter::new());
        let mut ser = serde_json::Serializer::with_formatter(&mut whole, formatter);
        json!({ "turns": values }).serialize(&mut ser).unwrap();
        let whole = String::from_utf8(whole).unwrap();
        whole
            .strip_prefix("{\n  \"turns\": [")
            .and_then(|w| w.strip_suffix("]\n}"))
            .unwrap()
            .to_owned()
    }

    fn fixtures() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    /// The elements written in chunks on all cores are, byte for byte, what `serde_json`'s pretty
    /// printer makes of the turns' `Value` trees in the whole array at the report's depth, for
    /// chunks that split the turns anywhere; keys in a fixture are redacted the same way.
    #[test]
    fn chunked_elements_are_the_pretty_printers_bytes() {
        let prices = Prices::builtin();
        let mut turns_seen = 0;
        let dir = fixtures();
        let mut paths: Vec<std::path::PathBuf> =
            [dir.clone(), dir.join("real"), dir.join("stats_golden")]
                .iter()
                .flat_map(|d| std::fs::read_dir(d).unwrap())
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "tsjsonl"))
                .collect();
        paths.sort();
        assert!(paths.len() >= 10, "fixtures not found in {}", dir.display());
        for path in &paths {
            let name = path.display();
            let (_, frames, _) = crate::transcript::read_all(path).unwrap();
            let ledger = Ledger::from_frames(&frames);
            turns_seen += ledger.turns().len();
            let inner = tree_elements(&ledger, &prices, ledger.turns());
            for chunk in [1, 2, 3, PIECE + 1, CHUNK] {
                let mut out = Vec::new();
                write_chunked(&mut out, &ledger, &prices, chunk).unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    inner,
                    "{name}, chunk {chunk}"
                );
            }
        }
        assert!(
            turns_seen > 6,
            "the fixtures have turns to split into chunks"
        );
    }

    /// Every variant the element writes by hand — statuses, send modes, causes, events, priced
    /// and unpriced costs, tool calls, remedies, a lane, marks — prints as the tree did, secrets
    /// masked in both; more turns than a piece, so the pieces join as the array does.
    #[test]
    fn every_variant_prints_as_the_tree_did() {
        const KEY: &str = "sk-proj-ELEMENTTESTKEY0123456789abcd";
        let prices = Prices::builtin();
        // A known client, so that its turns have remedies.
        let (_, mut frames, _) =
            crate::transcript::read_all(&fixtures().join("cause_tools_reordered.tsjsonl")).unwrap();
        let client = json!({"event": "client", "headers": {"user-agent": "OpenAI/Python 3.51.0"}});
        frames.insert(1, crate::frame::Frame::meta(0, String::new(), 0, &client));
        let ledger = Ledger::from_frames(&frames);
        let base = ledger.turns()[1].clone();
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let causes = [
            Cause::InstructionsChanged,
            Cause::ToolsChanged {
                added: names(&["a"]),
                removed: names(&["b", "c"]),
                changed: names(&[]),
            },
            Cause::ToolsReordered {
                from: names(&["x", "y"]),
                to: names(&["y", "x"]),
            },
            Cause::ModelChanged {
                from: None,
                to: Some("gpt-5.1".into()),
            },
            Cause::ReasoningChanged,
            Cause::TextChanged,
            Cause::NewConnection { from: 0, to: 1 },
            Cause::StoreFalseAfterReconnect,
            Cause::Compaction,
            Cause::Unknown,
        ];
        let events = [
            ConnEvent::Reconnect {
                code: Some(1006),
                reason: Some(format!("closed {KEY}")),
            },
            ConnEvent::Reconnect {
                code: None,
                reason: None,
            },
            ConnEvent::AgeLimit,
            ConnEvent::ResendAfterNotFound { after: 3 },
            ConnEvent::HttpFallback,
        ];
        let statuses = [
            TurnStatus::Queued,
            TurnStatus::InFlight,
            TurnStatus::Completed,
            TurnStatus::Failed,
            TurnStatus::Incomplete {
                reason: Some("max_output_tokens".into()),
            },
            TurnStatus::Incomplete { reason: None },
            TurnStatus::Error {
                code: Some("server_error".into()),
                message: format!("key {KEY} \"quoted\"\n"),
            },
            TurnStatus::Error {
                code: None,
                message: String::new(),
            },
            TurnStatus::Dropped,
            TurnStatus::NotSent,
        ];
        let mut turns = Vec::new();
        for (n, status) in statuses.into_iter().enumerate() {
            let mut t = base.clone();
            t.index = n + 1;
            t.status = status;
            t.insight.mode = match n % 3 {
                0 => SendMode::Fresh,
                1 => SendMode::Incremental,
                _ => SendMode::FullResend {
                    reason: format!("resent {n}"),
                    known_items: 2,
                    known_bytes: 300 + n as u64,
                    known_tokens: 70,
                },
            };
            t.insight.causes = causes[n % causes.len()..].to_vec();
            t.insight.events = events[n % events.len()..].to_vec();
            t.insight.retry_safe = [None, Some(true), Some(false)][n % 3];
            t.lane = (n % 2 == 0).then(|| format!("lane-{n}"));
            t.steers = u32::try_from(n % 2).unwrap();
            t.steered_successor = n % 3 == 2;
            t.generate = n % 4 != 1;
            t.intervention.edited = n % 3 == 0;
            t.intervention.dropped = n % 5 == 0;
            t.model = Some(["gpt-5.1", "gpt-test", "gpt-5-mini"][n % 3].to_owned());
            if n % 4 == 3 {
                t.usage = None;
            }
            t.tool_calls = vec![ToolCall {
                call_id: format!("call_{n}"),
                name: "read_file".into(),
                arguments: format!(r#"{{"path":"README.md","api_key":"{KEY}"}}"#),
            }];
            t.full_context.bytes = if n == 5 { 0 } else { t.full_context.bytes };
            t.incremental.bytes += n as u64 * 1000;
            turns.push(t);
        }
        let many: Vec<Turn> = turns.iter().cycle().take(PIECE * 2 + 3).cloned().collect();
        let want = tree_elements(&ledger, &prices, &many);
        let mut out = Vec::new();
        let mut elements = Elements::new(&mut out);
        let remedies: Vec<Vec<Remedy>> = many.iter().map(|t| ledger.remedies(t)).collect();
        elements.write(&remedies, &prices, &many).unwrap();
        elements.end().unwrap();
        let got = String::from_utf8(out).unwrap();
        assert_eq!(got, want);
        for seen in [
            "\"verdict\"",
            "\"uncached_input_usd\"",
            "known_tokens",
            "resend_after_not_found",
            "\"removed\"",
            "max_output_tokens",
            "\"lane-0\"",
            "after-steer",
            "\"cost\": null",
        ] {
            assert!(got.contains(seen), "no {seen} in the elements");
        }
        assert!(!got.contains("ELEMENTTESTKEY"), "a key was written");
    }
}
