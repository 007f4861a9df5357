//! A `serde_json` formatter that redacts each string as it is written: a report redacted at
//! its source instead of re-reading every line of its output.
//!
//! What it masks is what [`RedactLines`](super::RedactLines) masks in pretty-printed JSON, where
//! every member sits on its own line: each string (key or value) is redacted on its decoded
//! content ([`super::redact_json`]'s rules for a string literal, nested JSON included), and a
//! non-empty string that is the value of a member named like a credential is masked whole.

use std::io::{self, Write};

use serde_json::ser::{CharEscape, Formatter};

use super::{MASK, is_credential_name, redact_string};

/// Wraps a formatter (pretty or compact) and redacts every string it writes.
#[derive(Debug, Default)]
pub struct RedactingFormatter<F> {
    inner: F,
    /// The decoded text of the string being written, while `in_string`.
    text: String,
    in_string: bool,
    /// The string being written is an object key.
    in_key: bool,
    /// The last key's text: the name of the member whose value comes next, while `member`.
    key: String,
    /// The member named by `key` has its value still to come, and that value may be a string.
    member: bool,
}

impl<F: Formatter> RedactingFormatter<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        RedactingFormatter {
            inner,
            text: String::new(),
            in_string: false,
            in_key: false,
            key: String::new(),
            member: false,
        }
    }
}

impl<F: Formatter> RedactingFormatter<F> {
    /// Starts `depth` arrays deep, for a value printed on its own that sits that deep in a
    /// document written around it: a pretty formatter indents its lines as it would there.
    #[must_use]
    pub fn at_depth(mut self, depth: usize) -> Self {
        for _ in 0..depth {
            // A sink takes every write.
            let _ = self.inner.begin_array(&mut io::sink());
        }
        self
    }
}

/// Writes a finished (redacted) string through `inner`, escaped as `serde_json` escapes.
fn write_text<F: Formatter, W: ?Sized + Write>(
    inner: &mut F,
    writer: &mut W,
    text: &str,
) -> io::Result<()> {
    inner.begin_string(writer)?;
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => CharEscape::Quote,
            b'\\' => CharEscape::ReverseSolidus,
            b'\x08' => CharEscape::Backspace,
            b'\x0c' => CharEscape::FormFeed,
            b'\n' => CharEscape::LineFeed,
            b'\r' => CharEscape::CarriageReturn,
            b'\t' => CharEscape::Tab,
            0..=0x1f => CharEscape::AsciiControl(b),
            _ => continue,
        };
        if start < i {
            inner.write_string_fragment(writer, &text[start..i])?;
        }
        inner.write_char_escape(writer, escape)?;
        start = i + 1;
    }
    if start < text.len() {
        inner.write_string_fragment(writer, &text[start..])?;
    }
    inner.end_string(writer)
}

/// Number writers: inside a string (a map key that is a number) the digits join the string's
/// text; elsewhere they go straight to the inner formatter.
macro_rules! numbers {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<W: ?Sized + Write>(&mut self, writer: &mut W, value: $ty) -> io::Result<()> {
            if self.in_string {
                let mut digits = Vec::new();
                self.inner.$name(&mut digits, value)?;
                self.text.push_str(&String::from_utf8_lossy(&digits));
                return Ok(());
            }
            self.inner.$name(writer, value)
        }
    )*};
}

impl<F: Formatter> Formatter for RedactingFormatter<F> {
    numbers!(write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_f32: f32, write_f64: f64);

