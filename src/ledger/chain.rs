//! The chain of `previous_response_id`: what the ledger keeps per response that a later request
//! may continue, bounded to the most recently used.

use std::collections::HashMap;

use super::insight::Prefix;
#[cfg(doc)]
use super::{Ledger, Turn, known::KnownItems};

/// What the ledger knows about a response that can be continued.
#[derive(Debug, Clone, Default)]
pub(super) struct ChainNode {
    /// Bytes of every item along the chain up to and including this response's output.
    pub(super) items_bytes: u64,
    /// Number of those items (a chain of 4 billion items would be terabytes: 32 bits keep the
    /// node at 64 bytes).
    pub(super) items_count: u32,
    /// Their tokens.
    pub(super) tokens: u64,
    /// That turn's end, prefix and connection: what a continuation compares itself with, kept
    /// here because the turn itself may have retired ([`Ledger::retire_finished`]). (Fields
    /// ordered so the node packs into 64 bytes: one is kept per response.)
    pub(super) done_us: u64,
    pub(super) prefix: std::sync::Arc<Prefix>,
    /// The turn that produced it (0-based absolute number; it may have left the window).
    pub(super) turn: u32,
    /// The chain it belongs to: the 0-based absolute number of the chain's first turn (a turn
    /// that continued nothing the ledger kept). Items are known per chain ([`KnownItems`]).
    pub(super) root: u32,
    pub(super) conn: u32,
    /// The connection whose cache holds it, `None` once evicted or the connection closed.
    pub(super) cached_on: Option<u32>,
    /// When it was last made or continued ([`Chain::tick`]): the least recently used go first.
    pub(super) used: u32,
    /// Its chain goes back to a response the ledger no longer kept ([`Turn::context_unknown`]),
    /// so the sums above are not the chain's.
    pub(super) unknown: bool,
}

/// Responses kept at most ([`Chain`]): 16,384 entries of ~80 bytes in a table that never
/// grows past 32,768 slots, ~2.7 MB. A single chain, however long, needs one (each turn
/// continues the newest), so `stats` on a recording of one agent never evicts; a proxy left
/// running for a day with agents coming and going does not keep every response it saw.
pub const CHAIN_KEEP: usize = 16_384;

/// Every response that can be continued, by id, up to [`CHAIN_KEEP`]: a later request may name
/// any stored response (it loads on any connection, PROTOCOL.md), so which ones are still
/// wanted is unknowable; the least recently made or continued go first, in batches of an
/// eighth (one pass picks them). A request naming one that went reads as
/// [`Turn::context_unknown`], never as a chain that starts with it. Each is keyed by the
/// 128-bit xxh3 hash of its id (16 bytes, no allocation; real ids are ~55 characters), as the
/// token memo keys texts. Two ids sharing a hash would share an entry, ~2^64 ids away.
#[derive(Debug, Default)]
pub(super) struct Chain {
    pub(super) nodes: HashMap<u128, ChainNode>,
    /// Counts makes and continuations, for [`ChainNode::used`].
    pub(super) tick: u32,
    /// Entries forgotten to stay under [`CHAIN_KEEP`].
    pub(super) evicted: u64,
}

impl Chain {
    fn key(id: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128(id.as_bytes())
    }

    fn tick(&mut self) -> u32 {
        self.tick = self.tick.saturating_add(1);
        self.tick
    }

