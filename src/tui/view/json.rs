//! Pretty-prints JSON text as sent (key order kept), folding long strings.

/// Indents `text` two spaces per level; strings longer than `fold` characters are cut to
/// their start plus `…(+N chars)`. Invalid JSON comes out as-is, split on line breaks.
pub fn pretty(text: &str, fold: usize) -> Vec<String> {
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
    lines
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
    fn escaped_quotes_stay_inside_strings() {
        let out = pretty(r#"{"a":"say \"hi\", ok"}"#, 100);
        assert_eq!(out[1], r#"  "a": "say \"hi\", ok""#);
    }
}
