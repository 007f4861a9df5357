//! The offline o200k counter (turnscope's own, src/tokens/) gives exactly tiktoken's counts
//! (tiktoken-rs, OpenAI's tables) and its pre-tokenizer exactly the pieces of tiktoken's regex
//! (fancy-regex with tiktoken-rs's own pattern): on every code point in several contexts, on
//! random text built from the characters the pattern treats specially (proptest), on every
//! frame and string of every fixture (the public captures in tests/fixtures/real/ and their
//! raw cassettes included) and of a synthetic transcript, plus hand-picked stress text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;

/// Every `.tsjsonl` and raw cassette under tests/fixtures, as text.
fn fixture_texts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "tsjsonl" || e == "yaml" || e == "json")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

/// Every string in a JSON value (keys too), depth first.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// Every line of `text`, and of each JSON line its compact frame and every string in it.
fn texts_of(text: &str, corpus: &mut Vec<String>) {
    for line in text.lines() {
        corpus.push(line.to_owned());
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            strings(&value, corpus);
            if let Some(frame) = value.get("frame") {
                corpus.push(frame.to_string());
            }
        }
    }
}

fn tiktoken(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// The pieces tiktoken's split pattern matches in `text` (what tiktoken-rs's `encode_ordinary`
/// iterates over).
fn regex_pieces(text: &str) -> Vec<&str> {
    static REGEX: OnceLock<fancy_regex::Regex> = OnceLock::new();
    REGEX
        .get_or_init(|| fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).unwrap())
        .find_iter(text)
        .map(|m| m.unwrap().as_str())
        .collect()
}

/// Our pieces of `text` against the regex's: the first difference, if any.
fn pieces_differ(text: &str) -> Option<String> {
    let ours: Vec<&str> = turnscope::tokens::pieces(text).collect();
    let theirs = regex_pieces(text);
    if ours != theirs {
        let at = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        let at = at.unwrap_or(ours.len().min(theirs.len()));
        let window = |p: &[&str]| format!("{:?}", &p[at.saturating_sub(2)..(at + 2).min(p.len())]);
        return Some(format!(
            "pieces differ at {at}: ours {}, tiktoken {}",
            window(&ours),
            window(&theirs)
        ));
    }
    None
}

/// Our pieces and count of `text` against tiktoken's: the first difference, if any.
fn differs(text: &str) -> Option<String> {
    if let Some(why) = pieces_differ(text) {
        return Some(why);
    }
    let (got, want) = (turnscope::tokens::count(text), tiktoken(text));
    (got != want).then(|| format!("count {got}, tiktoken {want}"))
}