    pub(super) fn get(&self, id: &str) -> Option<&ChainNode> {
        self.nodes.get(&Self::key(id))
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut ChainNode> {
        self.nodes.get_mut(&Self::key(id))
    }

    /// The response a request continues, marked as just used.
    pub(super) fn continued(&mut self, id: &str) -> Option<ChainNode> {
        let used = self.tick();
        let node = self.nodes.get_mut(&Self::key(id))?;
        node.used = used;
        Some(node.clone())
    }

    pub(super) fn insert(&mut self, id: &str, mut node: ChainNode) {
        node.used = self.tick();
        self.nodes.insert(Self::key(id), node);
        if self.nodes.len() >= CHAIN_KEEP + CHAIN_KEEP / 8 {
            self.forget_least_used(self.nodes.len() - CHAIN_KEEP);
        }
    }

    /// Forgets the `n` least recently used entries (their ticks are distinct until the
    /// counter saturates, ~4 billion turns).
    fn forget_least_used(&mut self, n: usize) {
        let mut ticks: Vec<u32> = self.nodes.values().map(|v| v.used).collect();
        if n == 0 || n > ticks.len() {
            return;
        }
        let (_, &mut last, _) = ticks.select_nth_unstable(n - 1);
        let before = self.nodes.len();
        self.nodes.retain(|_, v| v.used > last);
        self.evicted += (before - self.nodes.len()) as u64;
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut ChainNode> {
        self.nodes.values_mut()
    }
}

/// The chain a turn continuing `parent` (the node the ledger kept, if any) belongs to: its
/// parent's, or a new one named by the turn's own 0-based absolute number `t`.
pub(super) fn root_of(parent: Option<&ChainNode>, t: usize) -> u32 {
    parent.map_or_else(|| u32::try_from(t).unwrap_or(u32::MAX), |n| n.root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Dir, Frame, Payload};
    use crate::ledger::Ledger;

    fn json(t_us: u64, dir: Dir, text: String) -> Frame {
        Frame {
            t_us,
            wall: String::new(),
            conn: 0,
            dir,
            payload: Payload::Json(text),
        }
    }

    /// One turn: a request continuing `prev` (if any), answered as `resp_{n}`; finished turns
    /// retire when `retire`.
    fn turn(ledger: &mut Ledger, n: u64, prev: Option<u64>, retire: bool) {
        let prev = prev.map_or_else(String::new, |p| {
            format!(r#","previous_response_id":"resp_{p}""#)
        });
        let t = n * 10;
        for frame in [
            json(
                t,
                Dir::Sent,
                format!(r#"{{"type":"response.create","model":"m","input":"go {n}"{prev}}}"#),
            ),
            json(
                t + 1,
                Dir::Recv,
                format!(r#"{{"type":"response.created","response":{{"id":"resp_{n}"}}}}"#),
            ),
            json(
                t + 2,
                Dir::Recv,
                format!(
                    r#"{{"type":"response.completed","response":{{"id":"resp_{n}","output":[]}}}}"#
                ),
            ),
        ] {
            ledger.push(&frame);
        }
        if retire {
            ledger.retire_finished();
        }
    }

    /// Past [`CHAIN_KEEP`] responses the least recently used go: a root continued again and
    /// again stays, an old one nobody continued goes, and a request naming it (and the turns
    /// after it) read as context unknown; a long single chain never loses its head.
    #[test]
    fn the_chain_keeps_the_most_recently_used_responses() {
        let mut ledger = Ledger::without_tokens();
        ledger.push(&json(0, Dir::Meta, r#"{"event":"connect"}"#.into()));
        let total = (CHAIN_KEEP * 3 / 2) as u64;
        // resp_1 is a warm-up every 1,000th turn continues; the rest is one chain from resp_2.
        turn(&mut ledger, 1, None, true);
        for n in 2..total {
            let prev = if n % 1000 == 0 { 1 } else { n - 1 };
            turn(&mut ledger, n, Some(prev), true);
        }
        assert!(ledger.chain.nodes.len() < CHAIN_KEEP + CHAIN_KEEP / 8);
        assert!(ledger.chain.evicted > 0);
        assert!(
            ledger.chain.get("resp_1").is_some(),
            "used again and again: kept"
        );
        assert!(ledger.chain.get("resp_2").is_none(), "old and unused: gone");
        let newest = ledger.turns().last().unwrap();
        assert!(!newest.context_unknown, "the chain's head is known");
        assert!(newest.full_context.items > 2);

        turn(&mut ledger, total, Some(2), false);
        turn(&mut ledger, total + 1, Some(total), false);
        turn(&mut ledger, total + 2, Some(1), false);
        let turns = ledger.turns();
        let [named_gone, after_it, from_kept] = &turns[turns.len() - 3..] else {
            panic!("three turns")
        };
        assert!(named_gone.context_unknown, "its parent was forgotten");
        assert!(
            after_it.context_unknown,
            "its chain goes back to a forgotten one"
        );
        assert!(!from_kept.context_unknown);
    }
}
