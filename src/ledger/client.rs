//! Names the client behind a connection from its handshake headers, and finds the remedy for
//! each verdict in `remedies.toml` (one documented data file, embedded).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::insight::{CacheOutcome, Cause, ConnEvent, Insight, SendMode};

/// The data file: client rules and their remedies.
const REMEDIES: &str = include_str!("remedies.toml");

/// A client as the ledger names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    /// Stable key from `remedies.toml` (`openai-python`, `codex-cli`, …), or `unknown`.
    pub id: String,
    /// What the screens show.
    pub name: String,
    /// The version from its header, when it carries one.
    pub version: Option<String>,
    /// The `User-Agent` it sent (redacted like every recorded line).
    pub user_agent: Option<String>,
}

impl Client {
    /// `OpenAI Python SDK 3.51.0`, or just the name.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What to change in the client for one verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remedy {
    /// The verdict's key (`full_resend`, `tools_reordered`, …).
    pub verdict: String,
    /// The change, in the client's own terms.
    pub text: String,
}

/// Why the embedded remedies file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("src/ledger/remedies.toml: {0}; fix the file (its header documents the format)")]
pub struct RemediesError(String);

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    client: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    id: String,
    name: String,
    header: String,
    prefixes: Vec<String>,
    #[serde(default)]
    remedies: BTreeMap<String, String>,
}

/// Every verdict key a remedy may name (the file's header lists them).
pub const VERDICTS: &[&str] = &[
    "full_resend",
    "cache_miss",
    "tools_changed",
    "tools_reordered",
    "instructions_changed",
    "model_changed",
    "new_connection",
    "store_false_after_reconnect",
    "resend_after_not_found",
    "http_fallback",
    "age_limit",
];

fn parse(text: &str) -> Result<Vec<Rule>, RemediesError> {
    let file: File = toml::from_str(text).map_err(|e| RemediesError(e.to_string()))?;
    for rule in &file.client {
        if let Some(bad) = rule
            .remedies
            .keys()
            .find(|k| !VERDICTS.contains(&k.as_str()))
        {
            return Err(RemediesError(format!(
                "client {:?} has a remedy for unknown verdict {bad:?} (known: {})",
                rule.id,
                VERDICTS.join(", ")
            )));
        }
    }
    Ok(file.client)
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    // The file is checked by a unit test; a broken edit yields no rules rather than a panic.
    RULES.get_or_init(|| parse(REMEDIES).unwrap_or_default())
}

/// Whether a request header may be recorded: identification only, never a credential.
pub fn recordable_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let secret = [
        "auth", "key", "token", "secret", "cookie", "password", "session",
    ]
    .iter()
    .any(|s| name.contains(s));
    !secret
        && (matches!(
            name.as_str(),
            "user-agent" | "openai-beta" | "openai-organization" | "openai-project"
        ) || name.starts_with("x-"))
}

/// The `client` meta line for a handshake's headers: the recordable ones, names in lower case,
/// values through the transcript redaction; `None` when none is recordable.
pub fn meta_body<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Value> {
    let mut kept = Map::new();
    for (name, value) in headers {
        if recordable_header(name) {
            let value = crate::transcript::redact(value, &[]);
            kept.insert(name.to_ascii_lowercase(), Value::String(value));
        }
    }
    (!kept.is_empty()).then(|| json!({"event": "client", "headers": kept}))
}

/// Names the client from recorded headers (lower-case names).
pub fn identify(headers: &Map<String, Value>) -> Client {
    let get = |name: &str| headers.get(name).and_then(Value::as_str);
    let user_agent = get("user-agent").map(str::to_owned);
    for rule in rules() {
        let value = get(&rule.header).unwrap_or_default();
        if let Some(rest) = rule
            .prefixes
            .iter()
            .find_map(|p| value.strip_prefix(p.as_str()))
        {
            let version = rest
                .split([' ', '(', ';'])
                .next()
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            return Client {
                id: rule.id.clone(),
                name: rule.name.clone(),
                version,
                user_agent,
            };
        }
    }
    Client {
        id: "unknown".into(),
        name: "unknown client".into(),
        version: None,
        user_agent,
    }
}

/// The verdict keys that apply to a turn's insight.
pub fn verdicts(insight: &Insight) -> Vec<&'static str> {
    let mut out = Vec::new();
    if matches!(insight.mode, SendMode::FullResend { .. }) {
        out.push("full_resend");
    }
    if insight.cache == CacheOutcome::Miss {
        let mut explained = false;
        for cause in &insight.causes {
            let key = match cause {
                Cause::ToolsChanged { .. } => "tools_changed",
                Cause::ToolsReordered { .. } => "tools_reordered",
                Cause::InstructionsChanged => "instructions_changed",
                Cause::ModelChanged { .. } => "model_changed",
                Cause::NewConnection { .. } => "new_connection",
                Cause::StoreFalseAfterReconnect => "store_false_after_reconnect",
                _ => continue,
            };
            explained = true;
            out.push(key);
        }
        if !explained {
            out.push("cache_miss");
        }
    }
    for event in &insight.events {
        match event {
            ConnEvent::ResendAfterNotFound { .. } => out.push("resend_after_not_found"),
            ConnEvent::HttpFallback => out.push("http_fallback"),
            ConnEvent::AgeLimit => out.push("age_limit"),
            ConnEvent::Reconnect { .. } => {}
        }
    }
    out.dedup();
    out
}

