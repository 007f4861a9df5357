//! The offline o200k counter (bpe-openai) gives exactly tiktoken's counts (tiktoken-rs, OpenAI's
//! tables) on real payloads: every frame and every string inside every frame of every fixture
//! (the public captures in tests/fixtures/real/ and their raw cassettes included), plus text
//! that stresses the pre-tokenizer (code, CJK, emoji, combining marks, whitespace runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

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

fn tiktoken(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len()
}

#[test]
fn bpe_openai_counts_equal_tiktoken_on_real_payloads() {
    let files = fixture_texts();
    assert!(
        files.iter().any(|(p, _)| p.contains("/real/")),
        "the real captures are part of the corpus"
    );
    let mut corpus: Vec<String> = Vec::new();
    for (_, text) in &files {
        corpus.push(text.clone());
        for line in text.lines() {
            corpus.push(line.to_owned());
            if let Ok(value) = serde_json::from_str::<Value>(line) {
                strings(&value, &mut corpus);
                if let Some(frame) = value.get("frame") {
                    corpus.push(frame.to_string());
                }
            }
        }
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
        ]
        .map(str::to_owned),
    );
    corpus.sort();
    corpus.dedup();
    let mut tokens = 0;
    let mut differing = Vec::new();
    for text in &corpus {
        let want = tiktoken(text);
        let got = turnscope::tokens::count(text);
        tokens += want;
        if got != want {
            differing.push((got, want, text.chars().take(80).collect::<String>()));
        }
    }
    assert!(
        differing.is_empty(),
        "{} of {} texts differ (bpe-openai, tiktoken, text): {:#?}",
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
