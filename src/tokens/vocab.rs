//! The o200k vocabulary (borrowed from bytes compiled into the binary) and tiktoken's
//! byte-pair merge, counting only.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use hashbrown::HashTable;

/// Every token's bytes in rank order, back to back (build.rs, from `assets/o200k_base.tiktoken`).
static TOKENS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_tokens.bin"));
/// Where each token ends in [`TOKENS`], u32 little endian.
static ENDS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_ends.bin"));

/// A merge that is not in the vocabulary.
const NONE: u32 = u32::MAX;
/// Pieces shorter than this merge in a small array scanned for its lowest rank, as tiktoken
/// does below 100 bytes; longer ones (rare: long runs of one letter class, base64) through a
/// heap, so a megabyte-long piece costs n log n and not n².
const SCAN_MAX: usize = 128;

/// The only hash index the counter owns (~1.3 MB: a u32 rank per bucket); the bytes it points
/// into stay in the binary's read-only pages.
pub(super) struct Vocabulary {
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// The longest token, in bytes: a longer piece is never one token.
    longest: usize,
}

pub(super) static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(Vocabulary::load);

/// Rank `r`'s token, or nothing past the end.
fn token(rank: u32) -> &'static [u8] {
    let end_at = |r: usize| -> Option<usize> {
        let b = ENDS.get(r * 4..r * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let r = rank as usize;
    let start = if r == 0 { Some(0) } else { end_at(r - 1) };
    match (start, end_at(r)) {
        (Some(s), Some(e)) => TOKENS.get(s..e).unwrap_or_default(),
        _ => &[],
    }
}

impl Vocabulary {
    fn load() -> Self {
        let count = ENDS.len() / 4;
        let hasher = foldhash::fast::FixedState::with_seed(0x0200_0c0d);
        let mut index = HashTable::with_capacity(count);
        let mut longest = 0;
        for rank in 0..u32::try_from(count).unwrap_or(0) {
            let bytes = token(rank);
            longest = longest.max(bytes.len());
            index.insert_unique(hasher.hash_one(bytes), rank, |&r| hasher.hash_one(token(r)));
        }
        Vocabulary {
            index,
            hasher,
            longest,
        }
    }

    /// Tokens in the vocabulary.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.index.len()
    }

    /// The rank of `bytes` if they are one token.
    #[inline]
    pub(super) fn rank(&self, bytes: &[u8]) -> Option<u32> {
        if bytes.len() > self.longest {
            return None;
        }
        self.index
            .find(self.hasher.hash_one(bytes), |&r| token(r) == bytes)
            .copied()
    }

    fn merge_rank(&self, bytes: &[u8]) -> u32 {
        self.rank(bytes).unwrap_or(NONE)
    }

    /// Tokens tiktoken encodes `piece` (one pre-tokenizer piece) into: 1 if the piece is a
    /// token (tiktoken looks the whole piece up first), else the parts left once no adjacent
    /// pair's concatenation is a token, merging the lowest-ranked pair first (leftmost on ties).
    pub(super) fn count(&self, piece: &[u8]) -> usize {
        if piece.len() <= 1 || self.rank(piece).is_some() {
            return piece.len().min(1);
        }
        if piece.len() < SCAN_MAX {
            self.count_scan(piece)
        } else {
            self.count_heap(piece)
        }
    }

    /// tiktoken's `_byte_pair_merge`: `parts[i]` is (start, rank of the merge of part i with
    /// part i+1), plus a sentinel for the end.
    fn count_scan(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        let mut parts = [(0u32, NONE); SCAN_MAX + 1];
        for (i, part) in parts.iter_mut().enumerate().take(n + 1) {
            let rank = if i + 2 <= n {
                self.merge_rank(&piece[i..i + 2])
            } else {
                NONE
            };
            *part = (i as u32, rank);
        }
        let mut len = n + 1;
        let rank_at = |parts: &[(u32, u32)], len: usize, i: usize| {
            // parts[i + 1] is about to go: the merge of part i spans to parts[i + 3].
            if i + 3 < len {
                self.merge_rank(&piece[parts[i].0 as usize..parts[i + 3].0 as usize])
            } else {
                NONE
            }
        };
        loop {
            let mut min = (NONE, 0);
            for (i, &(_, rank)) in parts[..len - 1].iter().enumerate() {
                if rank < min.0 {
                    min = (rank, i);
                }
            }
            if min.0 == NONE {
                return len - 1;
            }
            let i = min.1;
            if i > 0 {
                parts[i - 1].1 = rank_at(&parts, len, i - 1);
            }
            parts[i].1 = rank_at(&parts, len, i);
            parts.copy_within(i + 2..len, i + 1);
            len -= 1;
        }
    }

    /// The same merges in the same order, through a min-heap of (rank, start) and a linked
    /// list of parts; an entry whose part has changed since is skipped (a rank names one byte
    /// string, so an unchanged rank means an unchanged pair).
    fn count_heap(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        // Per byte offset: where the part starting there ends (0: no part starts there), the
        // part before it, and the rank of its merge with the next part.
        let mut end: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut rank: Vec<u32> = vec![NONE; n];
        let mut heap = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            rank[i] = self.merge_rank(&piece[i..i + 2]);
            if rank[i] != NONE {
                heap.push(Reverse((rank[i], i)));
            }
        }
        let mut parts = n;
        while let Some(Reverse((r, i))) = heap.pop() {
            if end[i] == 0 || rank[i] != r {
                continue;
            }
            let next = end[i];
            end[i] = end[next];
            end[next] = 0;
            parts -= 1;
            let after = end[i];
            if after < n {
                prev[after] = i;
                rank[i] = self.merge_rank(&piece[i..end[after]]);
            } else {
                rank[i] = NONE;
            }
            if rank[i] != NONE {
                heap.push(Reverse((rank[i], i)));
            }
            if i > 0 {
                let p = prev[i];
                rank[p] = self.merge_rank(&piece[p..after]);
                if rank[p] != NONE {
                    heap.push(Reverse((rank[p], p)));
                }
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_is_o200k() {
        let v = &*VOCABULARY;
        assert_eq!(v.len(), 199_998);
        assert_eq!(v.rank(b"!"), Some(0));
        assert_eq!(v.rank(b" hello"), Some(40617));
        assert_eq!(v.rank(b"no such token, surely"), None);
        assert!(token(199_998).is_empty());
    }

    /// Every rank's bytes are tiktoken-rs's (its own copy of the same public file), and our
    /// index finds each.
    #[test]
    fn every_token_is_tiktokens() {
        let v = &*VOCABULARY;
        let tiktoken = tiktoken_rs::o200k_base_singleton();
        for rank in 0..199_998 {
            let bytes = token(rank);
            assert_eq!(
                tiktoken.decode_bytes(&[rank]).unwrap(),
                bytes,
                "rank {rank}"
            );
            assert_eq!(v.rank(bytes), Some(rank));
        }
    }

    /// Both merge loops give the same counts (the heap one is what long pieces take).
    #[test]
    fn scan_and_heap_merges_agree() {
        let v = &*VOCABULARY;
        for piece in [
            "indivisibilities",
            "Supercalifragilisticexpialidocious",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "データベースのマイグレーション",
            "xyzzyxyzzyqwrtplkjhgf",
        ] {
            let b = piece.as_bytes();
            assert_eq!(v.count_scan(b), v.count_heap(b), "{piece}");
        }
    }
}
