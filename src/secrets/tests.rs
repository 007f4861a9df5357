//! Unit and property tests of redaction; the keys here are never passed as explicit secrets
//! unless a test says so, because the heuristics are what protects against unknown keys.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const KEY: &str = "sk-proj-TURNSCOPETESTKEY0123456789abcdef";
const PARTS: [&str; 3] = ["TURNSCOPETESTKEY", "0123456789abcdef", "sk-proj-TURNSCOPE"];

fn clean(text: &str) -> bool {
    PARTS.iter().all(|p| !text.contains(p))
}

/// Every JSON escape a key can follow, as decoded characters.
const ESCAPED: [char; 10] = [
    '\n', '\t', '\r', '\u{8}', '\u{c}', '/', '\\', '"', '\u{1}', '\u{2028}',
];

fn cases() -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

#[test]
fn the_escape_that_used_to_hide_a_key_no_longer_does() {
    // Before: the `n` of `\n` counted as a word character and the key was written.
    let line = json!({"input": format!("line one\n{KEY}")}).to_string();
    assert!(line.contains("\\nsk-proj"), "{line}");
    let out = redact_json(&line, &[]);
    assert!(clean(&out), "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["input"],
        "line one\n[REDACTED]"
    );
    // A unicode escape spelling the key's first letter.
    let sneaky = r#"{"a":"\u0073k-proj-TURNSCOPETESTKEY0123456789abcdef"}"#;
    assert!(clean(&redact_json(sneaky, &[])));
}

#[test]
fn a_key_glued_after_an_underscore_is_masked() {
    // Before: `_` counted as a word character, so `call_sk-…` was written out whole.
    for glued in [format!("call_{KEY}"), format!("OPENAI_API_KEY_{KEY}")] {
        let line = json!({ "arguments": glued }).to_string();
        let out = redact_json(&line, &[]);
        assert!(clean(&out), "{out}");
        assert!(out.contains("_[REDACTED]"), "{out}");
    }
}

#[test]
fn prose_and_ids_are_left_alone() {
    let word = r#"{"a":"a task-abcdefghijklmnopqrstuvwx and risk-0123456789abcdefghij","id":"resp_1","x":"sk-short"}"#;
    assert!(matches!(redact_json(word, &[]), Cow::Borrowed(_)));
    let logprobs =
        r#"{"logprobs":[{"token":"Hello","logprob":-0.1}],"prompt_cache_key":"abcdefgh12345678"}"#;
    assert!(matches!(redact_json(logprobs, &[]), Cow::Borrowed(_)));
}

#[test]
fn credential_members_headers_and_queries_are_masked() {
    let line = r#"{"headers":{"api-key":"0123abcd0123abcd","Authorization":"Basic dXNlcjpwYXNz","OpenAI-Project":"proj_1"},"har":[{"name":"x-api-key","value":"zzzzyyyyxxxx"},{"name":"accept","value":"*/*"}],"url":"wss://h/v1/responses?api-key=q1w2e3r4t5&model=gpt"}"#;
    let out = redact_json(line, &[]);
    for gone in [
        "0123abcd0123abcd",
        "dXNlcjpwYXNz",
        "zzzzyyyyxxxx",
        "q1w2e3r4t5",
    ] {
        assert!(!out.contains(gone), "{gone} in {out}");
    }
    for kept in ["proj_1", "*/*", "model=gpt"] {
        assert!(out.contains(kept), "{kept} lost from {out}");
    }
    serde_json::from_str::<Value>(&out).unwrap();
}

#[test]
fn explicit_secrets_are_masked_plain_and_percent_encoded() {
    let secrets = Secrets::new(["abc/def+ghi=jkl", "short"]);
    assert_eq!(secrets.as_slice().len(), 1, "a short secret is refused");
    let out = secrets.redact_text("a abc/def+ghi=jkl b abc%2Fdef%2Bghi%3Djkl c");
    assert_eq!(out, "a [REDACTED] b [REDACTED] c");
}

#[test]
fn header_credentials_and_query_keys_are_extracted() {
    assert_eq!(credential_of("Bearer sk-abc"), "sk-abc");
    assert_eq!(credential_of("0123abcd"), "0123abcd");
    let found = query_credentials("/v1/responses?api-key=a%2Fb1234567&x=1&key=plainkey99");
    assert!(found.contains(&"a/b1234567".to_owned()), "{found:?}");
    assert!(found.contains(&"plainkey99".to_owned()), "{found:?}");
}