/// Every Unicode scalar value, alone and beside letters of each case, digits, spaces,
/// newlines, punctuation, a contraction and itself: our pieces are the regex's (the class table
/// build.rs made agrees with the regex on every code point). Counts are compared below; here
/// they would only repeat the byte-level merges of a million unassigned code points.
#[test]
fn every_code_point_splits_like_tiktoken() {
    let chars: Vec<char> = (0..=0x10_FFFF_u32).filter_map(char::from_u32).collect();
    let contexts = [
        "{c}",
        "a{c}b",
        "A{c}a",
        " {c}x",
        "{c}{c}'s ",
        "1{c}2",
        "!{c}\n",
        "\t{c}  ",
    ];
    // Planes 4 to 13 hold no character yet and 15 and 16 only private use ones: one context
    // each keeps the test at seconds (they are still every one checked).
    let unassigned =
        |c: char| (0x4_0000..0xE_0000).contains(&u32::from(c)) || u32::from(c) >= 0xF_0000;
    let mut failures = Vec::new();
    for chunk in chars.chunks(48) {
        let mut text = String::new();
        for &c in chunk {
            let contexts = if unassigned(c) {
                &["a{c}{c} {c}"][..]
            } else {
                &contexts[..]
            };
            for context in contexts {
                text.push_str(&context.replace("{c}", c.encode_utf8(&mut [0; 4])));
            }
        }
        if let Some(why) = pieces_differ(&text) {
            failures.push(format!("U+{:04X}..: {why}", u32::from(chunk[0])));
        }
    }
    assert!(
        failures.is_empty(),
        "{} chunks differ: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}

/// Characters the split pattern treats specially, weighted towards its edge cases: every class
/// (upper, title, lower, modifier and other letters, marks, numbers, white space, `\r`, `\n`,
/// symbols), contraction letters and the long s that case-folds to one, `/` after symbols.
fn interesting_char() -> impl Strategy<Value = char> {
    let from = |s: &str| prop::sample::select(s.chars().collect::<Vec<_>>());
    prop_oneof![
        4 => from(" \t\r\n\u{a0}\u{3000}\u{2028}\u{b}\u{85}"),
        4 => from("abcdestvrmlXYZSTVRMLDE'''\u{17f}"),
        2 => from("0123456789½٣Ⅻ"),
        2 => from("!?.,;:/-_(){}[]\"\\#@*&^%$~`<>|=+"),
        2 => from("日本語中文한국어テスト東京ʰˆǅǈΣσßİıÉé"),
        2 => from("\u{301}\u{308}\u{20dd}\u{94d}\u{e49}\u{fe0f}\u{200d}"),
        1 => from("🙂👍🏽🇫🇷€£¥©®™→∑"),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn random_text_splits_and_counts_like_tiktoken(
        chars in prop::collection::vec(interesting_char(), 0..48)
    ) {
        let text: String = chars.into_iter().collect();
        prop_assert_eq!(differs(&text), None, "{:?}", text);
    }

    /// ASCII text, the pre-tokenizer's fast path: every ASCII character (controls too),
    /// weighted towards what decides a piece's end (case changes, contractions, digits, runs
    /// of white space and newlines, symbols before `/`), with now and then a character past
    /// ASCII where that path hands over to the full one.
    #[test]
    fn random_ascii_splits_and_counts_like_tiktoken(
        chars in prop::collection::vec(prop_oneof![
            6 => prop::sample::select(" \t\r\n\x0b\x0c\x1c\x1f\x00".chars().collect::<Vec<_>>()),
            6 => prop::sample::select("aAbBsStTlLdDmMrReEvVxyzXYZ'".chars().collect::<Vec<_>>()),
            3 => prop::sample::select("0123456789".chars().collect::<Vec<_>>()),
            4 => prop::sample::select("{}[]:,\"/\\!?.-_#@*&^%$~`<>|=+;()".chars().collect::<Vec<_>>()),
            2 => (0u8..0x80).prop_map(char::from),
            1 => interesting_char(),
        ], 0..64)
    ) {
        let text: String = chars.into_iter().collect();
        prop_assert_eq!(differs(&text), None, "{:?}", text);
    }

    /// Runs of one character (words, numbers, white space, newlines) back to back.
    #[test]
    fn random_runs_split_and_count_like_tiktoken(
        runs in prop::collection::vec((interesting_char(), 1..12usize), 0..16)
    ) {
        let text: String = runs
            .into_iter()
            .flat_map(|(c, n)| std::iter::repeat_n(c, n))
            .collect();
        prop_assert_eq!(differs(&text), None, "{:?}", text);
    }
}

/// The texts `stats` counts in a synthetic transcript (every line, frame and string of ~2 MB
/// of the one the stats and ledger benches generate).
#[test]
fn synthetic_transcript_texts_split_and_count_like_tiktoken() {
    let mut data = Vec::new();
    turnscope::transcript::synth::write_synthetic(&mut data, 2_000_000, 7).unwrap();
    let mut corpus = Vec::new();
    texts_of(&String::from_utf8(data).unwrap(), &mut corpus);
    corpus.sort();
    corpus.dedup();
    assert!(corpus.len() > 1_000, "{} texts", corpus.len());
    for text in &corpus {
        let head: String = text.chars().take(200).collect();
        assert_eq!(differs(text), None, "{head:?}");
    }
}

#[test]
fn counts_equal_tiktoken_on_real_payloads() {
    let files = fixture_texts();
    assert!(
        files.iter().any(|(p, _)| p.contains("/real/")),
        "the real captures are part of the corpus"
    );
    let mut corpus: Vec<String> = Vec::new();
    for (_, text) in &files {
        corpus.push(text.clone());
        texts_of(text, &mut corpus);
    }
    corpus.extend(
        [
            "The quick brown fox jumps over the lazy dog.",
            "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n\n\n\t\t  ",
            "日本語のテキストと中文文本，以及한국어 텍스트。",
            "emoji 🙂👍🏽🇫🇷 and combining e\u{301} a\u{308}",
            "   leading and trailing spaces   \r\n\r\n",
            "<|endoftext|> is ordinary text here",
            "sk-proj-0123456789abcdef {\"type\":\"response.create\",\"input\":[]}",
            "x".repeat(10_000).as_str(),
            "Ab1 ".repeat(2_000).as_str(),
            "\u{301}ABC \u{301}\u{301}abc 日本X don'T WE'LL \u{17f}'\u{17f} I'\u{17f}",
            "line\r\n\r\n  \n\t \r\r\n/x!!\n/\n/ 12345678",
        ]
        .map(str::to_owned),
    );
    corpus.sort();
    corpus.dedup();
    let mut tokens = 0;
    let mut differing = Vec::new();
    for text in &corpus {
        tokens += tiktoken(text);
        if let Some(why) = differs(text) {
            differing.push((why, text.chars().take(80).collect::<String>()));
        }
    }
    assert!(
        differing.is_empty(),
        "{} of {} texts differ (what, text): {:#?}",
        differing.len(),
        corpus.len(),
        &differing[..differing.len().min(10)]
    );
    // Big enough to mean something: every fixture, thousands of texts, hundreds of thousands
    // of tokens.
    assert!(corpus.len() > 2_000, "{} texts", corpus.len());
    assert!(tokens > 100_000, "{tokens} tokens");
    eprintln!("{} texts, {tokens} tokens: equal", corpus.len());
}

#[test]
fn json_values_are_counted_as_their_compact_text() {
    for (_, text) in fixture_texts() {
        for line in text.lines() {
            if let Ok(value) = serde_json::from_str::<Value>(line) {
                assert_eq!(
                    turnscope::tokens::count_json(&value),
                    tiktoken(&value.to_string())
                );
            }
        }
    }
}