/// The remedies for a turn's verdicts when its client is known.
pub fn remedies(client: &Client, insight: &Insight) -> Vec<Remedy> {
    let Some(rule) = rules().iter().find(|r| r.id == client.id) else {
        return Vec::new();
    };
    verdicts(insight)
        .into_iter()
        .filter_map(|v| {
            rule.remedies.get(v).map(|text| Remedy {
                verdict: v.to_owned(),
                text: text.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Map<String, Value> {
        let body = meta_body(pairs.iter().copied()).unwrap();
        body["headers"].as_object().unwrap().clone()
    }

    #[test]
    fn the_embedded_file_parses_and_names_only_known_verdicts() {
        let rules = parse(REMEDIES).unwrap();
        assert!(rules.len() >= 4);
        assert!(rules.iter().all(|r| !r.remedies.is_empty()));
        let bad = "[[client]]\nid='x'\nname='X'\nheader='user-agent'\nprefixes=['X/']\n[client.remedies]\nfull_resnd='typo'\n";
        let err = parse(bad).unwrap_err().to_string();
        assert!(
            err.contains("full_resnd") && err.contains("remedies.toml"),
            "{err}"
        );
    }

    #[test]
    fn credentials_are_never_recorded() {
        let h = headers(&[
            ("Authorization", "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz"),
            ("api-key", "abc"),
            ("X-Api-Key", "abc"),
            ("Cookie", "a=b"),
            ("OpenAI-Beta", "responses_websockets=2026-02-06"),
            ("User-Agent", "OpenAI/Python 3.51.0"),
            ("X-Stainless-Lang", "python"),
            ("OpenAI-Project", "proj_123"),
            ("Sec-WebSocket-Key", "abc"),
        ]);
        let names: Vec<&str> = h.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "openai-beta",
                "openai-project",
                "user-agent",
                "x-stainless-lang"
            ]
        );
        assert!(meta_body([("authorization", "Bearer x")]).is_none());
        let leaked = headers(&[("x-debug", "sk-proj-abcdefghijklmnopqrstuvwxyz0123")]);
        assert_eq!(leaked["x-debug"], "[REDACTED]");
    }

    #[test]
    fn names_each_known_client_with_its_version() {
        for (ua, id, version) in [
            ("OpenAI/Python 3.51.0", "openai-python", "3.51.0"),
            ("OpenAI/JS 6.9.1", "openai-node", "6.9.1"),
            (
                "codex_cli_rs/0.169.0 (Ubuntu 24.4.0; x86_64) xterm",
                "codex-cli",
                "0.169.0",
            ),
            ("Agents/Python 0.6.1", "openai-agents-python", "0.6.1"),
            ("turnscope/0.1.0", "turnscope", "0.1.0"),
            (
                "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
                "codex-cli",
                "0.169.0",
            ),
        ] {
            let c = identify(&headers(&[("user-agent", ua)]));
            assert_eq!((c.id.as_str(), c.version.as_deref()), (id, Some(version)));
        }
        let unknown = identify(&headers(&[("user-agent", "curl/8.0")]));
        assert_eq!(unknown.id, "unknown");
        assert_eq!(unknown.user_agent.as_deref(), Some("curl/8.0"));
    }

    #[test]
    fn a_full_resend_gets_the_clients_remedy() {
        let insight = Insight {
            mode: SendMode::FullResend {
                reason: "x".into(),
                known_items: 3,
                known_bytes: 100,
                known_tokens: 50,
            },
            cache: CacheOutcome::Miss,
            expected_cached_tokens: 100,
            causes: vec![Cause::ToolsReordered {
                from: vec![],
                to: vec![],
            }],
            events: vec![],
            retry_safe: None,
        };
        let client = identify(&headers(&[("user-agent", "OpenAI/Python 3.51.0")]));
        let got = remedies(&client, &insight);
        let keys: Vec<&str> = got.iter().map(|r| r.verdict.as_str()).collect();
        assert_eq!(keys, ["full_resend", "tools_reordered"]);
        assert!(got[0].text.contains("previous_response_id"));
        let unknown = identify(&headers(&[("user-agent", "curl/8.0")]));
        assert!(remedies(&unknown, &insight).is_empty());
    }
}
