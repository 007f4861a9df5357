//! Frame lines read in one checking pass, without serde, when they have the shape turnscope
//! writes (`{"t_us":…,"wall":"…","conn":…,"dir":"…","frame":{…}}`, keys in any order).
//!
//! serde_json spends most of a line's time checking the frame's bytes (a `RawValue`); this
//! pass checks them with the same rules (strings eight bytes at a time) and reads the five
//! fields as it goes. It only ever says "this is the line serde would read, and here it is" or
//! "ask serde": anything unusual — an escaped key, a missing, repeated or mistyped field, a
//! `text`/`binary`/`null` payload, nesting deeper than [`MAX_DEPTH`], any JSON error — returns
//! `None`, and the caller parses the line with serde, so errors and odd lines read exactly as
//! before (`tests`: every fixture line, cut and mangled lines, random lines, against serde).

use crate::frame::Dir;
use crate::protocol::head::scan::next_special;

/// Nesting the pass follows before it hands the line to serde (which has no limit for a
/// `RawValue`); bounds this pass's recursion.
const MAX_DEPTH: u32 = 128;

/// A frame line's fields, the frame's JSON borrowed from the line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct FastLine<'a> {
    pub t_us: u64,
    /// `None` when the line has no `wall` (serde's default).
    pub wall: Option<&'a str>,
    pub conn: u32,
    pub dir: Dir,
    pub frame: &'a str,
}

/// Reads `text` as a frame line holding a JSON frame; `None` when serde must decide.
pub(super) fn parse(text: &str) -> Option<FastLine<'_>> {
    as_written(text).or_else(|| any_order(text))
}

/// True when `text` is one JSON value that serde_json reads (whitespace around it allowed), by
/// this pass's checks; false when serde must decide: not JSON, or nested deeper than
/// [`MAX_DEPTH`]. The proxy's recorder classifies every relayed text frame with it (serde's
/// `RawValue` check of each frame was ~7 µs of a 200 B turn).
pub(crate) fn is_json(text: &str) -> bool {
    let mut c = Check::new(text.as_bytes());
    c.ws();
    if c.value(0).is_none() {
        return false;
    }
    c.ws();
    c.i == c.b.len()
}

/// The line exactly as turnscope's writer lays it out (fields in its order, no spaces): its
/// field names are matched as one literal each instead of read as keys.
fn as_written(text: &str) -> Option<FastLine<'_>> {
    let mut c = Check::new(text.as_bytes());
    c.literal(b"{\"t_us\":")?;
    let t_us = c.uint()?;
    c.literal(b",\"wall\":")?;
    let wall = c.plain_str(text)?;
    c.literal(b",\"conn\":")?;
    let conn = u32::try_from(c.uint()?).ok()?;
    c.literal(b",\"dir\":")?;
    let dir = dir(c.plain_str(text)?)?;
    c.literal(b",\"frame\":")?;
    let start = c.i;
    c.value(0)?;
    let frame = text.get(start..c.i).filter(|f| *f != "null")?;
    c.eat(b'}')?;
    c.ws();
    (c.i == c.b.len()).then_some(FastLine {
        t_us,
        wall: Some(wall),
        conn,
        dir,
        frame,
    })
}

fn dir(name: &str) -> Option<Dir> {
    match name {
        "sent" => Some(Dir::Sent),
        "recv" => Some(Dir::Recv),
        "meta" => Some(Dir::Meta),
        _ => None,
    }
}

/// The line with its fields in any order, spaced, or with fields serde skips.
fn any_order(text: &str) -> Option<FastLine<'_>> {
    let mut c = Check::new(text.as_bytes());
    c.ws();
    c.eat(b'{')?;
    c.ws();
    let (mut t_us, mut wall, mut conn, mut dir, mut frame) = (None, None, None, None, None);
    loop {
        let key = c.plain_str(text)?;
        c.ws();
        c.eat(b':')?;
        c.ws();
        let start = c.i;
        match key {
            "t_us" => set(&mut t_us, c.uint()?)?,
            "conn" => set(&mut conn, u32::try_from(c.uint()?).ok()?)?,
            "wall" => set(&mut wall, c.plain_str(text)?)?,
            "dir" => set(&mut dir, self::dir(c.plain_str(text)?)?)?,
            "frame" => {
                c.value(0)?;
                set(&mut frame, text.get(start..c.i)?)?;
            }
            // Other payloads (and their precedence) are serde's to read.
            "text" | "binary" => return None,
            // Unknown fields are skipped, as serde skips them, but still checked.
            _ => c.value(0)?,
        }
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    c.ws();
    if c.i != c.b.len() {
        return None;
    }
    let frame = frame.filter(|f| *f != "null")?;
    Some(FastLine {
        t_us: t_us?,
        wall,
        conn: conn.unwrap_or(0),
        dir: dir?,
        frame,
    })
}

