//! Identities of the items seen, to recognise a resend: bounded, so a proxy left running for a
//! day does not keep one per item it ever relayed. Each remembers the chain it was last seen in,
//! so a continuation counts as a resend only items of the chain it continues.

use std::collections::HashMap;

/// Items per generation: two generations of at most this many are kept, ~1.1 MB at most (a
/// 16-byte slot per item in two tables of 32,768 slots). A resend names items of the chain it
/// continues, which are recent; an item older than a whole generation of newer ones is
/// forgotten, and resending it then reads as new input.
const KNOWN_KEEP: usize = 16_384;

/// What is known of a seen item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Known {
    /// The item is known to be unique (model output, or an item with a `call_id`).
    pub(super) unique: bool,
    /// The chain it was last seen in ([`super::chain::ChainNode::root`]).
    pub(super) root: u32,
}

/// Each item's identity and what is known of it: the newer generation and the one before it.
#[derive(Debug, Default)]
pub(super) struct KnownItems {
    new: HashMap<u64, Known>,
    old: HashMap<u64, Known>,
}

impl KnownItems {
    /// What is known of the item, if it was seen.
    pub(super) fn get(&self, key: u64) -> Option<Known> {
        self.new.get(&key).or_else(|| self.old.get(&key)).copied()
    }

    /// The item was seen in the chain `root`; `unique` if it is known to be unique (once known
    /// unique, it stays so). Seeing an item again moves it to the newer generation and to the
    /// chain it was seen in last.
    pub(super) fn saw(&mut self, key: u64, unique: bool, root: u32) {
        let before = self.old.get(&key).is_some_and(|k| k.unique);
        let known = self.new.entry(key).or_insert(Known {
            unique: before,
            root,
        });
        known.unique |= unique;
        known.root = root;
        if self.new.len() >= KNOWN_KEEP {
            self.old = std::mem::take(&mut self.new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item stays known for a whole generation of newer ones, and longer when seen again;
    /// at most two generations are kept.
    #[test]
    fn items_are_known_for_a_generation_and_the_table_stays_bounded() {
        let mut known = KnownItems::default();
        let unique = |root| Some(Known { unique: true, root });
        known.saw(1, true, 0);
        known.saw(2, false, 0);
        for k in 10..10 + KNOWN_KEEP as u64 {
            known.saw(k, false, 0);
            if k % 1000 == 0 {
                known.saw(2, false, 0);
            }
        }
        assert_eq!(
            known.get(1),
            unique(0),
            "one generation later it is still known"
        );
        for k in 1_000_000..1_000_000 + KNOWN_KEEP as u64 {
            known.saw(k, false, 0);
        }
        assert_eq!(known.get(1), None, "two generations later it is forgotten");
        assert!(known.new.len() + known.old.len() <= 2 * KNOWN_KEEP);
        known.saw(3, false, 0);
        known.saw(3, true, 0);
        assert_eq!(known.get(3), unique(0));
        // Seen again in another chain: it belongs to that one now, and stays unique.
        known.saw(3, false, 7);
        assert_eq!(known.get(3), unique(7));
    }
}