/// Decoded text carrying the key after `pre`, glued to `post`.
fn with_key(pre: &str, esc: char, post: &str) -> String {
    format!("{pre}{esc}{KEY}{post}")
}

/// `text` nested `depth` times: a JSON document inside a string inside a document…
fn nest(text: String, depth: usize) -> String {
    let mut doc = json!({"type": "response.output_text.delta", "delta": text}).to_string();
    for _ in 0..depth {
        doc =
            json!({"type": "response.function_call_arguments.done", "arguments": doc}).to_string();
    }
    doc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(u32::try_from(cases()).unwrap_or(256)))]

    /// The key is never an explicit secret here: after any escape, nested up to three strings deep,
    /// glued to any text, it never survives, and the line stays valid JSON.
    #[test]
    fn a_key_after_any_escape_in_nested_strings_is_masked(
        pre in "\\PC{0,12}",
        post in "[^A-Za-z0-9_.-]\\PC{0,12}|",
        esc in proptest::sample::select(ESCAPED.to_vec()),
        depth in 0usize..3,
    ) {
        let line = nest(with_key(&pre, esc, &post), depth);
        let out = redact_json(&line, &[]);
        prop_assert!(clean(&out), "{}", out);
        prop_assert!(serde_json::from_str::<Value>(&out).is_ok(), "{}", out);
    }

    /// Also as raw text (a frame that is not JSON, a log line, an error message).
    #[test]
    fn a_key_in_text_after_any_escape_is_masked(
        pre in "\\PC{0,12}",
        esc in proptest::sample::select(vec!["\\n", "\\t", "\\r", "\\u000a", "\\\\", "\\\"", " ", "\"", "=", ":"]),
    ) {
        let text = format!("{pre}{esc}{KEY}");
        prop_assert!(clean(&redact_text(&text, &[])), "{}", text);
        prop_assert!(clean(&redact_json(&text, &[])), "{}", text);
    }

    /// A key of any shape in a credential header, a HAR pair or a URL's query is masked.
    #[test]
    fn any_credential_in_headers_and_urls_is_masked(
        secret in "[A-Za-z0-9]{12,40}",
        header in proptest::sample::select(vec!["api-key", "x-api-key", "authorization", "OpenAI-Api-Key", "Cookie"]),
        param in proptest::sample::select(vec!["key", "api-key", "api_key", "access_token", "token"]),
    ) {
        let url = format!("https://example.test/v1/responses?model=m&{param}={secret}#f");
        let line = json!({"event": "connect", "url": url, "headers": {header: format!("Bearer {secret}")},
            "har": [{"name": header, "value": secret}]}).to_string();
        let out = redact_json(&line, &[]);
        prop_assert!(!out.contains(&secret), "{}", out);
        prop_assert!(serde_json::from_str::<Value>(&out).is_ok(), "{}", out);
        prop_assert!(query_credentials(&url).contains(&secret));
    }

    /// Text without any key shape comes back byte-identical.
    #[test]
    fn keyless_json_is_unchanged(
        s in "[^sSbB?&;]{0,40}",
        n in any::<i64>(),
    ) {
        let line = json!({"type": "x", "text": s, "n": n, "nested": json!({"a": s}).to_string()}).to_string();
        prop_assert!(matches!(redact_json(&line, &[]), Cow::Borrowed(_)), "{}", line);
    }

    /// Arbitrary input never panics and never grows a key.
    #[test]
    fn arbitrary_input_never_panics(text in "\\PC{0,80}", secret in "\\PC{0,20}") {
        let _ = redact_json(&text, std::slice::from_ref(&secret));
        let _ = redact_text(&text, &[secret]);
        let _ = query_credentials(&text);
    }
}

/// Credential names match without case and after trimming, by whole name or by suffix; other
/// names (and longer ones that merely contain a credential word) do not.
#[test]
fn credential_names_match_without_case() {
    for name in [
        "Authorization",
        " PROXY-AUTHORIZATION ",
        "Set-Cookie",
        "x-openai-API-Key",
        "OPENAI_API_KEY",
        "apikey",
        "github_access_token",
        "Refresh_Token",
        "client_secret",
    ] {
        assert!(is_credential_name(name), "{name:?}");
    }
    for name in [
        "",
        "authorization2",
        "api-keys",
        "token",
        "tokens",
        "key",
        "author",
        "Ünïcode_api_key_ü",
        "cookies",
    ] {
        assert!(!is_credential_name(name), "{name:?}");
    }
}
