//! The `turns` array of `stats --json`, its elements written on all cores in turn order.
//!
//! Each turn's JSON is independent of the others', and writing it (building its value, redacting
//! and pretty-printing every string) was a third of `stats --json`'s CPU after the fold, all on
//! one core. Turns are written a chunk at a time on all cores into buffers, then copied out in
//! order, so the bytes are those the one-pass serializer wrote and memory holds one chunk.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use super::{turn_json, usd_json};
use crate::ledger::cost::{Prices, TurnCost, turn_cost};
use crate::ledger::{Ledger, Turn};
use crate::secrets::RedactingFormatter;

/// Turns written per parallel step: enough for every core to have work, few enough that the
/// buffers stay small (a turn is ~2 KB of pretty JSON).
const CHUNK: usize = 512;

/// What a pretty-printed element of `turns` is indented by: the array sits in the document's
/// top-level object, two levels of two spaces deep.
const ELEMENT_INDENT: &[u8] = b"    ";

/// One turn's `stats --json` value: its figures, remedies and cost.
fn turn_value(ledger: &Ledger, prices: &Prices, t: &Turn) -> Value {
    let mut v = turn_json(t);
    v["remedies"] = json!(ledger.remedies(t));
    let cost = turn_cost(prices, t);
    v["cost"] = match &cost {
        TurnCost::Priced(c) => usd_json(c),
        _ => Value::Null,
    };
    v["cost_text"] = json!(cost.text());
    v
}

/// One turn as an element of the pretty-printed `turns` array (without the separator before
/// it): pretty-printed on its own, every line after the first indented to the array's depth.
/// JSON strings hold no raw newline, so every `\n` is a line break of the printer's.
fn element(ledger: &Ledger, prices: &Prices, t: &Turn) -> io::Result<Vec<u8>> {
    let mut flat = Vec::with_capacity(2048);
    let formatter = RedactingFormatter::new(serde_json::ser::PrettyFormatter::new());
    let mut ser = serde_json::Serializer::with_formatter(&mut flat, formatter);
    turn_value(ledger, prices, t)
        .serialize(&mut ser)
        .map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(flat.len() + flat.len() / 8);
    for (i, line) in flat.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
            out.extend_from_slice(ELEMENT_INDENT);
        }
        out.extend_from_slice(line);
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
        elements.write(ledger, prices, turns)?;
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

    /// Writes `turns` (the next in turn order, of `ledger`, whose client names their remedies),
    /// pretty-printed on all cores, copied out in order.
    pub fn write(&mut self, ledger: &Ledger, prices: &Prices, turns: &[Turn]) -> io::Result<()> {
        for chunk in turns.chunks(CHUNK) {
            let written: Vec<io::Result<Vec<u8>>> = chunk
                .par_iter()
                .map(|t| element(ledger, prices, t))
                .collect();
            for bytes in written {
                self.out.write_all(if self.any { b",\n" } else { b"\n" })?;
                self.any = true;
                self.out.write_all(ELEMENT_INDENT)?;
                self.out.write_all(&bytes?)?;
            }
        }
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

    /// The elements written in chunks on all cores are, byte for byte, what `serde_json`'s pretty
    /// printer makes of the whole array at the report's depth, for chunks that split the turns
    /// anywhere; keys in a fixture are redacted the same way.
    #[test]
    fn chunked_elements_are_the_pretty_printers_bytes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let prices = Prices::builtin();
        let mut turns_seen = 0;
        for name in [
            "leaky.tsjsonl",
            "tool_loop.tsjsonl",
            "two_lanes.tsjsonl",
            "reconnect_store_false.tsjsonl",
        ] {
            let path = dir.join("stats_golden").join(name);
            let path = if path.exists() { path } else { dir.join(name) };
            let (_, frames, _) = crate::transcript::read_all(&path).unwrap();
            let ledger = Ledger::from_frames(&frames);
            turns_seen += ledger.turns().len();
            let values: Vec<Value> = ledger
                .turns()
                .iter()
                .map(|t| turn_value(&ledger, &prices, t))
                .collect();
            let mut whole = Vec::new();
            let formatter = RedactingFormatter::new(serde_json::ser::PrettyFormatter::new());
            let mut ser = serde_json::Serializer::with_formatter(&mut whole, formatter);
            json!({ "turns": values }).serialize(&mut ser).unwrap();
            let whole = String::from_utf8(whole).unwrap();
            let inner = whole
                .strip_prefix("{\n  \"turns\": [")
                .and_then(|w| w.strip_suffix("]\n}"))
                .unwrap();
            for chunk in [1, 2, 3, CHUNK] {
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
}
