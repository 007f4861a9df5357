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

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

/// One automaton over every fixed needle, built once.
static NEEDLES: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    let fixed = ["\\u", "sk-", "bearer ", "="];
    let names = super::CREDENTIAL_NAMES
        .iter()
        .chain(super::CREDENTIAL_SUFFIXES.iter());
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(fixed.iter().chain(names))
        .ok()
});

/// False only when redacting `text` with `secrets` surely returns it unchanged.
pub(super) fn may_redact(text: &str, secrets: &[String]) -> bool {
    let Some(needles) = NEEDLES.as_ref() else {
        // The automaton could not be built: every text takes the full pass.
        return true;
    };
    needles.is_match(text) || secrets.iter().any(|s| secret_may_match(text, s))
}

/// True when `text`, a decoded string redacted without explicit secrets
/// ([`super::redact_string`]), surely comes back unchanged, by a test cheaper than the
/// automaton's: without a quote it holds no nested JSON, so its full pass is
/// [`super::redact_text`], whose rules all need `sk-`, `bearer ` or `=` — a text with no
/// quote, hyphen, space or `=` has none of them. Most keys, ids and hashes of a report are such
/// texts, and the automaton's start cost more than its scan on them.
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

    use proptest::prelude::*;

    use super::super::{MAX_DEPTH, redact_json_at};
    use super::*;

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
