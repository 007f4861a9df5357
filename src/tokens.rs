//! o200k token counts, offline: tiktoken's `o200k_base` vocabulary and split pattern, counted by
//! our own code over tables compiled into the binary.
//!
//! Why not a crate: `bpe-openai` (used before) builds Aho-Corasick automata and hash maps for
//! 200k tokens at start-up, ~29 MB of heap and a ~76 MB RSS floor for every `stats` and proxy
//! run, and its pre-tokenizer is a Unicode regex that was most of the counting time left;
//! `tiktoken-rs` keeps two owned hash maps of the vocabulary and splits with fancy-regex
//! (slower still). Here the vocabulary is one static byte blob plus a 1.3 MB hash index of
//! ranks ([`vocab`]), merged the way tiktoken merges, and the split pattern is hand-written
//! over a code point class table ([`split`]); both tables are made by `build.rs` from the
//! public vocabulary file and regex-syntax's Unicode classes. `tests/tokenizer_equality.rs`
//! holds every count equal to tiktoken-rs (every code point, random text, every fixture).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

mod class;
mod split;
mod vocab;

use vocab::VOCABULARY;

/// Pieces up to this many bytes are remembered per thread with their counts: text repeats
/// its words, and a look-up in the vocabulary's index is three cache misses (index, ends,
/// bytes) where a remembered piece is one line of a small table (measured: most of the
/// counter's time went to those misses). 15 bytes, so that a piece, its length and its count
/// fit one `u128` (see [`piece_key`]).
const PIECE_MEMO_MAX_LEN: usize = 15;
/// Slots of the per-thread piece memo (16 bytes each: 256 KB, half an L2 cache here).
const PIECE_MEMO_SLOTS: usize = 1 << 14;
/// Where a remembered piece's count sits in its slot: the top 4 bits (a piece of at most 15
/// bytes is at most 15 tokens).
const TOKENS_SHIFT: u32 = 124;

/// Slots of the per-thread memo of longer pieces (24 bytes each: 96 KB).
const LONG_MEMO_SLOTS: usize = 1 << 12;

thread_local! {
    /// The piece memo: each slot a [`piece_key`] with the piece's count in its top 4 bits, or
    /// 0 (the key of no piece: every key holds its length, at least 2).
    static PIECES: RefCell<Vec<u128>> = const { RefCell::new(Vec::new()) };
    /// The memo of pieces longer than [`PIECE_MEMO_MAX_LEN`]: each slot the piece's 128-bit
    /// xxh3 hash and its count, or a count of 0 (no piece: a piece of 16 bytes or more is at
    /// least one token). A long piece is merged pair by pair, each pair a vocabulary look-up, and
    /// long pieces repeat too: a request's padding or indentation resent every turn, base64 of
    /// the same image. The proxy's relay bench sends one 1,800-byte piece per turn, whose heap
    /// merge was ~8% of the proxy's CPU. As with the large-text memo ([`Counter`]), two pieces
    /// sharing a hash would share a count; at 128 bits that takes ~2^64 distinct pieces.
    static LONG_PIECES: RefCell<Vec<(u128, u32)>> = const { RefCell::new(Vec::new()) };
}

/// o200k tokens of one pre-tokenizer piece longer than [`PIECE_MEMO_MAX_LEN`], remembered per
/// thread in a direct-mapped table (a new piece takes its slot).
fn count_long(vocabulary: &vocab::Vocabulary, piece: &[u8]) -> usize {
    let k = xxhash_rust::xxh3::xxh3_128(piece);
    LONG_PIECES.with_borrow_mut(|memo| {
        if memo.is_empty() {
            memo.resize(LONG_MEMO_SLOTS, (0, 0));
        }
        let slot = &mut memo[(k as usize) & (LONG_MEMO_SLOTS - 1)];
        if slot.1 != 0 && slot.0 == k {
            return slot.1 as usize;
        }
        let n = vocabulary.count(piece);
        // A piece's count is at most its length; one over u32::MAX bytes is not remembered.
        if let Ok(c) = u32::try_from(n) {
            *slot = (k, c);
        }
        n
    })
}

