//! Finding the parts of JSON text that is already known to be valid, without parsing it again.
//!
//! A frame's JSON is validated once, when its line is read (every byte checked, by
//! `transcript`'s own pass or serde_json's `RawValue`); splitting a request's `input` into items and reading an item's identity fields
//! only needs to know where each value starts and ends. Strings, where almost all the bytes are,
//! are skipped at `memchr` speed. On text that is not valid JSON the answers are unspecified but
//! never a panic: every index is checked.

/// Index of the first `"`, `\` or control byte (0x00..=0x1F) in `bytes` at or after `from`,
/// or `bytes.len()`: eight bytes at a time (SWAR, as serde_json skips string contents), for
/// the transcript reader's check of every byte (memchr has no "any of these or below 0x20").
pub(crate) fn next_special(bytes: &[u8], mut from: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let ctrl = word.wrapping_sub(ONES * 0x20) & !word;
        let quote = word ^ (ONES * u64::from(b'"'));
        let quote = quote.wrapping_sub(ONES) & !quote;
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let backslash = backslash.wrapping_sub(ONES) & !backslash;
        // The lowest flagged byte is exact (a borrow only runs upwards from a flagged byte).
        let found = (ctrl | quote | backslash) & (ONES << 7);
        if found != 0 {
            return from + found.trailing_zeros() as usize / 8;
        }
        from += 8;
    }
    while let Some(&b) = bytes.get(from) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        from += 1;
    }
    from
}

/// Byte index just past the string literal that opens at `start` (a `"`), if it closes.
pub(crate) fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    // Keys, ids and small deltas end within a few bytes, where a plain loop beats memchr's
    // set-up (measured: the ledger bench's fold spent more in memchr than in the bytes).
    for _ in 0..16 {
        match *bytes.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
    // Then jump from quote or backslash to the next: long strings go at memchr speed (a
    // SWAR loop, [`next_special`], ran ~1.8x the instructions here and no faster).
    while let Some(rel) = memchr::memchr2(b'\\', b'"', bytes.get(j..)?) {
        j += rel;
        if bytes[j] == b'"' {
            return Some(j + 1);
        }
        j += 2;
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes
        .get(i)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// Byte index just past the value that starts at `start` (no leading whitespace).
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let len = bytes
                .get(start..)?
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - start);
            (len > 0).then_some(start + len)
        }
    }
}

/// The elements of a JSON array, each as its exact text (as a `RawValue` would hold it);
/// `None` when `text` is not an array.
pub(crate) fn elements(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(bytes, i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = value_end(bytes, i)?;
        out.push(text.get(i..end)?);
        i = skip_ws(bytes, end);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            b']' => return Some(out),
            _ => return None,
        }
    }
}

/// The members of a JSON object in order: each key's literal (quotes included, escapes left
/// as written) and its value's exact text; `None` when `text` is not an object.
#[cfg(test)]
pub(crate) fn members(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    each_member(text, |key, value| out.push((key, value)))?;
    Some(out)
}

/// Calls `f` with each member of a JSON object in order (see [`members`]), without collecting
/// them: a head is read from a few fields of every frame. `None` when `text` is not an object.
pub(crate) fn each_member<'a>(text: &'a str, mut f: impl FnMut(&'a str, &'a str)) -> Option<()> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(bytes, i + 1);
    if bytes.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, i)?;
        let key = text.get(i..key_end)?;
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(bytes, i + 1);
        let end = value_end(bytes, i)?;
        f(key, text.get(i..end)?);
        i = skip_ws(bytes, end);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

/// The `type` of an event that opens with it, as every real server and client event does
/// (`{"type":"response.output_text.delta",…`): found without reading the rest. `None` when the
/// text opens otherwise or the type has an escape (then only a parse can tell).
pub(crate) fn leading_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    let end = memchr::memchr2(b'"', b'\\', rest.as_bytes())?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    /// On valid JSON the parts are exactly what serde_json's `RawValue`s hold.
    #[test]
    fn parts_are_what_serde_finds() {
        let arrays = [
            "[]",
            " [ ] ",
            r#"[1, "a\"]b", {"x": [1, {"y": "}"}]}, null, true, -1.5e3, [[]], "\\"]"#,
            "[\n{\"a\":1}\t,\r\n\"\\u005d\" ]",
        ];
        for text in arrays {
            let serde: Vec<&str> = serde_json::from_str::<Vec<&RawValue>>(text)
                .unwrap()
                .iter()
                .map(|v| v.get())
                .collect();
            assert_eq!(elements(text).unwrap(), serde, "{text}");
        }
        let object = r#" { "a" : 1 , "b\"c": {"d": ["}", "]"]}, "e":"x\\", "f" :null } "#;
        let serde: Vec<(String, &str)> =
            serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(object)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, v.get()))
                .collect();
        let mut mine: Vec<(String, &str)> = members(object)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (serde_json::from_str::<String>(k).unwrap(), v))
            .collect();
        mine.sort();
        assert_eq!(mine, serde);
        assert_eq!(members("{}").unwrap(), []);
        assert_eq!(elements("{}"), None);
        assert_eq!(members("[1]"), None);
        assert_eq!(members(r#""s""#), None);
    }

    #[test]
    fn a_leading_type_is_read_only_when_plain() {
        let delta = r#"{"type":"response.output_text.delta","delta":"error"}"#;
        assert_eq!(leading_type(delta), Some("response.output_text.delta"));
        assert_eq!(leading_type(r#"{"type":"error"}"#), Some("error"));
        assert_eq!(leading_type(r#"{ "type":"error"}"#), None);
        assert_eq!(leading_type(r#"{"delta":"x","type":"error"}"#), None);
        assert_eq!(leading_type(r#"{"type":"err\u006fr"}"#), None);
        assert_eq!(leading_type(r#"{"type":"cut"#), None);
    }

    /// Cut or broken text gives no answer (or some answer), never a panic.
    #[test]
    fn broken_text_never_panics() {
        let text = r#"[{"a": "b\"c", "d": [1, 2, {"e": null}]}, "x", 3]"#;
        for end in 0..text.len() {
            let cut = &text[..end];
            let _ = elements(cut);
            let _ = members(cut.trim_start_matches('['));
        }
        for bad in [
            "[1,", "[,]", "{\"a\"}", "{\"a\":}", "{a:1}", "[\"\\", "]", "}",
        ] {
            let _ = (elements(bad), members(bad));
        }
    }
}
