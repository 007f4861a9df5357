//! Secret redaction: API keys, bearer tokens and credential headers never reach an artefact.
//!
//! Two layers. Explicit secrets (the key turnscope was given, every credential the proxy saw on
//! an agent's request) are replaced wherever they appear. Shape heuristics catch keys nobody
//! told us about: `sk-…` at a word start, `Bearer …`, credential query parameters and the value
//! of any JSON member or header named like a credential. JSON text is redacted on its decoded
//! string content, so an escape (`"…\nsk-…"`, `"\u0073k-…"`) or a JSON document nested inside a
//! string cannot hide a key; a string is re-encoded only when something in it was masked.

use std::borrow::Cow;

use crate::frame::{Frame, Payload};
use crate::protocol::head::scan::string_end;

mod file;
mod formatter;
mod prefilter;
pub use file::{append_private, create_private};
pub use formatter::RedactingFormatter;

/// What a masked secret becomes.
pub const MASK: &str = "[REDACTED]";

/// Shorter explicit secrets are ignored: masking `abc` everywhere would shred the text.
const MIN_SECRET_LEN: usize = 8;
/// A token after `sk-` or `Bearer ` shorter than this is prose (`sk-short`), not a key.
const MIN_KEY_TOKEN: usize = 16;
/// JSON nested in strings nested in strings… deeper than this is redacted as plain text.
const MAX_DEPTH: usize = 4;
/// Longest text the one-scan pre-filter reads first (see `needs_full_pass`).
const PREFILTER_MAX_LEN: usize = 8 << 10;

/// Explicit secrets, kept long enough to be masked safely and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The usable secrets among `items`.
    pub fn new<I, S>(items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut s = Secrets::default();
        for item in items {
            s.add(item.as_ref());
        }
        s
    }

    /// Adds `secret` (trimmed); false when it is too short or already known.
    pub fn add(&mut self, secret: &str) -> bool {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN || self.0.iter().any(|s| s == secret) {
            return false;
        }
        self.0.push(secret.to_owned());
        // Longest first: a secret that contains another is masked whole.
        self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        true
    }

    /// The secrets, longest first.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// `text` with every secret masked (see [`redact_json`]).
    pub fn redact_json<'a>(&self, text: &'a str) -> Cow<'a, str> {
        redact_json(text, &self.0)
    }

    /// Masks secrets inside a frame's payload (JSON on its decoded strings; text and UTF-8 binary
    /// frames as text), so what consumers of the frame see is as clean as the transcript. True
    /// when something was masked.
    pub fn redact_frame(&self, frame: &mut Frame) -> bool {
        let clean = match &frame.payload {
            Payload::Json(text) => match self.redact_json(text) {
                Cow::Owned(clean) => Some(Payload::Json(clean)),
                Cow::Borrowed(_) => None,
            },
            Payload::Text(text) => match self.redact_json(text) {
                Cow::Owned(clean) => Some(Payload::Text(clean)),
                Cow::Borrowed(_) => None,
            },
            Payload::Binary(bytes) => {
                std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|text| match self.redact_json(text) {
                        Cow::Owned(clean) => Some(Payload::Binary(clean.into_bytes())),
                        Cow::Borrowed(_) => None,
                    })
            }
        };
        let changed = clean.is_some();
        if let Some(payload) = clean {
            frame.payload = payload;
        }
        changed
    }

    /// `text` with every secret masked (see [`redact_text`]).
    pub fn redact_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        redact_text(text, &self.0)
    }
}

/// A writer that redacts each line (JSON or text) before passing it on: for output that is
/// streamed in pieces, where a string could be cut between two writes. A JSON string never spans
/// lines, so a line is always whole enough to redact.
#[derive(Debug)]
pub struct RedactLines<W: std::io::Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: std::io::Write> RedactLines<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        RedactLines {
            inner,
            line: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.line[..upto]);
        let clean = redact_json(&text, &[]);
        self.inner.write_all(clean.as_bytes())?;
        self.line.drain(..upto);
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for RedactLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        if let Some(last) = memchr::memrchr(b'\n', &self.line) {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.line.is_empty() {
            self.emit(self.line.len())?;
        }
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for RedactLines<W> {
    fn drop(&mut self) {
        // Like `BufWriter`: a last line without a newline still goes out.
        let _ = std::io::Write::flush(self);
    }
}

/// Header, JSON member and query parameter names that carry a credential, matched whole
/// (without case, after trimming).
const CREDENTIAL_NAMES: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "password",
    "client_secret",
    "client-secret",
];

