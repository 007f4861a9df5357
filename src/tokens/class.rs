//! The character classes of o200k's split pattern, shared by `build.rs` (which tabulates every
//! code point into one of them) and the pre-tokenizer (which reads that table).
//!
//! tiktoken's pattern names seven sets (`[^\r\n\p{L}\p{N}]`, `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`,
//! `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`, `\p{N}`, `[^\s\p{L}\p{N}]`, `\s`, `[\r\n]`); these nine disjoint
//! classes are the coarsest partition from which each set is a union (the masks below).

/// `\r`.
pub const CR: u8 = 0;
/// `\n`.
pub const LF: u8 = 1;
/// Any other `\s` (Unicode White_Space).
pub const WS: u8 = 2;
/// Upper and title case letters (`\p{Lu}`, `\p{Lt}`).
pub const UPPER: u8 = 3;
/// Lower case letters (`\p{Ll}`).
pub const LOWER: u8 = 4;
/// Modifier and other letters (`\p{Lm}`, `\p{Lo}`: CJK, kana, …), in both letter sets.
pub const LETTER: u8 = 5;
/// Combining marks (`\p{M}`): in both letter sets, yet not `\p{L}`.
pub const MARK: u8 = 6;
/// Numbers (`\p{N}`).
pub const NUMBER: u8 = 7;
/// Everything else: punctuation, symbols, controls, unassigned code points.
pub const OTHER: u8 = 8;
/// Past the end of the text: in no set.
#[allow(dead_code)] // the pre-tokenizer's only, not build.rs's
pub const END: u8 = 9;

/// The classes `build.rs` reads from regex-syntax (the Unicode tables tiktoken's regex uses);
/// a code point in none of them is [`OTHER`].
#[allow(dead_code)] // read by build.rs only
pub const PATTERNS: [(u8, &str); 8] = [
    (CR, r"\r"),
    (LF, r"\n"),
    (WS, r"[\s--[\r\n]]"),
    (UPPER, r"[\p{Lu}\p{Lt}]"),
    (LOWER, r"\p{Ll}"),
    (LETTER, r"[\p{Lm}\p{Lo}]"),
    (MARK, r"\p{M}"),
    (NUMBER, r"\p{N}"),
];
