//! The ledger's verdicts: judged once when a turn is sent, completed when it ends.

use super::chain::ChainNode;
use super::insight::{CacheOutcome, Cause, ConnEvent, Insight, Prefix, SendMode};
use super::read::InputMeasure;
use super::{Ledger, Transport, TurnStatus, connection};
use crate::frame::FrameRef;

/// The prompt cache serves only prefixes of at least this many tokens (OpenAI's prompt-caching
/// rule: ≥ 1024 tokens, in 128-token steps), so below it `cached_tokens` is 0 whatever the
/// connection holds and a hit or a miss says nothing. The expected figure counts the chain's
/// items only (not instructions or tools): a lower bound, so the verdict errs towards "n/a".
pub const PROMPT_CACHE_MIN_TOKENS: u64 = 1024;

impl Ledger {
    /// Judges a turn as it is sent: send mode, differences from its parent, connection events;
    /// also the turn it was compared with (its parent's, or the lane's previous), if any.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn judge_send(
        &self,
        frame: &FrameRef<'_>,
        lane: &Option<String>,
        prev: Option<&str>,
        parent: Option<&ChainNode>,
        prefix: &Prefix,
        input: &InputMeasure,
        transport: Transport,
    ) -> (Insight, Option<std::sync::Arc<Prefix>>) {
        // A continuation resends only what its own chain holds: an item last seen in another
        // chain (a second run of a scripted agent, a branch) is new input here. Without a
        // parent the ledger kept, any earlier item counts (HTTP mode resends the conversation).
        let known: Vec<_> = input
            .items
            .iter()
            .filter_map(|i| {
                let k = self.known_items.get(i.key)?;
                parent.is_none_or(|n| k.root == n.root).then_some((i, k))
            })
            .collect();
        // Only an item known to be unique (model output, a call's output) proves a resend;
        // repeated user words alone do not.
        let proven = known.iter().any(|(_, k)| k.unique);
        let known = if proven { known } else { Vec::new() };
        let (known_items, known_bytes, known_tokens) =
            known.iter().fold((0, 0, 0), |(n, b, t), (i, _)| {
                (n + 1, b + i.bytes, t + i.tokens)
            });
        let mode = match (prev, known_items) {
            (Some(_), 0) => SendMode::Incremental,
            (None, 0) => SendMode::Fresh,
            (Some(_), _) => SendMode::FullResend {
                reason: "previous_response_id plus items the chain already holds".into(),
                known_items,
                known_bytes,
                known_tokens,
            },
            (None, _) => SendMode::FullResend {
                reason: "no previous_response_id: earlier items sent again".into(),
                known_items,
                known_bytes,
                known_tokens,
            },
        };
        // Compare with the previous turn of the same chain: the parent, or, for a full resend
        // (the chain sent again without an id), the previous turn on this lane. A fresh chain has
        // nothing to differ from: its tools are not a "change" from another chain's.
        let reference = match parent {
            Some(n) => Some((n.conn, std::sync::Arc::clone(&n.prefix))),
            None => matches!(mode, SendMode::FullResend { .. })
                .then(|| self.newest_request(lane))
                .flatten()
                .map(|t| (t.conn, t.prefix)),
        };
        let mut causes = Vec::new();
        if let Some((r_conn, r_prefix)) = &reference {
            causes = prefix.changes_from(r_prefix);
            if *r_conn != frame.conn {
                let r_conn = *r_conn;
                let store_false = self.newest().and_then(|t| t.store) == Some(false);
                causes.push(if store_false && prev.is_some() {
                    Cause::StoreFalseAfterReconnect
                } else {
                    Cause::NewConnection {
                        from: r_conn,
                        to: frame.conn,
                    }
                });
            }
        }
        // The prompt cache compares the prompt from its start: instructions and tools come
        // before the items, so they belong to the expected prefix. If they changed since the
        // parent, the causes say so and the miss is explained, not hidden.
        let expected_cached_tokens = match &mode {
            SendMode::Incremental => parent.map_or(0, |n| prefix.tokens + n.tokens),
            SendMode::FullResend { known_tokens, .. } => prefix.tokens + known_tokens,
            SendMode::Fresh => 0,
        };
        let insight = Insight {
            mode,
            cache: CacheOutcome::Unknown,
            expected_cached_tokens,
            causes,
            events: self.conn_events(frame, lane, prev.is_none() && known_items > 0, transport),
            retry_safe: None,
        };
        (insight, reference.map(|(_, p)| p))
    }

    /// Connection events that precede a turn sent on `frame.conn`.
    fn conn_events(
        &self,
        frame: &FrameRef<'_>,
        lane: &Option<String>,
        resend: bool,
        transport: Transport,
    ) -> Vec<ConnEvent> {
        let mut events = Vec::new();
        // A connection counts every turn started on it, retired or not.
        let first_on_conn = self
            .connections
            .get(frame.conn as usize)
            .is_none_or(|c| c.turns == 0);
        if first_on_conn && transport == Transport::WebSocket && frame.conn > 0 {
            let previous = self
                .connections
                .iter()
                .rev()
                .find(|c| c.index < frame.conn && c.turns > 0);
            if let Some(p) = previous {
                let reason = self
                    .connections
                    .get(frame.conn as usize)
                    .and_then(|c| c.reconnect_reason.clone())
                    .or_else(|| p.close_reason.clone());
                events.push(ConnEvent::Reconnect {
                    code: p.close_code,
                    reason,
                });
                if p.age_us(frame.t_us) >= connection::MAX_AGE_US {
                    events.push(ConnEvent::AgeLimit);
                }
            }
        }
        if resend && let Some(after) = self.newest_on_any(lane).filter(|t| t.not_found) {
            events.push(ConnEvent::ResendAfterNotFound { after: after.index });
        }
        if transport == Transport::Http && self.anchors.websocket && !self.anchors.http {
            events.push(ConnEvent::HttpFallback);
        }
        events
    }

    /// Completes a turn's verdict once it ends.
    pub(super) fn judge_end(&mut self, t: usize) {
        let turn = &mut self.turns[t];
        let insight = &mut turn.insight;
        insight.cache = match (&turn.usage, insight.expected_cached_tokens) {
            (_, e) if e < PROMPT_CACHE_MIN_TOKENS => CacheOutcome::NotApplicable,
            (None, _) => CacheOutcome::Unknown,
            (Some(u), e) if u.input_tokens_details.cached_tokens * 2 >= e => CacheOutcome::Hit,
            (Some(_), _) => CacheOutcome::Miss,
        };
        if insight.cache == CacheOutcome::Miss && insight.causes.is_empty() {
            // Exactly one: a pushed-to empty Vec reserves four (~230 bytes kept per turn).
            insight.causes = vec![Cause::Unknown];
        }
        insight.retry_safe = match turn.status {
            TurnStatus::Completed | TurnStatus::Incomplete { .. } => None,
            // Once the server announced an item, a replay could duplicate it: not safe.
            _ => Some(turn.first_item_us.is_none()),
        };
    }
}