/// The piece of `len` (2 to 15) bytes at `start` of `t` as one number: its bytes in the low
/// 120 bits, zero-padded, its length in the 4 above them (so "a" and "a\0" differ).
#[inline]
fn piece_key(t: &[u8], start: usize, len: usize) -> u128 {
    // One unaligned 16-byte load where the text goes on that far, masked to the piece.
    let bytes = match t
        .get(start..start + 16)
        .and_then(|w| <[u8; 16]>::try_from(w).ok())
    {
        Some(wide) => u128::from_le_bytes(wide) & ((1u128 << (len * 8)) - 1),
        None => t
            .get(start..start + len)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0, |k, &b| (k << 8) | u128::from(b)),
    };
    bytes | ((len as u128) << 120)
}

/// Builds the vocabulary's index now if no count has yet (the first count builds it otherwise):
/// a caller that must not pay it later, like the proxy before its first agent (whose first
/// turn's fold would build it on the relay's thread), builds it up front.
pub fn load() {
    std::sync::LazyLock::force(&VOCABULARY);
}

/// Counts o200k tokens in `text` (no special tokens: `<|endoftext|>` is ordinary text).
///
/// The sum over the pre-tokenizer's pieces of each piece's byte-pair count, as tiktoken's
/// `encode_ordinary(text).len()`; short pieces come from the per-thread piece memo when seen
/// before (a direct-mapped table: a new piece takes its slot).
pub fn count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let vocabulary = &*VOCABULARY;
    let t = text.as_bytes();
    PIECES.with_borrow_mut(|memo| {
        if memo.is_empty() {
            memo.resize(PIECE_MEMO_SLOTS, 0);
        }
        let mut total = 0;
        for (start, end) in split::bounds(text) {
            let len = end - start;
            // Every byte is a token.
            if len == 1 {
                total += 1;
                continue;
            }
            if len > PIECE_MEMO_MAX_LEN {
                total += count_long(vocabulary, &t[start..end]);
                continue;
            }
            let k = piece_key(t, start, len);
            // A multiplicative hash of both halves; the top bits pick the slot.
            let h = ((k as u64) ^ ((k >> 64) as u64).rotate_left(29))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let slot = &mut memo[(h >> 50) as usize & (PIECE_MEMO_SLOTS - 1)];
            if *slot & !(0xF << TOKENS_SHIFT) == k {
                total += (*slot >> TOKENS_SHIFT) as usize;
                continue;
            }
            let n = vocabulary.count(&t[start..end]);
            // n ≤ len ≤ 15: fits the 4 bits.
            *slot = k | ((n as u128) << TOKENS_SHIFT);
            total += n;
        }
        total
    })
}

/// The pre-tokenizer's pieces of `text`, in order (what tiktoken's o200k split pattern
/// matches; each is byte-pair encoded on its own).
pub fn pieces(text: &str) -> impl Iterator<Item = &str> {
    split::pieces(text)
}

/// Counts the tokens of a JSON value's text content the way the ledger sizes context:
/// the compact JSON serialization of the value.
pub fn count_json(value: &serde_json::Value) -> usize {
    count(&value.to_string())
}

/// A token counter that remembers large texts it has counted (instructions and tools are
/// resent every turn) and can be switched off for byte-only folds.
///
/// [`Counter::prime`] counts a batch of texts in parallel across all cores before the
/// (sequential) fold asks for them; the fold then finds each answer ready.
#[derive(Debug, Clone)]
pub struct Counter {
    enabled: bool,
    memo: Counts,
    /// Counts made ahead by [`Counter::prime`], for the current batch only.
    primed: Counts,
    /// Texts asked for while primed that the priming had not counted.
    misses: u64,
    /// Whether the primed counts came from [`Counter::count_ahead`]: the counter that made
    /// them remembers the large texts, so this one need not (its memo would hold a copy).
    ahead: bool,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            enabled: true,
            memo: Counts::default(),
            primed: Counts::default(),
            misses: 0,
            ahead: false,
        }
    }
}

/// Counts made ahead for one batch's fold ([`Counter::count_ahead`]).
#[derive(Debug, Default)]
pub struct Primed(Counts);

/// Counts by [`key`]: the key is a hash already, so the map's own hash of it need only be fast.
type Counts = HashMap<Key, u64, foldhash::fast::FixedState>;

/// A [`key`] as two words: an entry is then 24 bytes, where a `u128` (16-byte aligned) made it 32.
type Key = [u64; 2];

