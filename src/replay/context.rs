//! A turn's context rebuilt from the index (only the frames along its chain are read), and
//! line diffs of two contexts or of a request against its HTTP-mode equivalent.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::Index;
use crate::frame::Frame;
use crate::ledger::Ledger;
use crate::protocol::ClientEvent;

/// The frame at the ledger's frame number `k`.
pub fn ledger_frame(index: &Index, k: u64) -> Option<Frame> {
    index.get(index.position_of_frame(k)).ok().map(|e| e.frame)
}

/// The `response.create` a turn sent, as text.
pub fn request_text(index: &Index, ledger: &Ledger, turn: usize) -> Option<String> {
    let k = ledger.turns().get(turn)?.request_frame?;
    ledger_frame(index, k)?.payload.json().map(str::to_owned)
}

fn input_items(index: &Index, ledger: &Ledger, turn: usize) -> Vec<Value> {
    match request_text(index, ledger, turn).map(|t| ClientEvent::parse(&t)) {
        Some(Ok(ClientEvent::Create(c))) => c.input_items(),
        _ => Vec::new(),
    }
}

/// The output items of a turn's response, from its last event that carries the response.
fn output_items(index: &Index, ledger: &Ledger, turn: usize) -> Vec<Value> {
    let Some(t) = ledger.turns().get(turn) else {
        return Vec::new();
    };
    for &k in t.frames.iter().rev() {
        let Some(text) = ledger_frame(index, k).and_then(|f| f.payload.json().map(str::to_owned))
        else {
            continue;
        };
        if let Ok(v) = serde_json::from_str::<Value>(&text)
            && let Some(items) = v["response"]["output"].as_array()
        {
            return items.clone();
        }
    }
    Vec::new()
}

/// Every item HTTP mode would send as `input` for `turn`: each ancestor's input and output
/// along the `previous_response_id` chain, then the turn's own input.
pub fn context_items(index: &Index, ledger: &Ledger, turn: usize) -> Vec<Value> {
    if turn >= ledger.turns().len() {
        return Vec::new();
    }
    let chain = ledger.chain_of(turn);
    let mut items = Vec::new();
    for &t in &chain {
        items.extend(input_items(index, ledger, t));
        if t != turn {
            items.extend(output_items(index, ledger, t));
        }
    }
    items
}

/// The request HTTP mode would have sent for `turn`: the create as sent, without
/// `previous_response_id` and `type`, with the whole context as `input`.
pub fn http_request(index: &Index, ledger: &Ledger, turn: usize) -> Option<String> {
    let text = request_text(index, ledger, turn)?;
    let mut v: Value = serde_json::from_str(&text).ok()?;
    let obj = v.as_object_mut()?;
    obj.remove("previous_response_id");
    obj.remove("type");
    obj.insert(
        "input".into(),
        Value::Array(context_items(index, ledger, turn)),
    );
    serde_json::to_string(&v).ok()
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
    let left = item_lines(&context_items(index, ledger, a));
    let right = item_lines(&context_items(index, ledger, b));
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
    let sent = request_text(index, ledger, turn)?;
    let http = http_request(index, ledger, turn)?;
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
