//! `stats` over many recordings: one row per file, then totals (table or streamed JSON).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{STATS_SCHEMA, cost_json, fmt_bytes, round2, totals_json};
use crate::ledger::cost::{SessionCost, fmt_usd};
use crate::ledger::{Ledger, Totals};

/// One recording's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    /// The file, as named on the command line (or found in a directory).
    pub file: String,
    /// Frames folded.
    pub frames: u64,
    /// Connections seen.
    pub connections: usize,
    /// Lines skipped as unreadable.
    pub skipped_lines: usize,
    /// The ledger's totals.
    pub totals: Totals,
    /// What its turns cost.
    pub cost: SessionCost,
}

impl FileSummary {
    /// The figures of `ledger`, folded from `file`, its turns (which may have left it) costing
    /// `cost`.
    pub fn of(file: &str, ledger: &Ledger, skipped_lines: usize, cost: SessionCost) -> Self {
        FileSummary {
            file: file.to_owned(),
            frames: ledger.frame_count(),
            connections: ledger.connections().len(),
            skipped_lines,
            totals: *ledger.totals(),
            cost,
        }
    }
}

/// The sum over many files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManyTotals {
    /// Files summarised.
    pub files: usize,
    /// Frames folded.
    pub frames: u64,
    /// Connections seen.
    pub connections: usize,
    /// Lines skipped.
    pub skipped_lines: usize,
    /// Every file's totals added up.
    pub totals: Totals,
    /// Every file's cost added up.
    pub cost: SessionCost,
}

impl ManyTotals {
    /// Adds one file.
    pub fn add(&mut self, s: &FileSummary) {
        self.files += 1;
        self.frames += s.frames;
        self.connections += s.connections;
        self.skipped_lines += s.skipped_lines;
        self.totals.add(&s.totals);
        self.cost.add(&s.cost);
    }
}

/// The opening of the streamed `stats --json` document for many files; rows follow, each
/// from [`summary_row_json`], then [`summary_json_end`].
pub fn summary_json_start() -> String {
    format!("{{\n  \"schema\": {STATS_SCHEMA},\n  \"files\": [")
}

/// One file's row in the many-files JSON (`first`: no comma before it).
pub fn summary_row_json(s: &FileSummary, first: bool) -> String {
    let row = json!({
        "file": s.file,
        "frames": s.frames,
        "connections": s.connections,
        "skipped_lines": s.skipped_lines,
        "totals": totals_json(&s.totals),
        "cost": cost_json(&s.cost),
    });
    format!("{}\n    {}", if first { "" } else { "," }, compact(&row))
}

/// The end of the many-files JSON: the totals over all files.
pub fn summary_json_end(all: &ManyTotals, any_row: bool) -> String {
    let totals = json!({
        "files": all.files,
        "frames": all.frames,
        "connections": all.connections,
        "skipped_lines": all.skipped_lines,
        "totals": totals_json(&all.totals),
        "cost": cost_json(&all.cost),
    });
    format!(
        "{}],\n  \"totals\": {}\n}}\n",
        if any_row { "\n  " } else { "" },
        compact(&totals)
    )
}

fn compact(v: &Value) -> String {
    v.to_string()
}

/// The header line of the many-files table.
pub fn summary_table_header() -> String {
    format!(
        "{:<32} {:>6} {:>5} {:>9} {:>9} {:>7} {:>12} {:>12} {:>6} {:>6} {:>9}\n",
        "file",
        "turns",
        "conns",
        "sent",
        "full",
        "saved",
        "saved tokens",
        super::PROMPT_CACHE,
        "tools",
        "errors",
        "cost"
    )
}

/// One file's row in the table.
pub fn summary_table_row(s: &FileSummary) -> String {
    row(&s.file, s.connections, &s.totals, &s.cost)
}

/// The totals line of the table.
pub fn summary_table_total(all: &ManyTotals) -> String {
    let mut out = row(
        &format!("total ({} files)", all.files),
        all.connections,
        &all.totals,
        &all.cost,
    );
    if all.skipped_lines > 0 {
        let _ = writeln!(
            out,
            "{} skipped",
            super::counted(all.skipped_lines, "unreadable line")
        );
    }
    if !all.cost.unpriced.is_empty() {
        let _ = writeln!(out, "cost {}", all.cost.text());
    }
    out
}

fn row(name: &str, connections: usize, t: &Totals, cost: &SessionCost) -> String {
    format!(
        "{:<32} {:>6} {:>5} {:>9} {:>9} {:>6.1}% {:>12} {:>12} {:>6} {:>6} {:>9}\n",
        left_truncate(name, 32),
        t.turns,
        connections,
        fmt_bytes(t.incremental.bytes),
        fmt_bytes(t.full_context.bytes),
        round2(t.saved_pct()),
        t.saved_tokens(),
        super::fmt_tokens(t.cached_tokens),
        t.tool_calls,
        t.errors,
        cost.total_usd().map_or_else(|| "n/a".into(), fmt_usd),
    )
}

/// Keeps the end of a long path, where the file's own name is.
fn left_truncate(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        s.to_owned()
    } else {
        std::iter::once('…')
            .chain(s.chars().skip(count - n + 1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_files_json_is_one_valid_document() {
        let mut s = FileSummary {
            file: "a.tsjsonl".into(),
            frames: 10,
            connections: 1,
            skipped_lines: 0,
            totals: Totals::default(),
            cost: SessionCost::default(),
        };
        s.totals.turns = 2;
        let mut all = ManyTotals::default();
        let mut doc = summary_json_start();
        for (i, name) in ["a", "b"].iter().enumerate() {
            s.file = (*name).into();
            all.add(&s);
            doc.push_str(&summary_row_json(&s, i == 0));
        }
        doc.push_str(&summary_json_end(&all, true));
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["files"][1]["file"], "b");
        assert_eq!(v["totals"]["files"], 2);
        assert_eq!(v["totals"]["totals"]["turns"], 4);
        let empty = format!(
            "{}{}",
            summary_json_start(),
            summary_json_end(&ManyTotals::default(), false)
        );
        assert_eq!(
            serde_json::from_str::<Value>(&empty).unwrap()["files"],
            json!([])
        );
    }

    #[test]
    fn long_names_keep_their_end() {
        assert_eq!(left_truncate("abcdef", 4), "…def");
        assert_eq!(left_truncate("abc", 4), "abc");
    }
}
