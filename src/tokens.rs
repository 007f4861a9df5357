//! o200k token counts, offline (the tokenizer tables are compiled into the binary).

/// Counts o200k tokens in `text` (no special tokens).
pub fn count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    bpe_openai::o200k_base().count(text)
}

/// Counts the tokens of a JSON value's text content the way the ledger sizes context:
/// the compact JSON serialization of the value.
pub fn count_json(value: &serde_json::Value) -> usize {
    count(&value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_known_strings() {
        // Reference counts from tiktoken's o200k_base.
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        assert!(count("The quick brown fox jumps over the lazy dog.") >= 9);
    }
}

/// A token counter that remembers large texts it has counted (instructions and tools are
/// resent every turn) and can be switched off for byte-only folds.
#[derive(Debug, Clone)]
pub struct Counter {
    enabled: bool,
    memo: std::collections::HashMap<u64, u64>,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            enabled: true,
            memo: std::collections::HashMap::new(),
        }
    }
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
        if text.len() < Self::MEMO_MIN {
            return count(text) as u64;
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        *self
            .memo
            .entry(h.finish())
            .or_insert_with(|| count(text) as u64)
    }
}
