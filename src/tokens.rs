//! o200k token counts, offline (the tokenizer tables are compiled into the binary).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

/// Pieces (the pre-tokenizer's words, numbers, punctuation runs) up to this length are
/// remembered per thread: text repeats its words, and byte-pair encoding a piece (an
/// allocation and a search each) cost more than looking it up. Longer pieces rarely repeat.
const PIECE_MEMO_MAX_LEN: usize = 24;
/// Entries per thread before the piece memo starts over (a few MB at most).
const PIECE_MEMO_MAX_ENTRIES: usize = 1 << 15;

thread_local! {
    static PIECES: RefCell<HashMap<Box<str>, u32>> = RefCell::new(HashMap::new());
}

/// Counts o200k tokens in `text` (no special tokens).
///
/// The same sum as `bpe_openai`'s `Tokenizer::count` (o200k does no normalisation): the text
/// is split into pieces and each piece's byte-pair count added, from the piece memo when it
/// has been seen (`tests/tokenizer_equality.rs` holds it equal to tiktoken).
pub fn count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let tokenizer = bpe_openai::o200k_base();
    PIECES.with_borrow_mut(|memo| {
        tokenizer
            .split(text)
            .map(|piece| {
                if piece.len() > PIECE_MEMO_MAX_LEN {
                    return tokenizer.bpe.count(piece.as_bytes());
                }
                if let Some(&n) = memo.get(piece) {
                    return n as usize;
                }
                let n = tokenizer.bpe.count(piece.as_bytes());
                if memo.len() >= PIECE_MEMO_MAX_ENTRIES {
                    memo.clear();
                }
                memo.insert(piece.into(), u32::try_from(n).unwrap_or(u32::MAX));
                n
            })
            .sum()
    })
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
    memo: HashMap<u64, u64>,
    /// Counts made ahead by [`Counter::prime`], for the current batch only.
    primed: HashMap<u64, u64>,
    /// Texts asked for while primed that the priming had not counted.
    misses: u64,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            enabled: true,
            memo: HashMap::new(),
            primed: HashMap::new(),
            misses: 0,
        }
    }
}

/// The key texts are remembered under.
fn key(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
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
                if text.len() >= Self::MEMO_MIN {
                    self.memo.insert(k, n);
                }
                return n;
            }
            self.misses += 1;
        }
        if text.len() < Self::MEMO_MIN {
            return count(text) as u64;
        }
        *self
            .memo
            .entry(key(text))
            .or_insert_with(|| count(text) as u64)
    }

    /// Counts `texts` ahead, in parallel across all cores (each distinct text once, none
    /// already remembered), so that [`Counter::count`] answers them from memory until
    /// [`Counter::clear_primed`].
    pub fn prime(&mut self, texts: &[&str]) {
        if !self.enabled || texts.is_empty() {
            return;
        }
        let keyed: Vec<(u64, &str)> = texts.par_iter().map(|t| (key(t), *t)).collect();
        let mut seen = HashSet::with_capacity(keyed.len());
        let todo: Vec<(u64, &str)> = keyed
            .into_iter()
            .filter(|(k, _)| {
                !self.memo.contains_key(k) && !self.primed.contains_key(k) && seen.insert(*k)
            })
            .collect();
        let counted: Vec<(u64, u64)> = todo
            .par_iter()
            .map(|(k, t)| (*k, count(t) as u64))
            .collect();
        self.primed.extend(counted);
    }

    /// Texts counted on the spot while a batch was primed (the pre-pass missed them).
    pub fn primed_misses(&self) -> u64 {
        self.misses
    }

    /// Forgets the counts made by [`Counter::prime`] (large texts stay memoized).
    pub fn clear_primed(&mut self) {
        self.primed = HashMap::new();
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

    /// The piece memo gives the tokenizer's own count, the first time and every time after,
    /// also for pieces longer than it remembers and for text that repeats its words.
    #[test]
    fn the_piece_memo_counts_what_the_tokenizer_counts() {
        let long = "x".repeat(PIECE_MEMO_MAX_LEN * 3);
        let texts = [
            "fn main() { println!(\"hello\"); }\n\n    let x = 42;",
            "Résumé naïve café — 東京 データ 12345 67890 ok!!",
            long.as_str(),
            "the the the  the\t\tthe\r\n",
        ];
        let tokenizer = bpe_openai::o200k_base();
        for _ in 0..2 {
            for text in texts {
                assert_eq!(count(text), tokenizer.count(text), "{text:?}");
            }
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
        let mut off = Counter::disabled();
        off.prime(&texts);
        assert!(off.primed.is_empty());
        assert_eq!(off.count(&big), 0);
    }
}