/// Name endings that carry a credential (`x-api-key`, `OPENAI_API_KEY`, `github_access_token`).
const CREDENTIAL_SUFFIXES: [&str; 12] = [
    "api-key",
    "api_key",
    "apikey",
    "api-token",
    "api_token",
    "access_token",
    "access-token",
    "refresh_token",
    "auth_token",
    "auth-token",
    "session_token",
    "session-token",
];

/// True when a header, JSON member or query parameter of this name carries a credential.
pub fn is_credential_name(name: &str) -> bool {
    // Compared without case in place: a lowercased copy was an allocation for every JSON member
    // of every relayed frame.
    let n = name.trim().as_bytes();
    let ends_with =
        |k: &&str| n.len() >= k.len() && n[n.len() - k.len()..].eq_ignore_ascii_case(k.as_bytes());
    CREDENTIAL_NAMES
        .iter()
        .any(|k| n.eq_ignore_ascii_case(k.as_bytes()))
        || CREDENTIAL_SUFFIXES.iter().any(ends_with)
}

/// True when a query parameter of this name carries a credential: the header names plus the
/// short `key`/`token`/`sig` that URL-keyed APIs use (not JSON members: logprobs carry `token`).
fn is_query_credential(name: &str) -> bool {
    is_credential_name(name)
        || ["key", "token", "sig", "signature"].contains(&name.to_ascii_lowercase().as_str())
}

/// The credential carried by a header value: a bearer/basic token without its scheme, or the whole
/// value for key headers.
pub fn credential_of(value: &str) -> &str {
    let v = value.trim();
    match v.split_once(' ') {
        Some((scheme, token))
            if ["bearer", "basic", "token"].contains(&scheme.to_ascii_lowercase().as_str()) =>
        {
            token.trim()
        }
        _ => v,
    }
}

/// The values of credential parameters in a URL's query string (`?api-key=…&key=…`).
pub fn query_credentials(url: &str) -> Vec<String> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, value)| is_query_credential(name) && !value.is_empty())
        .flat_map(|(_, value)| {
            let decoded = percent_decode(value);
            [value.to_owned(), decoded]
        })
        .collect()
}

/// Redacts JSON (or JSON-ish) text: each string literal is decoded and redacted as text —
/// recursively, since strings often hold JSON themselves — and a credential-named member's string
/// value is masked whole. Text outside string literals is redacted as text too, so a line that
/// is not JSON at all is still safe.
pub fn redact_json<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
    if !needs_full_pass(text, secrets) {
        return Cow::Borrowed(text);
    }
    redact_json_at(text, secrets, 0)
}

/// A string's decoded content redacted the way [`redact_json`] redacts a string literal (nested
/// JSON included), for writers that redact each string as they write it.
pub(crate) fn redact_string(text: &str) -> Cow<'_, str> {
    if prefilter::plain_string(text) || !needs_full_pass(text, &[]) {
        return Cow::Borrowed(text);
    }
    redact_json_at(text, &[], 1)
}

/// Whether redacting `text` may change it. One pass over the bytes settles most texts (see
/// `prefilter` for why it is exact, at any depth). Only short ones: the full pass skips long
/// string contents with memchr and memmem, and on 64 KB frames the byte-at-a-time automaton
/// the pre-filter was at first cost more than it saved (relay bench: +100 us a frame); its
/// anchored SIMD scan was not re-measured there, so the limit stays.
fn needs_full_pass(text: &str, secrets: &[String]) -> bool {
    text.len() > PREFILTER_MAX_LEN || prefilter::may_redact(text, secrets)
}