/// Sets a field seen for the first time; a repeated field is serde's to refuse.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// A cursor checking JSON the way serde_json's parser does.
struct Check<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Check<'a> {
    fn new(b: &'a [u8]) -> Self {
        Check { b, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A string without escapes, its contents borrowed from `text` (the same bytes).
    fn plain_str(&mut self, text: &'a str) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        self.skip_plain();
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        text.get(start..self.i - 1)
    }

    /// Advances to the next `"`, `\` or control byte (or the end).
    fn skip_plain(&mut self) {
        self.i = next_special(self.b, self.i);
    }

    /// A string literal, checked: closed, escapes valid, no control characters.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.skip_plain();
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    // serde only checks the four hex digits here (surrogates are decoded, and
                    // judged, only when a string is read into a `String`).
                    b'u' => {
                        let hex = self.b.get(self.i..self.i + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.i += 4;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// An unsigned integer as serde reads a `u64` field: digits only, no leading zero, no
    /// fraction or exponent (those are floats to serde), no overflow.
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        let leading_zero = len > 1 && self.b.get(start) == Some(&b'0');
        if len == 0 || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(n)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            (self.digits() > 0).then_some(())?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        (self.b.get(self.i..self.i + word.len())? == word).then_some(())?;
        self.i += word.len();
        Some(())
    }

    /// Any JSON value, checked, at nesting `depth`.
    fn value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::reader::parse_line_serde;
    use proptest::prelude::*;

    /// Where the pass reads a line, serde reads the same line to the same fields; returns
    /// whether the pass read it.
    fn agrees(text: &str) -> bool {
        let Some(fast) = parse(text) else {
            return false;
        };
        if let Some(written) = as_written(text) {
            assert_eq!(Some(&written), any_order(text).as_ref(), "{text}");
        }
        let serde = parse_line_serde(text)
            .unwrap_or_else(|e| panic!("the pass read a line serde refuses ({e}): {text}"));
        let frame = match serde.clone().into_frame_ref().payload {
            crate::frame::PayloadRef::Json(f) => f,
            other => panic!("serde read {other:?} for {text}"),
        };
        assert_eq!(
            (
                fast.t_us,
                fast.wall.unwrap_or(""),
                fast.conn,
                fast.dir,
                fast.frame
            ),
            (serde.t_us, &*serde.wall, serde.conn, serde.dir, frame),
            "{text}"
        );
        true
    }

    fn fixture_lines() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut lines = Vec::new();
        for d in [dir.clone(), dir.join("real"), dir.join("stats_golden")] {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|x| x == "tsjsonl") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    lines.extend(text.lines().skip(1).map(str::to_owned));
                }
            }
        }
        lines
    }

    /// Every recorded fixture line the pass reads reads as serde reads it, and the pass does
    /// read the usual lines (a pass that always declined would pass the rest of these tests).
    #[test]
    fn fixture_lines_read_as_serde_reads_them() {
        let lines = fixture_lines();
        assert!(lines.len() > 500, "{} fixture lines", lines.len());
        let read = lines.iter().filter(|l| agrees(l)).count();
        let json = lines
            .iter()
            .filter(|l| {
                parse_line_serde(l).is_ok_and(|r| r.into_frame_ref().payload.json().is_some())
            })
            .count();
        assert_eq!(read, json, "the pass declined usual lines");
        // The writer's own layout is matched as literals (the quick path, not a fallback).
        let written = lines.iter().filter(|l| as_written(l).is_some()).count();
        assert_eq!(written, json, "the writer's layout was not matched");
    }

    /// Cut lines and lines with one byte changed: never read differently from serde, and
    /// never read when serde refuses them.
    #[test]
    fn cut_and_mangled_lines_read_as_serde_reads_them() {
        let mut lines: Vec<String> = fixture_lines().into_iter().step_by(23).take(40).collect();
        lines.push(
            r#"{"t_us":5,"conn":2,"dir":"recv","frame":{"a":[1,-2.5e+3,0,true,false,null,{}],"b":"\"\\\/\b\f\n\r\t\u00e9"},"x":[]}"#
                .into(),
        );
        let swaps = b"\"\\{}[],: 0-.eEuntx\x01\x1f\x7f";
        for line in &lines {
            for cut in (0..line.len()).filter(|&i| line.is_char_boundary(i)) {
                agrees(&line[..cut]);
            }
            for at in 0..line.len() {
                for &b in swaps {
                    let mut bytes = line.as_bytes().to_vec();
                    bytes[at] = b;
                    if let Ok(text) = String::from_utf8(bytes) {
                        agrees(&text);
                    }
                }
            }
        }
    }

    #[test]
    fn odd_lines_are_left_to_serde() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let deep_line = format!(r#"{{"t_us":1,"dir":"sent","frame":{deep}}}"#);
        for text in [
            r#"{"t_us":1.0,"dir":"sent","frame":{}}"#,
            r#"{"t_us":01,"dir":"sent","frame":{}}"#,
            r#"{"t_us":-1,"dir":"sent","frame":{}}"#,
            r#"{"t_us":18446744073709551616,"dir":"sent","frame":{}}"#,
            r#"{"t_us":1,"conn":4294967296,"dir":"sent","frame":{}}"#,
            r#"{"t_us":1,"dir":"SENT","frame":{}}"#,
            r#"{"t_us":1,"dir":"sent","frame":null,"text":"x"}"#,
            r#"{"t_us":1,"dir":"sent","frame":{},"text":"x"}"#,
            r#"{"t_us":1,"dir":"sent","frame":{},"t_us":2}"#,
            r#"{"t\u005fus":1,"dir":"sent","frame":{}}"#,
            r#"{"t_us":1,"wall":"a\"b","dir":"sent","frame":{}}"#,
            r#"{"t_us":1,"dir":"sent"}"#,
            r#"{"dir":"sent","frame":{}}"#,
            r#"{"t_us":1,"dir":"sent","frame":{}} x"#,
            r#"[1,"",0,"sent",{}]"#,
            r#"{"t_us":1,"dir":"sent","frame":"\ud800"}"#,
            "{\"t_us\":1,\"dir\":\"sent\",\"frame\":\"a\u{1}b\"}",
            &deep_line,
        ] {
            let read = agrees(text);
            let plain = text.contains(r#"\ud800"#);
            assert_eq!(read, plain, "{text}");
        }
        // Whitespace anywhere, keys in any order, unknown fields skipped: still the usual line.
        assert!(agrees(
            " { \"frame\" : { \"type\" : \"x\" } ,\t\"dir\":\"meta\",\r\n\"extra\":{\"k\":[1]},\"t_us\":7 } \n"
        ));
    }

    /// A JSON value of any shape (a strategy).
    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            "[ -~]{0,12}".prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-z\\\\\"]{0,4}", inner), 0..6).prop_map(|m| {
                    let members: Vec<String> = m
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\" : {v}"))
                        .collect();
                    format!("{{ {} }}", members.join(" , "))
                }),
            ]
        })
    }

    /// A string body's pieces: plain text, every escape serde accepts, escapes it refuses, raw
    /// control bytes (all of 0x00..=0x1F, and DEL, which is allowed), text past ASCII.
    fn string_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[ -~&&[^\"\\\\]]{0,20}",
            2 => prop::sample::select(vec![
                "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9",
                "\\uD83D\\uDE00", "\\ud800",
            ])
            .prop_map(str::to_owned),
            1 => prop::sample::select(vec!["\\x", "\\u12", "\\u12g4", "\\U0041", "\\", "\""])
                .prop_map(str::to_owned),
            1 => (0u8..0x20).prop_map(|b| char::from(b).to_string()),
            1 => Just("\u{7f}".to_owned()),
            1 => "\\PC{1,3}",
        ]
    }

    proptest! {
        /// Random frames, extra fields and field orders (and random bytes in place of JSON):
        /// the pass reads what serde reads.
        #[test]
        fn random_lines_read_as_serde_reads_them(
            frame in json(),
            extra in json(),
            order in 0usize..4,
            junk in "[ -~]{0,20}",
        ) {
            let mut fields = [
                "\"t_us\":12".to_owned(),
                "\"dir\":\"recv\"".to_owned(),
                format!("\"frame\":{frame}"),
                format!("\"other\":{extra}"),
            ];
            fields.rotate_left(order);
            let line = format!("{{{}}}", fields.join(","));
            let valid = |v: &str| serde_json::from_str::<serde_json::Value>(v).is_ok();
            prop_assert_eq!(agrees(&line), valid(&frame) && frame != "null" && valid(&extra));
            agrees(&format!("{{\"t_us\":1,\"dir\":\"sent\",\"frame\":{junk}}}"));
            // A value alone (none nests past the pass's limit): JSON to the pass exactly when
            // serde's `RawValue` reads it.
            let raw = |v: &str| serde_json::from_str::<&serde_json::value::RawValue>(v).is_ok();
            let half = frame.get(..frame.len() / 2).unwrap_or("");
            for text in [frame.as_str(), &format!(" {extra}\t"), &junk, half] {
                prop_assert_eq!(is_json(text), raw(text), "{:?}", text);
            }
        }

        /// Strings of every escape and control byte, at any offset in a block, nested 1 to 200
        /// deep in arrays or objects: the pass reads exactly the lines serde reads, up to its
        /// own nesting limit (deeper ones it leaves to serde).
        #[test]
        fn strings_and_nesting_read_as_serde_reads_them(
            pieces in prop::collection::vec(string_piece(), 0..12),
            pad in 0usize..20,
            depth in 1usize..=200,
            object in any::<bool>(),
        ) {
            let text = format!("\"{}{}\"", "a".repeat(pad), pieces.concat());
            let (open, close) = if object {
                (r#"{"k":"#, "}")
            } else {
                ("[", "]")
            };
            let frame = format!("{}{text}{}", open.repeat(depth), close.repeat(depth));
            let line = format!(r#"{{"t_us":1,"wall":"w","conn":0,"dir":"recv","frame":{frame}}}"#);
            let serde = serde_json::from_str::<&serde_json::value::RawValue>(&frame).is_ok();
            let read = agrees(&line);
            if depth <= MAX_DEPTH as usize {
                prop_assert_eq!(read, serde, "{}", line);
            } else {
                prop_assert!(!read, "{}", line);
            }
        }
    }
}
