//! Why a turn looks the way it does: incremental or full resend, cache hit or miss and its
//! likely cause, connection events, and whether a failed turn is safe to retry.

use std::borrow::Cow;
use std::hash::{BuildHasher, DefaultHasher, Hash, Hasher};

use serde::Serialize;

use crate::protocol::{ItemHead, Raw, RequestHead};
use crate::tokens::Counter;

/// How a turn's input relates to what the server already had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SendMode {
    /// No `previous_response_id` and nothing seen before: a new conversation.
    Fresh,
    /// Chained by `previous_response_id`, only new items: the point of WebSocket mode.
    Incremental,
    /// Items the server had already seen were sent again.
    FullResend {
        /// Why the ledger calls it a resend.
        reason: String,
        /// Items of the input that were already known.
        known_items: u64,
        /// Their bytes.
        known_bytes: u64,
        /// Their tokens.
        known_tokens: u64,
    },
}

/// Whether the server's cache served what the ledger expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// Nothing (or too little) to expect: first turn of a conversation.
    NotApplicable,
    /// No usage reported (yet).
    Unknown,
    /// `cached_tokens` at least half of the expected context.
    Hit,
    /// `cached_tokens` fell short of half the expected context.
    Miss,
}

/// A likely cause of a cache miss or a full resend, found by comparing with the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Cause {
    /// `instructions` differ from the parent's.
    InstructionsChanged,
    /// Tools were added, removed or redefined.
    ToolsChanged {
        /// Tool names added.
        added: Vec<String>,
        /// Tool names removed.
        removed: Vec<String>,
        /// Tool names whose definition changed.
        changed: Vec<String>,
    },
    /// The same tools in another order (the prefix changes, so the cache misses).
    ToolsReordered {
        /// The parent's order.
        from: Vec<String>,
        /// This turn's order.
        to: Vec<String>,
    },
    /// The model changed.
    ModelChanged {
        /// The parent's model.
        from: Option<String>,
        /// This turn's model.
        to: Option<String>,
    },
    /// `reasoning` settings changed.
    ReasoningChanged,
    /// `text` settings changed.
    TextChanged,
    /// The turn runs on another connection than its parent: that cache is gone.
    NewConnection {
        /// The parent's connection.
        from: u32,
        /// This turn's.
        to: u32,
    },
    /// `store=false` on a new connection: the parent cannot be loaded from storage either.
    StoreFalseAfterReconnect,
    /// `context_management` (compaction) can shrink what is carried.
    Compaction,
    /// Nothing the ledger can see explains it.
    Unknown,
}

/// Connection-level events that explain a turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum ConnEvent {
    /// First turn after a reconnect.
    Reconnect {
        /// The previous connection's close code.
        code: Option<u16>,
        /// Its close reason, or why the client reconnected.
        reason: Option<String>,
    },
    /// The previous connection reached the 60-minute limit.
    AgeLimit,
    /// A full resend that follows a `previous_response_not_found` on turn `after`.
    ResendAfterNotFound {
        /// The rejected turn (1-based).
        after: usize,
    },
    /// An HTTP-mode turn after WebSocket turns: the client fell back to HTTP.
    HttpFallback,
}

/// The ledger's verdict on one turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Insight {
    /// Incremental, fresh or full resend.
    pub mode: SendMode,
    /// Cache outcome once usage is known.
    pub cache: CacheOutcome,
    /// Context tokens the ledger expected the server to have cached.
    pub expected_cached_tokens: u64,
    /// Differences from the parent (or the previous turn on the lane); the likely causes.
    pub causes: Vec<Cause>,
    /// Connection events that precede this turn.
    pub events: Vec<ConnEvent>,
    /// For a turn that failed or dropped: true when no output had been streamed, so a retry
    /// cannot duplicate visible output or tool calls.
    pub retry_safe: Option<bool>,
}

impl Default for Insight {
    fn default() -> Self {
        Insight {
            mode: SendMode::Fresh,
            cache: CacheOutcome::Unknown,
            expected_cached_tokens: 0,
            causes: Vec::new(),
            events: Vec::new(),
            retry_safe: None,
        }
    }
}

/// One tool of a request's prefix: name and definition hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolSig {
    /// The tool's name (or its type for built-ins).
    pub name: String,
    /// Hash of its definition.
    pub hash: String,
}