fn redact_json_at<'a>(text: &'a str, secrets: &[String], depth: usize) -> Cow<'a, str> {
    if depth >= MAX_DEPTH || !text.contains('"') {
        return redact_text(text, secrets);
    }
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0; // text[..copied] is accounted for in `out` (once anything changed)
    let mut changed = false;
    let mut gap_start = 0;
    let mut i = 0;
    // Object-member state: the last key seen, and whether a HAR-style `{"name": "authorization",
    // "value": "…"}` pair named a credential.
    let mut key: Option<String> = None;
    let mut named_credential = false;
    while i < bytes.len() {
        let Some(rel) = memchr::memchr(b'"', &bytes[i..]) else {
            break;
        };
        let start = i + rel;
        let Some(end) = string_end(bytes, start) else {
            break;
        };
        let literal = &text[start..end];
        let gap = &text[gap_start..start];
        if gap.contains('}') {
            named_credential = false;
        }
        let is_key = text[end..].trim_start().starts_with(':');
        let redacted_gap = redact_text(gap, secrets);
        let redacted = if is_key {
            redact_literal(literal, secrets, depth)
        } else {
            let member = key.take();
            let credential = member.as_deref().is_some_and(is_credential_name)
                || (named_credential && member.as_deref() == Some("value"));
            if member.as_deref() == Some("name") {
                named_credential = decode(literal).is_some_and(|n| is_credential_name(&n));
            }
            if credential && literal.len() > 2 {
                Cow::Owned(format!("\"{MASK}\""))
            } else {
                redact_literal(literal, secrets, depth)
            }
        };
        if is_key {
            key = decode(literal);
        }
        if matches!(redacted_gap, Cow::Owned(_)) || matches!(redacted, Cow::Owned(_)) {
            if !changed {
                out.reserve(text.len());
                changed = true;
            }
            out.push_str(&text[copied..gap_start]);
            out.push_str(&redacted_gap);
            out.push_str(&redacted);
            copied = end;
        }
        gap_start = end;
        i = end;
    }
    let tail = &text[gap_start..];
    let redacted_tail = redact_text(tail, secrets);
    if !changed && matches!(redacted_tail, Cow::Borrowed(_)) {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..gap_start]);
    out.push_str(&redacted_tail);
    Cow::Owned(out)
}

fn decode(literal: &str) -> Option<String> {
    serde_json::from_str::<String>(literal).ok()
}

/// One string literal, redacted on its decoded content and re-encoded only when that changed.
fn redact_literal<'a>(literal: &'a str, secrets: &[String], depth: usize) -> Cow<'a, str> {
    let inner = &literal[1..literal.len() - 1];
    if !inner.contains('\\') {
        // Nothing escaped: the literal's content is the decoded text.
        return match redact_json_at(inner, secrets, depth + 1) {
            Cow::Borrowed(_) => Cow::Borrowed(literal),
            Cow::Owned(clean) => Cow::Owned(format!("\"{clean}\"")),
        };
    }
    let Some(decoded) = decode(literal) else {
        // Not valid JSON (a cut line): the escape-aware text rules still apply.
        return redact_text(literal, secrets);
    };
    match redact_json_at(&decoded, secrets, depth + 1) {
        Cow::Borrowed(_) => Cow::Borrowed(literal),
        Cow::Owned(clean) => {
            Cow::Owned(serde_json::to_string(&clean).unwrap_or_else(|_| format!("\"{MASK}\"")))
        }
    }
}

