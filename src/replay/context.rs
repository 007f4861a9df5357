//! Line diffs of two turns' contexts, or of a request against its HTTP-mode equivalent; the
//! contexts come from the ledger's one rebuild, reading only the chain's frames from the index.

use std::borrow::Cow;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::Index;
use crate::frame::Frame;
use crate::ledger::Ledger;
use crate::ledger::context::{FrameSource, context_for, http_request, request_text};

/// The frame at the ledger's frame number `k`.
pub fn ledger_frame(index: &Index, k: u64) -> Option<Frame> {
    index.get(index.position_of_frame(k)).ok().map(|e| e.frame)
}

impl FrameSource for Index {
    fn json(&self, k: u64) -> Option<Cow<'_, str>> {
        ledger_frame(self, k)?
            .payload
            .json()
            .map(|s| Cow::Owned(s.to_owned()))
    }
}

/// How a diff line changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// On both sides.
    Same,
    /// Only on the left.
    Removed,
    /// Only on the right.
    Added,
    /// Padding opposite a one-sided line.
    Blank,
}

/// One row of a side-by-side diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    /// Left text and change.
    pub left: (String, Change),
    /// Right text and change.
    pub right: (String, Change),
}

/// A diff ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    /// What is compared.
    pub title: String,
    /// Left column title.
    pub left: String,
    /// Right column title.
    pub right: String,
    /// Rows.
    pub rows: Vec<DiffRow>,
    /// Lines only on the left / only on the right.
    pub removed: usize,
    /// Lines only on the right.
    pub added: usize,
}

/// Lines to diff for a list of items: one compact JSON item per line.
pub fn item_lines(items: &[Value]) -> Vec<String> {
    items.iter().map(Value::to_string).collect()
}

/// Lines to diff for a JSON document: pretty-printed, keys in their order.
pub fn json_lines(text: &str) -> Vec<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => serde_json::to_string_pretty(&v)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect(),
        Err(_) => text.lines().map(str::to_owned).collect(),
    }
}

/// A side-by-side line diff: unchanged lines face each other, a removal faces an addition
/// where they pair up, otherwise a blank.
pub fn side_by_side(left: &[String], right: &[String]) -> (Vec<DiffRow>, usize, usize) {
    // Every line ends in a newline, so a last line is not "changed" by gaining a successor.
    let l: String = left.iter().map(|s| format!("{s}\n")).collect();
    let r: String = right.iter().map(|s| format!("{s}\n")).collect();
    let diff = TextDiff::from_lines(&l, &r);
    let mut rows = Vec::new();
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let (mut n_removed, mut n_added) = (0, 0);
    let flush = |rows: &mut Vec<DiffRow>, removed: &mut Vec<String>, added: &mut Vec<String>| {
        let n = removed.len().max(added.len());
        let mut rem = removed.drain(..);
        let mut add = added.drain(..);
        for _ in 0..n {
            rows.push(DiffRow {
                left: rem
                    .next()
                    .map_or((String::new(), Change::Blank), |s| (s, Change::Removed)),
                right: add
                    .next()
                    .map_or((String::new(), Change::Blank), |s| (s, Change::Added)),
            });
        }
    };
    for change in diff.iter_all_changes() {
        let text = change.value().trim_end_matches('\n').to_owned();
        match change.tag() {
            ChangeTag::Equal => {
                flush(&mut rows, &mut removed, &mut added);
                rows.push(DiffRow {
                    left: (text.clone(), Change::Same),
                    right: (text, Change::Same),
                });
            }
            ChangeTag::Delete => {
                n_removed += 1;
                removed.push(text);
            }
            ChangeTag::Insert => {
                n_added += 1;
                added.push(text);
            }
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    (rows, n_removed, n_added)
}

/// The contexts of two turns (0-based), side by side.
pub fn contexts(index: &Index, ledger: &Ledger, a: usize, b: usize) -> Diff {
    let left = item_lines(&context_for(ledger, index, a));
    let right = item_lines(&context_for(ledger, index, b));
    let (rows, removed, added) = side_by_side(&left, &right);
    Diff {
        title: format!("context of turn {} vs turn {}", a + 1, b + 1),
        left: format!("turn {} · {} items", a + 1, left.len()),
        right: format!("turn {} · {} items", b + 1, right.len()),
        rows,
        removed,
        added,
    }
}

/// A turn's request as sent against what HTTP mode would have sent.
pub fn request_vs_http(index: &Index, ledger: &Ledger, turn: usize) -> Option<Diff> {
    let sent = request_text(ledger, index, turn)?;
    let http = http_request(ledger, index, turn)?;
    let left = json_lines(&sent);
    let right = json_lines(&http);
    let (rows, removed, added) = side_by_side(&left, &right);
    Some(Diff {
        title: format!("turn {}: WebSocket request vs HTTP-mode request", turn + 1),
        left: format!("sent · {} bytes", sent.len()),
        right: format!("HTTP mode · {} bytes", http.len()),
        rows,
        removed,
        added,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn side_by_side_pairs_changes_and_counts_them() {
        let (rows, removed, added) =
            side_by_side(&lines(&["a", "b", "c"]), &lines(&["a", "B", "c", "d"]));
        assert_eq!((removed, added), (1, 2));
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1].left, ("b".into(), Change::Removed));
        assert_eq!(rows[1].right, ("B".into(), Change::Added));
        assert_eq!(rows[3].left.1, Change::Blank);
        assert_eq!(rows[3].right, ("d".into(), Change::Added));
    }
}