/// The stable prefix of a request, a hash per part, so two turns compare at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Prefix {
    /// Model requested.
    pub model: Option<String>,
    /// Hash of `instructions`.
    pub instructions: Option<String>,
    /// Tools in order.
    pub tools: Vec<ToolSig>,
    /// Hash of `reasoning`.
    pub reasoning: Option<String>,
    /// Hash of `text`.
    pub text: Option<String>,
    /// Whether `context_management` was sent.
    pub compaction: bool,
    /// Tokens of `instructions` and `tools`: the part of the prompt before the input items,
    /// where the prompt cache's prefix starts (see [`prefix_texts`]).
    pub tokens: u64,
}

/// The texts of a request's prompt that come before the input items — `instructions`, then
/// each tool — in the order the prompt cache sees them (the emulator's `prompt_cached` builds
/// its prompt the same way). The one definition of what [`Prefix::tokens`] counts.
pub(crate) fn prefix_texts<'a>(request: &RequestHead<'a>) -> Vec<&'a str> {
    request
        .instructions
        .filter(|v| v.get() != "null")
        .into_iter()
        .chain(request.tools.iter().flatten().copied())
        .map(|v| v.get())
        .collect()
}

/// Short, stable hash of some text (hex, 12 digits).
pub fn short_hash(text: &str) -> String {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

impl Prefix {
    /// Builds the prefix from a request's head, counting its tokens with `counter`.
    pub(crate) fn from_raw(
        model: Option<String>,
        raw: &RequestHead<'_>,
        counter: &mut Counter,
    ) -> Self {
        let hash =
            |v: Option<Raw<'_>>| v.filter(|v| v.get() != "null").map(|v| short_hash(v.get()));
        Prefix {
            model,
            instructions: hash(raw.instructions),
            tools: raw
                .tools
                .iter()
                .flatten()
                .map(|t| {
                    let name = ItemHead::scan(t.get())
                        .map(|h| h.name.as_deref().unwrap_or(h.kind()).to_owned())
                        .unwrap_or_default();
                    ToolSig {
                        name,
                        hash: short_hash(t.get()),
                    }
                })
                .collect(),
            reasoning: hash(raw.reasoning),
            text: hash(raw.text),
            compaction: raw.context_management.is_some_and(|v| v.get() != "null"),
            tokens: prefix_texts(raw)
                .into_iter()
                .map(|t| counter.count(t))
                .sum(),
        }
    }

    /// What changed from `parent` to `self`.
    pub fn changes_from(&self, parent: &Prefix) -> Vec<Cause> {
        let mut causes = Vec::new();
        if self.instructions != parent.instructions {
            causes.push(Cause::InstructionsChanged);
        }
        let names = |p: &Prefix| p.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        let (mine, theirs) = (names(self), names(parent));
        if self.tools != parent.tools {
            let added: Vec<String> = mine
                .iter()
                .filter(|n| !theirs.contains(n))
                .cloned()
                .collect();
            let removed: Vec<String> = theirs
                .iter()
                .filter(|n| !mine.contains(n))
                .cloned()
                .collect();
            let changed: Vec<String> = self
                .tools
                .iter()
                .filter(|t| {
                    parent
                        .tools
                        .iter()
                        .any(|p| p.name == t.name && p.hash != t.hash)
                })
                .map(|t| t.name.clone())
                .collect();
            if added.is_empty() && removed.is_empty() && changed.is_empty() {
                causes.push(Cause::ToolsReordered {
                    from: theirs,
                    to: mine,
                });
            } else {
                causes.push(Cause::ToolsChanged {
                    added,
                    removed,
                    changed,
                });
            }
        }
        if self.model != parent.model {
            causes.push(Cause::ModelChanged {
                from: parent.model.clone(),
                to: self.model.clone(),
            });
        }
        if self.reasoning != parent.reasoning {
            causes.push(Cause::ReasoningChanged);
        }
        if self.text != parent.text {
            causes.push(Cause::TextChanged);
        }
        if self.compaction {
            causes.push(Cause::Compaction);
        }
        causes
    }
}

/// An identity for an input or output item, so a resent item is recognised even when the
/// client rewrote it (a `function_call` output item resent as input loses its `id`/`status`).
/// The flag says whether the identity is unique to one item (a `call_id`): a user typing the
/// same words twice is not a resend, a `function_call_output` for the same call is. `item` is
/// valid JSON (a `RawValue`'s text): its head is scanned, not parsed again.
///
/// The key only meets other keys of the same process (the ledger's known items), so its hash
/// need not be std's SipHash: foldhash's, seeded the same every run, took a tenth of the
/// instructions on a 2 KB message (callgrind, relay bench turns).
pub fn item_key(item: &str) -> (u64, bool) {
    let mut h = foldhash::quality::FixedState::default().build_hasher();
    match ItemHead::scan(item) {
        Some(ItemHead {
            kind,
            call_id: Some(call_id),
            ..
        }) => {
            (kind, call_id).hash(&mut h);
            return (h.finish(), true);
        }
        Some(ItemHead {
            role: Some(role),
            content: Some(content),
            ..
        }) => {
            ("message", role, message_text(content.get()).as_ref()).hash(&mut h);
        }
        _ => item.hash(&mut h),
    }
    (h.finish(), false)
}

/// A message's text, whether `content` is a string or a list of parts. A string without
/// escapes is its own text: borrowed, not parsed (a user message is most of a request).
fn message_text(content: &str) -> Cow<'_, str> {
    if let Some(plain) = content
        .strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .filter(|c| memchr::memchr(b'\\', c.as_bytes()).is_none())
    {
        return Cow::Borrowed(plain);
    }
    match serde_json::from_str::<serde_json::Value>(content) {
        Ok(serde_json::Value::String(s)) => Cow::Owned(s),
        Ok(serde_json::Value::Array(parts)) => Cow::Owned(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join(""),
        ),
        _ => Cow::Borrowed(content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resent_items_are_recognised_across_shapes() {
        let out = r#"{"type":"function_call","id":"fc_1","call_id":"call_1","name":"ls","arguments":"{}","status":"completed"}"#;
        let resent = r#"{"type":"function_call","call_id":"call_1","name":"ls","arguments":"{}"}"#;
        assert_eq!(item_key(out), item_key(resent));
        assert!(item_key(out).1);
        let a = r#"{"type":"message","role":"user","content":"hi"}"#;
        let b = r#"{"role":"user","content":[{"type":"input_text","text":"hi"}]}"#;
        assert_eq!(item_key(a), item_key(b));
        assert!(!item_key(a).1);
        assert_ne!(item_key(a), item_key(r#"{"role":"user","content":"ho"}"#));
    }

    /// A message string without escapes is read as it stands, and reads as serde decodes it:
    /// the same text, and so the same key, as the escaped and the parts forms of that text.
    #[test]
    fn a_plain_message_string_is_its_own_text() {
        for content in [
            r#""hi there""#,
            r#""""#,
            r#""a \"q\" \u00e9\n""#,
            r#"[{"text":"x"}]"#,
        ] {
            let decoded = match serde_json::from_str::<serde_json::Value>(content).unwrap() {
                serde_json::Value::String(s) => s,
                _ => "x".into(),
            };
            assert_eq!(message_text(content), decoded, "{content}");
        }
        let plain = r#"{"role":"user","content":"é é"}"#;
        let escaped = r#"{"role":"user","content":"\u00e9 é"}"#;
        let parts = r#"{"role":"user","content":[{"type":"input_text","text":"é é"}]}"#;
        assert_eq!(item_key(plain), item_key(parts));
        assert_eq!(item_key(escaped), item_key(parts));
    }

    #[test]
    fn tool_reorder_and_change_are_told_apart() {
        let raw = |tools: &str| {
            let text = format!(r#"{{"tools":{tools}}}"#);
            let r: RequestHead<'_> = serde_json::from_str(&text).unwrap();
            Prefix::from_raw(None, &r, &mut Counter::disabled())
        };
        let a = raw(r#"[{"type":"function","name":"ls"},{"type":"function","name":"cat"}]"#);
        let b = raw(r#"[{"type":"function","name":"cat"},{"type":"function","name":"ls"}]"#);
        let c = raw(r#"[{"type":"function","name":"ls","strict":true},{"type":"web_search"}]"#);
        assert!(matches!(
            b.changes_from(&a)[..],
            [Cause::ToolsReordered { .. }]
        ));
        let Cause::ToolsChanged {
            added,
            removed,
            changed,
        } = &c.changes_from(&a)[0]
        else {
            panic!("expected a change")
        };
        assert_eq!(
            (added, removed, changed),
            (
                &vec!["web_search".to_string()],
                &vec!["cat".to_string()],
                &vec!["ls".to_string()]
            )
        );
    }
}
