//! Finding the parts of JSON text that is already known to be valid, without parsing it again.
//!
//! A frame's JSON is validated once, when its line is read (every byte checked, by
//! `transcript`'s own pass or serde_json's `RawValue`); splitting a request's `input` into items and reading an item's identity fields
//! only needs to know where each value starts and ends. Strings, where almost all the bytes are,
//! are skipped at `memchr` speed. On text that is not valid JSON the answers are unspecified but
//! never a panic: every index is checked.

use wide::u8x16;

/// One in every byte of a word.
const ONES: u64 = u64::MAX / 255;
/// The high bit of every byte of a word.
const HIGH: u64 = ONES << 7;

/// The eight bytes of `bytes` at `at` as one little-endian word, when there are eight.
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The high bit set in each byte of `word` that equals `b`. Only the lowest flag is exact (a
/// borrow runs upwards from a flagged byte), which is the one every caller takes.
fn flag_equal(word: u64, b: u8) -> u64 {
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Index of the first `"`, `\` or control byte (0x00..=0x1F) in `bytes` at or after `from`,
/// or `bytes.len()`: the transcript reader's check of every byte (memchr has no "any of these
/// or below 0x20"). Sixteen bytes at a time in SIMD registers (`wide`: SSE2, which every
/// x86-64 has, NEON or plain code elsewhere) rather than eight as SWAR words: the line check
/// runs this over every string byte of every line. Short tails go eight bytes (SWAR) then one
/// at a time.
pub(crate) fn next_special(bytes: &[u8], mut from: usize) -> usize {
    let (quote, escape, control) = (u8x16::splat(b'"'), u8x16::splat(b'\\'), u8x16::splat(0x1F));
    // Whole blocks of what is left, sliced once (an index per block cost as much as the test).
    for chunk in bytes.get(from..).unwrap_or_default().chunks_exact(16) {
        let Ok(block) = <[u8; 16]>::try_from(chunk) else {
            break;
        };
        let v = u8x16::new(block);
        // A byte at most 0x1F is its own minimum with 0x1F.
        let found = v.cmp_eq(quote) | v.cmp_eq(escape) | v.min(control).cmp_eq(v);
        let mask = found.move_mask();
        if mask != 0 {
            return from + mask.trailing_zeros() as usize;
        }
        from += 16;
    }
    if let Some(word) = word_at(bytes, from) {
        let ctrl = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let found = ctrl | flag_equal(word, b'"') | flag_equal(word, b'\\');
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

/// In the sixteen bytes at `j` (SIMD), or eight (SWAR) near the end: `Some((Some(k), _))`,
/// the index of the first `"` or `\`; `Some((None, width))` when those `width` bytes hold
/// neither; `None` when fewer than eight bytes are left. A key, id or event type usually ends
/// within one block.
fn quote_or_escape_in_block(bytes: &[u8], j: usize) -> Option<(Option<usize>, usize)> {
    if let Some(chunk) = bytes
        .get(j..j.saturating_add(16))
        .and_then(|c| <[u8; 16]>::try_from(c).ok())
    {
        let v = u8x16::new(chunk);
        let found = v.cmp_eq(u8x16::splat(b'"')) | v.cmp_eq(u8x16::splat(b'\\'));
        let mask = found.move_mask();
        return Some(((mask != 0).then(|| j + mask.trailing_zeros() as usize), 16));
    }
    let word = word_at(bytes, j)?;
    let found = flag_equal(word, b'"') | flag_equal(word, b'\\');
    Some((
        (found != 0).then(|| j + found.trailing_zeros() as usize / 8),
        8,
    ))
}

/// Byte index just past the string literal that opens at `start` (a `"`), if it closes.
pub(crate) fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    // Keys, ids, types and small deltas end within a few blocks: sixteen bytes at a time to
    // the next quote or backslash (a byte loop took ~100 instructions for a 15-byte key,
    // memchr's set-up as much).
    for _ in 0..4 {
        let Some((found, width)) = quote_or_escape_in_block(bytes, j) else {
            break;
        };
        let Some(k) = found else {
            j += width;
            continue;
        };
        if *bytes.get(k)? == b'"' {
            return Some(k + 1);
        }
        j = k + 2;
    }
    // Then jump from quote to quote: a quote ends the string unless an odd run of backslashes
    // comes right before it (each escape opens with one, `\\` being two). The same answer as
    // stepping over every escape from the start (`tests`), on any text; but a long string's
    // `\n`s no longer stop the search (memchr2 on `"` and `\` stopped at each: a tool output
    // of 11 KB took ~16k instructions a walk, callgrind).
    loop {
        let quote = j + memchr::memchr(b'"', bytes.get(j..)?)?;
        let inside = bytes.get(start + 1..quote)?;
        let run = inside.iter().rev().take_while(|&&b| b == b'\\').count();
        if run % 2 == 0 {
            return Some(quote + 1);
        }
        j = quote + 1;
    }
}

/// [`string_end`] for a key, and whether the key holds an escape (then only a decode can say
/// what it names). Keys are short: their first block or two usually answer both.
fn key_end(bytes: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut j = start + 1;
    for _ in 0..2 {
        let Some((found, width)) = quote_or_escape_in_block(bytes, j) else {
            break;
        };
        let Some(k) = found else {
            j += width;
            continue;
        };
        if *bytes.get(k)? == b'"' {
            return Some((k + 1, false));
        }
        return Some((string_end(bytes, start)?, true));
    }
    let end = string_end(bytes, start)?;
    Some((end, bytes.get(start + 1..end - 1)?.contains(&b'\\')))
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

/// Nesting a member's value may reach before [`each_member`] gives up: serde_json refuses text
/// nested deeper than 128, so a head scanned from text nested deeper than this is left to
/// serde (which reads or refuses it), never read where serde would refuse it.
const MEMBER_DEPTH: usize = 100;

/// Byte index just past the value that starts at `start` (no leading whitespace); `None` past
/// `max_depth` levels of nesting.
fn value_end(bytes: &[u8], start: usize, max_depth: usize) -> Option<usize> {
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
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > max_depth {
                            return None;
                        }
                    }
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
        let end = value_end(bytes, i, usize::MAX)?;
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
    each_member(text, |key, escaped, value| {
        assert_eq!(escaped, key.contains('\\'), "{key}");
        out.push((key, value));
    })?;
    Some(out)
}

/// Calls `f` with each member of a JSON object in order (see [`members`]: the key's literal,
/// whether it holds an escape, the value), without collecting them: a head is read from a few fields of every frame. `None` when `text` is not an object,
/// or nests deeper than [`MEMBER_DEPTH`].
pub(crate) fn each_member<'a>(
    text: &'a str,
    mut f: impl FnMut(&'a str, bool, &'a str),
) -> Option<()> {
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
        let (key_end, escaped) = key_end(bytes, i)?;
        let key = text.get(i..key_end)?;
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(bytes, i + 1);
        let end = value_end(bytes, i, MEMBER_DEPTH)?;
        f(key, escaped, text.get(i..end)?);
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

    /// The string end as found by stepping over every escape from the opening quote: what
    /// [`string_end`] finds by jumping between quotes.
    fn stepped_string_end(bytes: &[u8], start: usize) -> Option<usize> {
        let mut j = start + 1;
        loop {
            match *bytes.get(j)? {
                b'"' => return Some(j + 1),
                b'\\' => j += 2,
                _ => j += 1,
            }
        }
    }

    proptest::proptest! {
        /// On any bytes (valid JSON or not, short or past the plain loop's 16, runs of
        /// backslashes before quotes): the same end as stepping over escapes.
        #[test]
        fn string_end_is_the_stepped_end(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    3 => proptest::strategy::Just(b'\\'),
                    2 => proptest::strategy::Just(b'"'),
                    4 => proptest::prelude::any::<u8>(),
                ],
                0..80,
            ),
            pad in 0usize..40,
        ) {
            let mut bytes = vec![b'"'];
            bytes.extend(std::iter::repeat_n(b'a', pad));
            bytes.extend(&text);
            proptest::prop_assert_eq!(string_end(&bytes, 0), stepped_string_end(&bytes, 0));
            // Any start whose byte is a quote, as the redactor calls it.
            for start in (0..bytes.len()).filter(|&i| bytes[i] == b'"') {
                proptest::prop_assert_eq!(
                    string_end(&bytes, start),
                    stepped_string_end(&bytes, start)
                );
            }
        }
    }

    proptest::proptest! {
        /// On any bytes and from any start (sixteen-byte blocks, the eight-byte word and the
        /// byte tail, every control byte, bytes past ASCII): the first `"`, `\` or byte
        /// below 0x20, as a byte-at-a-time search finds it.
        #[test]
        fn next_special_is_the_first_special_byte(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => b'a'..=b'z',
                    1 => proptest::prelude::any::<u8>(),
                    1 => proptest::sample::select(vec![b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff]),
                ],
                0..100,
            ),
        ) {
            for from in 0..=text.len() {
                let want = text[from..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                    .map_or(text.len(), |k| from + k);
                proptest::prop_assert_eq!(next_special(&text, from), want);
            }
        }
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
