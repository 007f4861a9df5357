//! The one-pass test that tells a text redaction cannot change from one that may: most relayed
//! frames carry no credential, and the full redaction (every string literal found, decoded and
//! scanned for each rule) was ~11% of the headless proxy's CPU on small frames.
//!
//! Why it is exact. [`super::redact_json`] changes a text only when, somewhere in it (in a gap
//! between string literals or in a literal's decoded content, at any nesting depth), it finds an
//! explicit secret or its percent-encoded form, `sk-`, `bearer ` (any case), a `=` (a credential
//! query parameter needs one) or a member named like a credential (every such name contains one
//! of [`super::CREDENTIAL_NAMES`] or [`super::CREDENTIAL_SUFFIXES`], without case). Decoding a
//! JSON string without `\u` escapes only turns two-byte escapes into `"`, `\`, `/` or a control
//! character, and copies every other character: so a needle free of those characters that is in
//! the decoded text, at any depth, is in the raw text too, unbroken. A `\u` escape could spell
//! anything, and a deeper level's `\u` still shows as a backslash before a `u` in the raw text;
//! so a text with that pair, or a secret holding one of the escape-made characters, always goes
//! to the full redaction. Searched without case, the needles match a superset of what the rules
//! match (`sk-` is case-sensitive there): a false alarm only costs the full pass.

use wide::u8x16;

/// False only when redacting `text` with `secrets` surely returns it unchanged.
pub(super) fn may_redact(text: &str, secrets: &[String]) -> bool {
    has_needle(text.as_bytes()) || secrets.iter().any(|s| secret_may_match(text, s))
}

/// True when `bytes` hold a fixed needle, without case: `\u`, `sk-`, `bearer `, `=`, or a
/// credential name ([`super::CREDENTIAL_NAMES`], [`super::CREDENTIAL_SUFFIXES`]).
///
/// Sixteen bytes at a time (SIMD through `wide`, as the transcript's line check does): every
/// needle holds one of eight anchor bytes — `\`, `=`, `-`, `_`, or `b`, `k`, `w`, `z` in either
/// case — and only where one is found are the needles that hold it compared in place. An
/// Aho-Corasick automaton over the needles (what this replaced; `tests` keep it as the oracle)
/// has no SIMD pre-scan when matching without case and read a byte at a time: ~4 ns a byte, ~11
/// µs of the headless proxy's 200 B turn.
fn has_needle(bytes: &[u8]) -> bool {
    let mut from = 0;
    for chunk in bytes.chunks_exact(16) {
        let Ok(block) = <[u8; 16]>::try_from(chunk) else {
            break;
        };
        let v = u8x16::new(block);
        // A letter OR 0x20 is its lower case; only `B` and `b` give `b` (and so on).
        let lower = v | u8x16::splat(0x20);
        let found = v.cmp_eq(u8x16::splat(b'\\'))
            | v.cmp_eq(u8x16::splat(b'='))
            | v.cmp_eq(u8x16::splat(b'-'))
            | v.cmp_eq(u8x16::splat(b'_'))
            | lower.cmp_eq(u8x16::splat(b'b'))
            | lower.cmp_eq(u8x16::splat(b'k'))
            | lower.cmp_eq(u8x16::splat(b'w'))
            | lower.cmp_eq(u8x16::splat(b'z'));
        let mut mask = found.move_mask();
        while mask != 0 {
            if needle_at(bytes, from + mask.trailing_zeros() as usize) {
                return true;
            }
            mask &= mask - 1;
        }
        from += 16;
    }
    (from..bytes.len()).any(|at| needle_at(bytes, at))
}

/// Names before `_key` / `-key`, `_token` / `-token` and `_secret` / `-secret` that make a
/// credential suffix or name.
const BEFORE_KEY: [&[u8]; 1] = [b"api"];
const BEFORE_TOKEN: [&[u8]; 5] = [b"api", b"access", b"refresh", b"auth", b"session"];
const BEFORE_SECRET: [&[u8]; 1] = [b"client"];