/// The key a text is remembered under: its 128-bit xxh3 hash. The text itself is not kept (the
/// memo would then hold every large text of a recording), so two texts sharing a key would
/// silently share a count: at 128 bits that takes ~2^64 distinct texts, where the 64-bit SipHash
/// before was ~2^32 and several times slower on these kilobyte texts (~3% of `stats`).
fn key(text: &str) -> Key {
    let h = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
    [h as u64, (h >> 64) as u64]
}

impl Counter {
    /// Texts shorter than this are counted directly; hashing would cost more than it saves.
    const MEMO_MIN: usize = 256;

    /// A counter that always answers 0 (for byte-only folds).
    pub fn disabled() -> Self {
        Counter {
            enabled: false,
            ..Self::default()
        }
    }

    /// Whether tokens are counted at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// o200k tokens in `text`, memoized for large texts.
    pub fn count(&mut self, text: &str) -> u64 {
        if !self.enabled {
            return 0;
        }
        if !self.primed.is_empty() {
            let k = key(text);
            if let Some(&n) = self.primed.get(&k).or_else(|| self.memo.get(&k)) {
                if text.len() >= Self::MEMO_MIN && !self.ahead {
                    self.remember(k, n);
                }
                return n;
            }
            self.misses += 1;
        }
        if text.len() < Self::MEMO_MIN {
            return count(text) as u64;
        }
        let k = key(text);
        if let Some(&n) = self.memo.get(&k) {
            return n;
        }
        let n = count(text) as u64;
        self.remember(k, n);
        n
    }

    /// Large texts remembered at most: a proxy left running for a day sees a new tool output
    /// every turn, and the memo must not keep a count for each. Past this it starts again
    /// (the texts resent every turn, instructions and tools, are counted once more), in a table
    /// that stays its size: 7/8 of 16,384 slots, the most the table holds before it doubles,
    /// 16,384 × 25 bytes = 410 KB (at 16,384 it was 32,768 × 33 bytes, 1.08 MB, and `stats`
    /// keeps one per thread).
    const MEMO_KEEP: usize = 16_384 / 8 * 7;

    fn remember(&mut self, k: Key, n: u64) {
        if self.memo.len() >= Self::MEMO_KEEP && !self.memo.contains_key(&k) {
            self.memo.clear();
        }
        self.memo.insert(k, n);
    }

    /// Counts `texts` ahead, in parallel across all cores (each distinct text once, none
    /// already remembered), so that [`Counter::count`] answers them from memory until
    /// [`Counter::clear_primed`].
    pub fn prime(&mut self, texts: &[&str]) {
        if !self.enabled || texts.is_empty() {
            return;
        }
        let keyed: Vec<(Key, &str)> = texts.par_iter().map(|t| (key(t), *t)).collect();
        let mut seen =
            HashSet::with_capacity_and_hasher(keyed.len(), foldhash::fast::FixedState::default());
        let todo: Vec<(Key, &str)> = keyed
            .into_iter()
            .filter(|(k, _)| {
                !self.memo.contains_key(k) && !self.primed.contains_key(k) && seen.insert(*k)
            })
            .collect();
        let counted: Vec<(Key, u64)> = todo
            .par_iter()
            .map(|(k, t)| (*k, count(t) as u64))
            .collect();
        self.primed.extend(counted);
    }

    /// Counts `texts` on this thread, each distinct text once and a large text this counter
    /// remembers not again, for another counter's fold ([`Counter::use_primed`]): a thread
    /// that reads a batch counts its texts where their bytes are.
    pub fn count_ahead(&mut self, texts: &[&str]) -> Primed {
        let mut primed =
            Counts::with_capacity_and_hasher(texts.len(), foldhash::fast::FixedState::default());
        if !self.enabled {
            return Primed(primed);
        }
        for text in texts {
            let k = key(text);
            if primed.contains_key(&k) {
                continue;
            }
            let n = match self.memo.get(&k) {
                Some(&n) => n,
                None => count(text) as u64,
            };
            if text.len() >= Self::MEMO_MIN {
                self.remember(k, n);
            }
            primed.insert(k, n);
        }
        Primed(primed)
    }

    /// Takes counts made ahead by [`Counter::count_ahead`] as the current batch's, as
    /// [`Counter::prime`] would have made them (until [`Counter::clear_primed`]).
    pub fn use_primed(&mut self, primed: Primed) {
        self.primed = primed.0;
        self.ahead = true;
    }