/// Redacts plain text: explicit secrets (also percent-encoded), `Bearer …` tokens, `sk-…` keys at
/// a word start (an escape such as `\n` or `\u000a` before them counts as a word break) and
/// credential query parameters.
pub fn redact_text<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets {
        for form in [Cow::Borrowed(secret.as_str()), percent_encode(secret)] {
            if out.contains(form.as_ref()) {
                out = Cow::Owned(out.replace(form.as_ref(), MASK));
            }
        }
    }
    if let Some(clean) = mask_tokens(&out) {
        out = Cow::Owned(clean);
    }
    if let Some(clean) = mask_query(&out) {
        out = Cow::Owned(clean);
    }
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Masks the token after `sk-` (at a word start) and after `Bearer ` (any case); None if none.
fn mask_tokens(text: &str) -> Option<String> {
    let mut next_bearer = ascii_find(text, "bearer ", 0);
    if !text.contains("sk-") && next_bearer.is_none() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut changed = false;
    while i < text.len() {
        let sk = text[i..].find("sk-").map(|p| (i + p, "sk-"));
        if next_bearer.is_some_and(|p| p < i) {
            next_bearer = ascii_find(text, "bearer ", i);
        }
        let bearer = next_bearer.map(|p| (p, "bearer "));
        let (pos, marker) = match (sk, bearer) {
            (Some(a), Some(b)) => std::cmp::min_by_key(a, b, |m| m.0),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => break,
        };
        let after = pos + marker.len();
        let token_len = text[after..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(text.len() - after);
        let at_word_start = marker != "sk-" || word_starts_at(text, pos);
        out.push_str(&text[i..pos]);
        if at_word_start && token_len >= MIN_KEY_TOKEN {
            if marker != "sk-" {
                out.push_str(&text[pos..after]);
            }
            out.push_str(MASK);
            changed = true;
        } else {
            out.push_str(&text[pos..after + token_len]);
        }
        i = after + token_len;
    }
    if !changed {
        return None;
    }
    out.push_str(&text[i.min(text.len())..]);
    Some(out)
}

/// True when a word starts at `pos`: the text before it ends in a non-alphanumeric character
/// (`_` included: `call_sk-…` or `KEY_sk-…` glue a key onto an identifier, and masking a rare
/// false positive costs less than writing a key), or in a JSON/C escape (`\n`, `\t`, `\u000a`,
/// …) whose letters would otherwise glue onto the key.
fn word_starts_at(text: &str, pos: usize) -> bool {
    let before = &text[..pos];
    let Some(last) = before.chars().next_back() else {
        return true;
    };
    if !last.is_ascii_alphanumeric() {
        return true;
    }
    let b = before.as_bytes();
    let n = b.len();
    // `\n`, `\t`, `\r`, `\b`, `\f` (and `\x` for other escapers).
    if n >= 2 && b[n - 2] == b'\\' {
        return true;
    }
    // `\u000a`, and `\x0a`.
    (n >= 6
        && b[n - 6] == b'\\'
        && b[n - 5] == b'u'
        && b[n - 4..].iter().all(u8::is_ascii_hexdigit))
        || (n >= 4
            && b[n - 4] == b'\\'
            && b[n - 3] == b'x'
            && b[n - 2..].iter().all(u8::is_ascii_hexdigit))
}

/// Masks credential query parameters (`?key=…`, `&api-key=…`); None if none.
fn mask_query(text: &str) -> Option<String> {
    if !text.contains('=') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    for (pos, _) in text.match_indices(['?', '&', ';']) {
        if pos < i {
            continue;
        }
        let rest = &text[pos + 1..];
        let Some(eq) = rest.find('=') else { continue };
        let name = &rest[..eq];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            || !is_query_credential(name)
        {
            continue;
        }
        let value_start = pos + 1 + eq + 1;
        let value_len = text[value_start..]
            .find(|c: char| {
                matches!(c, '&' | '#' | '"' | '\'' | '<' | '>' | ';') || c.is_whitespace()
            })
            .unwrap_or(text.len() - value_start);
        if value_len == 0 {
            continue;
        }
        out.push_str(&text[i..value_start]);
        out.push_str(MASK);
        changed = true;
        i = value_start + value_len;
    }
    if !changed {
        return None;
    }
    out.push_str(&text[i..]);
    Some(out)
}

/// Position of `needle` (lowercase ASCII) in `text` at or after `from`, ignoring ASCII case.
fn ascii_find(text: &str, needle: &str, from: usize) -> Option<usize> {
    let hay = text.as_bytes();
    let n = needle.as_bytes();
    if hay.len() < n.len() {
        return None;
    }
    let first = *n.first()?;
    let (lower, upper) = (first, first.to_ascii_uppercase());
    let last = hay.len() - n.len();
    let mut p = from;
    // Candidates are only where the first letter is (either case): memchr finds them.
    while p <= last {
        p += memchr::memchr2(lower, upper, &hay[p..=last])?;
        if hay[p..p + n.len()].eq_ignore_ascii_case(n) {
            return Some(p);
        }
        p += 1;
    }
    None
}

fn percent_encode(s: &str) -> Cow<'_, str> {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.bytes().fold(String::new(), |mut o, b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(char::from(b));
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
        o
    }))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "secrets/tests.rs"]
mod tests;
