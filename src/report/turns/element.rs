//! One turn as an element of `stats --json`'s `turns` array, serialised straight from the `Turn`.
//!
//! The element used to be built as a `serde_json::Value` tree and then printed: a map per object,
//! a `String` per string, all dropped again (a fifth of writing a turn, itself a fifth of
//! `stats --json`'s CPU). These views write the same members in the same order instead — the
//! order a `serde_json::Map` (a `BTreeMap` in this build) printed them: sorted by key, at every
//! depth — through the same formatter, so every string is redacted exactly as before. The test
//! in `turns.rs` compares the bytes with the tree's on every fixture and every variant.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::super::{UsdJson, round2};
use crate::ledger::cost::{Prices, TurnCost, turn_cost};
use crate::ledger::insight::ToolSig;
use crate::ledger::{Insight, Prefix, Remedy, SendMode, ToolCall, Turn, TurnStatus};

/// Serialises a map of borrowed members, keys in the order given (sorted by the caller).
macro_rules! members {
    ($s:expr, $($key:literal => $value:expr),* $(,)?) => {{
        let mut map = $s.serialize_map(None)?;
        $(map.serialize_entry($key, $value)?;)*
        map.end()
    }};
}

/// A turn's `stats --json` element: its figures, remedies (what its ledger's client names for
/// it, [`Ledger::remedies`](crate::ledger::Ledger::remedies)) and cost.
pub(super) struct TurnElement<'a> {
    pub(super) remedies: &'a [Remedy],
    pub(super) prices: &'a Prices,
    pub(super) turn: &'a Turn,
}

impl Serialize for TurnElement<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.turn;
        let cost = turn_cost(self.prices, t);
        let error = match &t.status {
            TurnStatus::Error { code, message } => Some(ErrorJson { code, message }),
            _ => None,
        };
        let incomplete_reason = match &t.status {
            TurnStatus::Incomplete { reason } => reason.as_deref(),
            _ => None,
        };
        members!(s,
            "cached_tokens" => &t.cached_tokens(),
            "conn" => &t.conn,
            "conn_context_tokens" => &t.cache_estimate_tokens,
            "context_tokens" => &t.context_tokens,
            "cost" => &match &cost {
                TurnCost::Priced(c) => Some(UsdJson(c)),
                _ => None,
            },
            "cost_text" => &cost.text(),
            "error" => &error,
            "full_context" => &t.full_context,
            "gap_us" => &t.gap_us,
            "generate" => &t.generate,
            "incomplete_reason" => &incomplete_reason,
            "incremental" => &t.incremental,
            "index" => &t.index,
            "input_tokens" => &t.usage.as_ref().map(|u| u.input_tokens),
            "insight" => &InsightJson(&t.insight),
            "lane" => &t.lane,
            "latency_us" => &LatencyJson(t),
            "marks" => &t.marks(),
            "model" => &t.model,
            "output_tokens" => &t.usage.as_ref().map(|u| u.output_tokens),
            "prefix" => &PrefixJson(&t.prefix),
            "previous_response_id" => &t.previous_response_id,
            "remedies" => &Each(self.remedies, RemedyJson),
            "response_id" => &t.response_id,
            "saved" => &SavedJson(t),
            "status" => t.status.label(),
            "steered_successor" => &t.steered_successor,
            "steers" => &t.steers,
            "store" => &t.store,
            "tool_calls" => &Each(&t.tool_calls, ToolCallJson),
            "transport" => &t.transport,
        )
    }
}

/// A sequence of `T`s, each written through the view `V`.
struct Each<'a, T, V>(&'a [T], fn(&'a T) -> V);

impl<'a, T, V: Serialize> Serialize for Each<'a, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

/// An error turn's `error` object.
struct ErrorJson<'a> {
    code: &'a Option<String>,
    message: &'a String,
}

impl Serialize for ErrorJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        members!(s, "code" => self.code, "message" => self.message)
    }
}

/// A turn's `latency_us` object.
struct LatencyJson<'a>(&'a Turn);

impl Serialize for LatencyJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        members!(s,
            "created" => &t.latency_created_us(),
            // send → first output event of any kind (`output_item.added` counts); not TTFT.
            "first_item" => &t.first_item_latency_us(),
            "total" => &t.latency_total_us(),
            // TTFT: send → first token-carrying delta (`Turn::ttft_us`).
            "ttft" => &t.ttft_us(),
        )
    }
}

/// A turn's `saved` object.
struct SavedJson<'a>(&'a Turn);

impl Serialize for SavedJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        members!(s,
            "bytes" => &t.saved_bytes(),
            "pct_bytes" => &round2(t.saved_pct()),
            "tokens" => &t.saved_tokens(),
        )
    }
}

/// A turn's `insight` object. Causes and events are rare (a miss, a reconnect) and their
/// variants many: they go through a `Value`, whose map sorts their keys as before (an empty
/// list allocates nothing).
struct InsightJson<'a>(&'a Insight);

impl Serialize for InsightJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        members!(s,
            "cache" => &i.cache,
            "causes" => &tree(&i.causes)?,
            "events" => &tree(&i.events)?,
            "expected_cached_tokens" => &i.expected_cached_tokens,
            "mode" => &ModeJson(&i.mode),
            "retry_safe" => &i.retry_safe,
        )
    }
}

/// `list` as the `Value` tree the element was once built of.
fn tree<T: Serialize, E: serde::ser::Error>(list: &[T]) -> Result<Value, E> {
    if list.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    serde_json::to_value(list).map_err(E::custom)
}

/// The send mode (`kind` and, for a full resend, its figures and reason), keys sorted.
struct ModeJson<'a>(&'a SendMode);

impl Serialize for ModeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            SendMode::Fresh => members!(s, "kind" => "fresh"),
            SendMode::Incremental => members!(s, "kind" => "incremental"),
            SendMode::FullResend {
                reason,
                known_items,
                known_bytes,
                known_tokens,
            } => members!(s,
                "kind" => "full_resend",
                "known_bytes" => known_bytes,
                "known_items" => known_items,
                "known_tokens" => known_tokens,
                "reason" => reason,
            ),
        }
    }
}

/// A request's prefix, keys sorted.
struct PrefixJson<'a>(&'a Prefix);

impl Serialize for PrefixJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        members!(s,
            "compaction" => &p.compaction,
            "instructions" => &p.instructions,
            "model" => &p.model,
            "reasoning" => &p.reasoning,
            "text" => &p.text,
            "tokens" => &p.tokens,
            "tools" => &Each(&p.tools, ToolSigJson),
        )
    }
}

/// One tool of a prefix, keys sorted.
struct ToolSigJson<'a>(&'a ToolSig);

impl Serialize for ToolSigJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        members!(s, "hash" => &self.0.hash, "name" => &self.0.name)
    }
}

/// One function call of a turn, keys sorted.
struct ToolCallJson<'a>(&'a ToolCall);

impl Serialize for ToolCallJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        members!(s,
            "arguments" => &c.arguments,
            "call_id" => &c.call_id,
            "name" => &c.name,
        )
    }
}

/// One remedy, keys sorted.
struct RemedyJson<'a>(&'a Remedy);

impl Serialize for RemedyJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        members!(s, "text" => &self.0.text, "verdict" => &self.0.verdict)
    }
}
