//! Pretty-prints JSON text as sent (key order kept), folding long strings.

use crate::frame::Payload;

/// Indents `text` two spaces per level; strings longer than `fold` characters are cut to
/// their start plus `…(+N chars)`. Text that is not JSON is laid out by its brackets and commas
/// all the same, its spaces outside quotes dropped: show a frame's body with [`body_lines`].
pub fn pretty(text: &str, fold: usize) -> Vec<String> {
    pretty_with(text, fold, &|_| false).lines
}

/// A frame's body as the Frames views (live and replay) show it: JSON through [`pretty`], a text
/// frame (or the message of a body that cannot be read back) as it is, line by line.
pub fn body_lines(payload: &Payload, fold: usize) -> Vec<String> {
    match payload {
        Payload::Text(text) => text.lines().map(str::to_owned).collect(),
        other => pretty(&String::from_utf8_lossy(other.as_bytes()), fold),
    }
}

/// [`pretty`]'s lines and where its long strings are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pretty {
    /// The indented lines.
    pub lines: Vec<String>,
    /// For each string longer than the fold length, in order: the line it is on.
    pub long_starts: Vec<usize>,
}

/// [`pretty`], except that long string number `n` (in order) is shown whole when `whole(n)`.
pub fn pretty_with(text: &str, fold: usize, whole: &dyn Fn(usize) -> bool) -> Pretty {
    let mut long_starts = Vec::new();
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut depth: usize = 0;
    let mut chars = text.chars().peekable();
    let newline = |lines: &mut Vec<String>, cur: &mut String, depth: usize| {
        lines.push(std::mem::take(cur));
        cur.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::from('"');
                let mut escaped = false;
                for d in chars.by_ref() {
                    s.push(d);
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        break;
                    }
                }
                if s.chars().count().saturating_sub(2) > fold {
                    let n = long_starts.len();
                    long_starts.push(lines.len());
                    if whole(n) {
                        cur.push_str(&s);
                        continue;
                    }
                }
                cur.push_str(&fold_string(&s, fold));
            }
            '{' | '[' => {
                cur.push(c);
                let close = if c == '{' { '}' } else { ']' };
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if chars.peek() == Some(&close) {
                    chars.next();
                    cur.push(close);
                } else {
                    depth += 1;
                    newline(&mut lines, &mut cur, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut lines, &mut cur, depth);
                cur.push(c);
            }
            ',' => {
                cur.push(',');
                newline(&mut lines, &mut cur, depth);
            }
            ':' => cur.push_str(": "),
            c if c.is_whitespace() => {}
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        lines.push(cur);
    }
    Pretty { lines, long_starts }
}

/// `"abc…(+1234 chars)"` for a quoted string longer than `fold` characters.
fn fold_string(quoted: &str, fold: usize) -> String {
    let n = quoted.chars().count().saturating_sub(2);
    if n <= fold {
        return quoted.to_owned();
    }
    let keep = fold.max(8);
    let head: String = quoted.chars().skip(1).take(keep).collect();
    format!("\"{head}…(+{} chars)\"", n - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_folds_long_strings() {
        let long = "x".repeat(50);
        let text = format!(
            r#"{{"type":"response.create","input":[{{"content":"{long}","a":[]}}],"b":{{}}}}"#
        );
        let out = pretty(&text, 20);
        assert_eq!(
            out,
            vec![
                "{",
                "  \"type\": \"response.create\",",
                "  \"input\": [",
                "    {",
                "      \"content\": \"xxxxxxxxxxxxxxxxxxxx…(+30 chars)\",",
                "      \"a\": []",
                "    }",
                "  ],",
                "  \"b\": {}",
                "}",
            ]
        );
    }

    #[test]
    fn long_strings_are_found_and_shown_whole_on_request() {
        let long = "y".repeat(30);
        let text = format!(r#"{{"a":"{long}","b":"short","c":["{long}"]}}"#);
        let folded = pretty_with(&text, 20, &|_| false);
        assert_eq!(folded.long_starts, vec![1, 4]);
        assert!(
            folded.lines[1].contains("…(+10 chars)"),
            "{:?}",
            folded.lines
        );
        let second = pretty_with(&text, 20, &|n| n == 1);
        assert!(second.lines[1].contains('…'));
        assert_eq!(second.lines[4], format!("    \"{long}\""));
        assert_eq!(pretty(&text, 20), folded.lines);
    }

    #[test]
    fn escaped_quotes_stay_inside_strings() {
        let out = pretty(r#"{"a":"say \"hi\", ok"}"#, 100);
        assert_eq!(out[1], r#"  "a": "say \"hi\", ok""#);
    }
}