    fn begin_string<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.in_string = true;
        self.text.clear();
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        _writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.text.push_str(fragment);
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        _writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        self.text.push(match escape {
            CharEscape::Quote => '"',
            CharEscape::ReverseSolidus => '\\',
            CharEscape::Solidus => '/',
            CharEscape::Backspace => '\x08',
            CharEscape::FormFeed => '\x0c',
            CharEscape::LineFeed => '\n',
            CharEscape::CarriageReturn => '\r',
            CharEscape::Tab => '\t',
            CharEscape::AsciiControl(b) => char::from(b),
        });
        Ok(())
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_string = false;
        let credential = !self.in_key && std::mem::take(&mut self.member);
        let result = if credential && !self.text.is_empty() && is_credential_name(&self.key) {
            write_text(&mut self.inner, writer, MASK)
        } else {
            // Most strings of a report hold nothing to mask: `redact_string`'s pre-filter lends
            // them back unchanged, without the full pass or a copy.
            let clean = redact_string(&self.text);
            write_text(&mut self.inner, writer, &clean)
        };
        if self.in_key {
            // The key's text becomes the member's name; both buffers keep their capacity (a
            // moved-out buffer made every next string allocate again).
            std::mem::swap(&mut self.text, &mut self.key);
            self.member = true;
        }
        result
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.member = false;
        self.inner.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.member = false;
        self.inner.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.member = false;
        self.inner.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.member = false;
        self.in_key = true;
        self.inner.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_key = false;
        self.inner.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.member = false;
        self.inner.end_object_value(writer)
    }

    fn write_raw_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Raw JSON (a `RawValue`) is redacted as JSON text.
        let clean = super::redact_json(fragment, &[]);
        self.inner.write_raw_fragment(writer, &clean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::RedactLines;
    use serde_json::json;

    const KEY: &str = "sk-proj-FORMATTERTESTKEY0123456789";

    /// Pretty JSON through the formatter is byte for byte what the line redactor makes of the
    /// same JSON printed plainly: escapes, nested JSON in strings, credential members, keys.
    #[test]
    fn matches_the_line_redactor_on_pretty_json() {
        let doc = json!({
            "plain": "nothing here",
            "escaped": format!("tab\there \"quoted\" {KEY} \u{1} é / done"),
            "nested": json!({"token": format!("x\t{KEY}"), "api_key": "abc"}).to_string(),
            "api_key": "hidden whole",
            "empty_api_key": "",
            "access_token": ["in", "an", "array"],
            "url": "ws://h/v1?api-key=QUERYSECRET99&x=1",
            "auth": "Bearer abcdefghijklmnopqrstuvwxyz",
            KEY: 1,
            "list": [KEY, 2, null, true, 1.5, {"password": "p4ss-word"}],
            "numbers": {"1": "one"},
        });
        let mut old = Vec::new();
        {
            let mut lines = RedactLines::new(&mut old);
            serde_json::to_writer_pretty(&mut lines, &doc).unwrap();
            lines.flush().unwrap();
        }
        let mut new = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut new,
            RedactingFormatter::new(serde_json::ser::PrettyFormatter::new()),
        );
        serde::Serialize::serialize(&doc, &mut ser).unwrap();
        let (old, new) = (
            String::from_utf8(old).unwrap(),
            String::from_utf8(new).unwrap(),
        );
        assert_eq!(new, old);
        assert!(
            !new.contains("FORMATTERTESTKEY") && !new.contains("QUERYSECRET99"),
            "{new}"
        );
        assert!(
            !new.contains("hidden whole") && !new.contains("p4ss-word"),
            "{new}"
        );
        serde_json::from_str::<serde_json::Value>(&new).unwrap();
    }

    /// Each string comes out as the full redaction makes it, whether the pre-filter lets it pass
    /// or not: nested JSON whose key is spelled with a `\u` escape, needles in other cases, and
    /// strings with nothing to mask.
    #[test]
    fn strings_match_the_full_redaction() {
        let texts = [
            "plain words, nothing here".to_string(),
            format!(r#"{{"path":"README.md","note":"\u0073k-{}"}}"#, &KEY[3..]),
            r#"{"\u0061pi_key":"abcdefgh"}"#.to_string(),
            format!("see BEARER {}", &KEY[3..]),
            "https://h/x?API-KEY=QUERYSECRET99".to_string(),
            r#"{"name":"Authorization","value":"opaque"}"#.to_string(),
            "a = b, sk-short".to_string(),
        ];
        for text in &texts {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut out,
                RedactingFormatter::new(serde_json::ser::CompactFormatter),
            );
            serde::Serialize::serialize(text, &mut ser).unwrap();
            let full =
                serde_json::to_string(&crate::secrets::redact_json_at(text, &[], 1)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), full, "{text}");
        }
        assert_ne!(
            redact_string(&texts[1]),
            texts[1].as_str(),
            "the \\u case is masked"
        );
        assert_ne!(
            redact_string(&texts[2]),
            texts[2].as_str(),
            "the \\u key is masked"
        );
    }

    /// A map keyed by numbers keeps its keys as strings, redacted like any other.
    #[test]
    fn number_keys_stay_strings() {
        let map: std::collections::BTreeMap<u32, &str> = [(7, "seven"), (12, KEY)].into();
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            RedactingFormatter::new(serde_json::ser::CompactFormatter),
        );
        serde::Serialize::serialize(&map, &mut ser).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(r#"{{"7":"seven","12":"{MASK}"}}"#)
        );
    }
}
