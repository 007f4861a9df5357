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