/// True when a needle holding the anchor byte at `at` is there, without case.
fn needle_at(bytes: &[u8], at: usize) -> bool {
    // `word` at `start` (when both are in `bytes`), without case.
    let is = |start: Option<usize>, word: &[u8]| {
        start
            .and_then(|s| bytes.get(s..s.checked_add(word.len())?))
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    let ends_before = |names: &[&[u8]]| names.iter().any(|n| is(at.checked_sub(n.len()), n));
    let Some(&b) = bytes.get(at) else {
        return false;
    };
    match b {
        b'\\' => matches!(bytes.get(at + 1), Some(b'u' | b'U')),
        b'=' => true,
        b'-' | b'_' => {
            let after = Some(at + 1);
            (b == b'-' && is(at.checked_sub(2), b"sk"))
                || (is(after, b"key") && ends_before(&BEFORE_KEY))
                || (is(after, b"token") && ends_before(&BEFORE_TOKEN))
                || (is(after, b"secret") && ends_before(&BEFORE_SECRET))
        }
        b'b' | b'B' => is(Some(at), b"bearer "),
        // cookie, apikey
        b'k' | b'K' => is(at.checked_sub(3), b"cookie") || is(at.checked_sub(3), b"apikey"),
        b'w' | b'W' => is(at.checked_sub(4), b"password"),
        b'z' | b'Z' => is(at.checked_sub(7), b"authorization"),
        _ => false,
    }
}

/// True when `text`, a decoded string redacted without explicit secrets
/// ([`super::redact_string`]), surely comes back unchanged, by a narrower test than
/// [`may_redact`]'s: without a quote it holds no nested JSON, so its full pass is
/// [`super::redact_text`], whose rules all need `sk-`, `bearer ` or `=` — a text with no
/// quote, hyphen, space or `=` has none of them. Most keys, ids and hashes of a report are such
/// texts; the Aho-Corasick automaton `may_redact` used before its anchored scan cost more to
/// start than this test on them (not re-measured against the scan).
pub(super) fn plain_string(text: &str) -> bool {
    !text.bytes().any(|b| matches!(b, b'"' | b'-' | b' ' | b'='))
}

/// True when `secret` (or its percent-encoded form) may be in `text`'s decoded content.
fn secret_may_match(text: &str, secret: &str) -> bool {
    let escapable = secret
        .bytes()
        .any(|b| matches!(b, b'"' | b'\\' | b'/') || b < 0x20);
    escapable || text.contains(secret) || text.contains(super::percent_encode(secret).as_ref())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;

    use super::super::{CREDENTIAL_NAMES, CREDENTIAL_SUFFIXES, MAX_DEPTH, redact_json_at};
    use super::*;

    /// Every fixed needle: the scan must find each of them, without case, and nothing else.
    fn needles() -> Vec<&'static str> {
        let fixed = ["\\u", "sk-", "bearer ", "="];
        fixed
            .into_iter()
            .chain(CREDENTIAL_NAMES)
            .chain(CREDENTIAL_SUFFIXES)
            .collect()
    }

    /// The oracle: an automaton over the same needles, matching without case.
    fn automaton() -> AhoCorasick {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(needles())
            .unwrap()
    }

    /// The full redaction, without the pre-filter.
    fn full<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
        redact_json_at(text, secrets, 0)
    }

    /// Pieces that build texts near every rule: needles whole, cut and in other cases, escapes,
    /// nesting quotes, and ordinary frame text.
    const PIECES: [&str; 32] = [
        "sk-",
        "SK-",
        "s",
        "k-",
        "sk-proj-TURNSCOPETESTKEY0123456789abcdef",
        "Bearer ",
        "bearer",
        "BEARER abcdefghijklmnopqrstuvwxyz",
        "=",
        "?key=",
        "&api-key=",
        "\\u0073k-",
        "\\u",
        "\\\\u",
        "\\n",
        "\\\"",
        "\\\\",
        "\"",
        "\":",
        "{\"",
        "}",
        "authorization",
        "Api_Key",
        "access_token",
        "\"name\":\"Cookie\",\"value\":\"",
        "password",
        "x",
        " ",
        "é",
        "response.output_text.delta",
        "\"delta\":\"",
        "SECRETVALUE42",
    ];

    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 0..24)
                .prop_map(|p| p.concat()),
            "\\PC{0,120}",
        ]
    }

    fn secret_lists() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(
            prop_oneof![
                Just("SECRETVALUE42".to_owned()),
                Just("sec/ret\"42".to_owned()),
                Just("a b&c".to_owned()),
                "\\PC{0,12}",
            ],
            0..3,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The anchored scan finds a needle exactly where the automaton does: a needle (or an
        /// anchor byte) left out of the scan fails this, whichever block offset it falls at.
        #[test]
        fn the_scan_finds_what_the_automaton_finds(text in texts(), pad in 0usize..16) {
            let text = format!("{}{text}", "x".repeat(pad));
            prop_assert_eq!(has_needle(text.as_bytes()), automaton().is_match(&text), "{:?}", text);
        }

        /// Whenever the pre-filter says no, the full redaction leaves the text as it was.
        #[test]
        fn a_text_passed_over_is_one_the_full_redaction_keeps(
            text in texts(),
            secrets in secret_lists(),
        ) {
            if !may_redact(&text, &secrets) {
                prop_assert!(matches!(full(&text, &secrets), Cow::Borrowed(_)), "{:?} {:?}", text, secrets);
            }
        }

        /// A string `plain_string` lets pass is one the full redaction of a string keeps, also
        /// when it names a credential, holds an escape or `sk`/`bearer` without their marks.
        #[test]
        fn a_plain_string_is_one_the_full_redaction_keeps(text in texts()) {
            let stripped: String = text.chars().filter(|c| !matches!(c, '"' | '-' | ' ' | '=')).collect();
            prop_assert!(plain_string(&stripped));
            for text in [text, stripped] {
                if plain_string(&text) {
                    prop_assert!(matches!(redact_json_at(&text, &[], 1), Cow::Borrowed(_)), "{:?}", text);
                }
            }
        }

        /// The same as JSON frames, nested in strings up to the depth the redaction follows.
        #[test]
        fn a_frame_passed_over_is_one_the_full_redaction_keeps(
            text in texts(),
            secrets in secret_lists(),
            depth in 0..MAX_DEPTH,
        ) {
            let mut doc = serde_json::json!({"type": "response.output_text.delta", "delta": text}).to_string();
            for _ in 0..depth {
                doc = serde_json::json!({"type": "response.function_call_arguments.done", "arguments": doc}).to_string();
            }
            if !may_redact(&doc, &secrets) {
                prop_assert!(matches!(full(&doc, &secrets), Cow::Borrowed(_)), "{:?} {:?}", doc, secrets);
            }
        }
    }

    /// Each needle in lower, upper and mixed case, at every offset of a 16-byte block and at the
    /// end of the text, is found; with one byte changed, it is not.
    #[test]
    fn every_needle_is_found_in_any_case_at_any_offset() {
        for needle in needles() {
            let upper = needle.to_ascii_uppercase();
            let mixed: String = needle
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for form in [needle.to_owned(), upper, mixed] {
                for pad in 0..40 {
                    let text = format!("{}{form}{}", "x".repeat(pad), "y".repeat(pad % 3));
                    assert!(has_needle(text.as_bytes()), "{text:?}");
                    if form.len() > 1 {
                        // Cut short by its last byte: found only where the automaton finds a needle.
                        let cut = format!("{}{}", "x".repeat(pad), &form[..form.len() - 1]);
                        assert_eq!(
                            has_needle(cut.as_bytes()),
                            automaton().is_match(&cut),
                            "{cut:?}"
                        );
                    }
                }
            }
        }
    }

    /// Every line of every fixture transcript, with and without an explicit secret taken from it:
    /// the pre-filtered redaction equals the full one.
    #[test]
    fn fixture_lines_redact_as_before() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut files = vec![root.clone()];
        let mut lines = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    files.push(entry.unwrap().path());
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for line in text.lines() {
                let word = line
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .find(|w| w.len() >= 8)
                    .map(str::to_owned);
                for secrets in [Vec::new(), word.into_iter().collect()] {
                    assert_eq!(
                        super::super::redact_json(line, &secrets),
                        full(line, &secrets),
                        "{}: {line}",
                        path.display()
                    );
                    lines += 1;
                }
            }
        }
        assert!(lines > 1000, "only {lines} fixture lines were compared");
    }

    /// The relay bench's frames and a typical delta take the short way; a key, a credential
    /// member and an escape do not.
    #[test]
    fn ordinary_frames_are_passed_over_and_suspicious_ones_are_not() {
        for frame in [
            r#"{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello","obfuscation":"Xk3p"}"#,
            r#"{"type":"response.completed","response":{"id":"resp_1","usage":{"input_tokens":600,"output_tokens":8}}}"#,
        ] {
            assert!(!may_redact(frame, &["SECRETVALUE42".to_owned()]), "{frame}");
        }
        for frame in [
            r#"{"delta":"sk-abc"}"#,
            r#"{"headers":{"X-Api-Key":"v"}}"#,
            r#"{"delta":"\u0041"}"#,
            r#"{"delta":"SECRETVALUE42"}"#,
            r#"{"url":"https://x/?a=b"}"#,
        ] {
            assert!(may_redact(frame, &["SECRETVALUE42".to_owned()]), "{frame}");
        }
    }
}