    /// Texts counted on the spot while a batch was primed (the pre-pass missed them).
    pub fn primed_misses(&self) -> u64 {
        self.misses
    }

    /// Forgets the counts made by [`Counter::prime`] (large texts stay memoized).
    pub fn clear_primed(&mut self) {
        self.primed = Counts::default();
        self.ahead = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_known_strings() {
        // Reference counts from tiktoken's o200k_base (tests/tokenizer_equality.rs compares
        // every fixture with tiktoken-rs).
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        assert_eq!(count("The quick brown fox jumps over the lazy dog."), 10);
    }

    /// The piece memo gives the same count the first time and every time after, also for
    /// pieces longer than it remembers and for text that repeats its words.
    #[test]
    fn the_piece_memo_counts_what_the_tokenizer_counts() {
        let long = "x".repeat(PIECE_MEMO_MAX_LEN * 3);
        // Long pieces of one letter that differ only in length (the relay bench's padding),
        // one past the merge's scan limit, and a base64-like run.
        let padding = format!("{} {}", "p".repeat(1800), "p".repeat(1801));
        let scan_edge = format!("{} {}", "q".repeat(127), "q".repeat(128));
        let base64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg";
        // Pieces that share a memo slot's key bits but not their length or bytes.
        let near =
            "a\0 a\0\0 a b\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0 0123456789abcdef 0123456789abcdeg";
        let texts = [
            "fn main() { println!(\"hello\"); }\n\n    let x = 42;",
            "Résumé naïve café — 東京 データ 12345 67890 ok!!",
            long.as_str(),
            near,
            "the the the  the\t\tthe\r\n",
            padding.as_str(),
            scan_edge.as_str(),
            base64,
        ];
        let tiktoken = tiktoken_rs::o200k_base_singleton();
        for _ in 0..2 {
            for text in texts {
                assert_eq!(
                    count(text),
                    tiktoken.encode_ordinary(text).len(),
                    "{text:?}"
                );
            }
        }
    }

    /// The memo of large texts starts again before its table would double: a run that counts
    /// more texts than it keeps holds 16,384 slots, never 32,768.
    #[test]
    fn the_memo_never_outgrows_its_table() {
        let mut counter = Counter::default();
        for i in 0..40_000 {
            counter.remember([i, 0], 1);
            assert!(
                counter.memo.capacity() <= 14_336,
                "{} slots",
                counter.memo.capacity()
            );
        }
    }

    #[test]
    fn primed_counts_equal_direct_counts() {
        let big = "fn main() { println!(\"hello\"); } ".repeat(20);
        let texts = ["hello world", big.as_str(), "", "hello world"];
        let mut plain = Counter::default();
        let direct: Vec<u64> = texts.iter().map(|t| plain.count(t)).collect();
        let mut primed = Counter::default();
        primed.prime(&texts);
        assert_eq!(primed.primed.len(), 3, "each distinct text counted once");
        let answered: Vec<u64> = texts.iter().map(|t| primed.count(t)).collect();
        assert_eq!(answered, direct);
        // A text nobody primed is still counted.
        assert_eq!(primed.count("not primed"), plain.count("not primed"));
        primed.clear_primed();
        assert!(primed.primed.is_empty());
        assert_eq!(primed.count(&big), direct[1], "large texts stay memoized");
        // Counted ahead by another counter, each distinct text once, a remembered one again
        // from memory: the same answers.
        let mut reading = Counter::default();
        let ahead = reading.count_ahead(&texts);
        assert_eq!(ahead.0.len(), 3, "each distinct text counted once");
        let again = reading.count_ahead(&texts[1..2]);
        assert_eq!(again.0.get(&key(&big)), Some(&direct[1]));
        let mut folding = Counter::default();
        folding.use_primed(ahead);
        let answered: Vec<u64> = texts.iter().map(|t| folding.count(t)).collect();
        assert_eq!(answered, direct);
        assert_eq!(folding.primed_misses(), 0);
        assert!(
            folding.memo.is_empty(),
            "the reading counter remembers, not the folding one"
        );
        let mut off = Counter::disabled();
        assert!(off.count_ahead(&texts).0.is_empty());
        off.prime(&texts);
        assert!(off.primed.is_empty());
        assert_eq!(off.count(&big), 0);
    }
}
