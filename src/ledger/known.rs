//! Identities of the items seen, to recognise a resend: bounded, so a proxy left running for a
//! day does not keep one per item it ever relayed.

use std::collections::HashMap;

/// Items per generation: two generations of at most this many are kept, ~1.1 MB at most (a
/// 16-byte slot per item in two tables of 32,768 slots). A resend names items of the chain it
/// continues, which are recent; an item older than a whole generation of newer ones is
/// forgotten, and resending it then reads as new input.
const KNOWN_KEEP: usize = 16_384;

/// Each item's identity, and `true` once the item is known to be unique (model output, or an
/// item with a `call_id`): the newer generation and the one before it.
#[derive(Debug, Default)]
pub(super) struct KnownItems {
    new: HashMap<u64, bool>,
    old: HashMap<u64, bool>,
}

impl KnownItems {
    /// Whether the item was seen, and whether it is known to be unique.
    pub(super) fn get(&self, key: u64) -> Option<bool> {
        self.new.get(&key).or_else(|| self.old.get(&key)).copied()
    }

    /// The item was seen; `unique` if it is known to be unique. Seeing an item again moves it to
    /// the newer generation.
    pub(super) fn saw(&mut self, key: u64, unique: bool) {
        let before = self.old.get(&key).copied().unwrap_or(false);
        *self.new.entry(key).or_insert(before) |= unique;
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
        known.saw(1, true);
        known.saw(2, false);
        for k in 10..10 + KNOWN_KEEP as u64 {
            known.saw(k, false);
            if k % 1000 == 0 {
                known.saw(2, false);
            }
        }
        assert_eq!(
            known.get(1),
            Some(true),
            "one generation later it is still known"
        );
        for k in 1_000_000..1_000_000 + KNOWN_KEEP as u64 {
            known.saw(k, false);
        }
        assert_eq!(known.get(1), None, "two generations later it is forgotten");
        assert!(known.new.len() + known.old.len() <= 2 * KNOWN_KEEP);
        known.saw(3, false);
        known.saw(3, true);
        assert_eq!(known.get(3), Some(true));
    }
}
