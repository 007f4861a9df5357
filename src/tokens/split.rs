//! o200k's pre-tokenizer: splits text into the pieces tiktoken's regex would, by hand.
//!
//! The pattern (tiktoken's `O200K_BASE_PAT_STR`) is seven alternatives, tried in order at each
//! position, the first that matches taken, with backtracking inside it:
//!
//! 1. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! 2. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! 3. `\p{N}{1,3}`
//! 4. ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
//! 5. `\s*[\r\n]+`
//! 6. `\s+(?!\S)`
//! 7. `\s+`
//!
//! Each function below is one alternative with its backtracking worked out (which shorter
//! match a failed greedy run falls back to); every code point's class comes from a table
//! build.rs made from regex-syntax, the Unicode tables of the regex crates tiktoken-rs uses.
//! `tests/tokenizer_equality.rs` checks every code point and random text against tiktoken-rs.

use super::class::{CR, END, LETTER, LF, LOWER, MARK, NUMBER, OTHER, UPPER, WS};

/// 256 code points' classes per distinct block (build.rs); block 0 is U+0000..U+00FF.
static BLOCKS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_class_blocks.bin"));
/// Each 256 code points' block number, u16 little endian.
static INDEX: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_class_index.bin"));

/// A set of classes, one bit each.
type Set = u16;
const fn set(classes: &[u8]) -> Set {
    let mut s = 0;
    let mut i = 0;
    while i < classes.len() {
        s |= 1 << classes[i];
        i += 1;
    }
    s
}
/// `[^\r\n\p{L}\p{N}]`: the optional character before a word.
const PREFIX: Set = set(&[WS, MARK, OTHER]);
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
const UPPERISH: Set = set(&[UPPER, LETTER, MARK]);
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
const LOWERISH: Set = set(&[LOWER, LETTER, MARK]);
/// `[^\s\p{L}\p{N}]`.
const SYMBOL: Set = set(&[MARK, OTHER]);
/// `\s`.
const SPACE: Set = set(&[CR, LF, WS]);
/// `[\r\n]`.
const NEWLINE: Set = set(&[CR, LF]);

fn is(s: Set, class: u8) -> bool {
    s & (1 << class) != 0
}

/// The class and UTF-8 length of the character at byte `i` ([`END`] past the end).
#[inline]
fn at(t: &[u8], i: usize) -> (u8, usize) {
    let Some(&b0) = t.get(i) else {
        return (END, 0);
    };
    if b0 < 0x80 {
        return (BLOCKS.get(usize::from(b0)).copied().unwrap_or(OTHER), 1);
    }
    let cont = |k: usize| u32::from(t.get(i + k).copied().unwrap_or(0x80) & 0x3f);
    let (cp, len) = if b0 < 0xe0 {
        ((u32::from(b0 & 0x1f) << 6) | cont(1), 2)
    } else if b0 < 0xf0 {
        ((u32::from(b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            (u32::from(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    };
    (class_of(cp), len)
}

/// The class of code point `cp`.
fn class_of(cp: u32) -> u8 {
    let hi = (cp >> 8) as usize;
    let block = match INDEX.get(hi * 2..hi * 2 + 2) {
        Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
        _ => return OTHER,
    };
    BLOCKS
        .get(block * 256 + (cp & 0xff) as usize)
        .copied()
        .unwrap_or(OTHER)
}

/// Where the run of characters in `s` starting at `i` ends.
#[inline]
fn run(t: &[u8], mut i: usize, s: Set) -> usize {
    loop {
        let (c, l) = at(t, i);
        if !is(s, c) {
            return i;
        }
        i += l;
    }
}

/// The pieces of `text`, in order, covering it.
pub(super) fn pieces(text: &str) -> impl Iterator<Item = &str> {
    bounds(text).filter_map(|(start, end)| text.get(start..end))
}

/// Where each piece of `text` starts and ends, in order, covering it.
pub(super) fn bounds(text: &str) -> Bounds<'_> {
    Bounds {
        t: text.as_bytes(),
        at: 0,
    }
}

pub(super) struct Bounds<'a> {
    t: &'a [u8],
    at: usize,
}

impl Iterator for Bounds<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.at;
        if start >= self.t.len() {
            return None;
        }
        let end = match ascii_piece_end(self.t, start) {
            Some(end) => end,
            None => {
                let (c0, l0) = at(self.t, start);
                piece_end(self.t, start, c0, l0).max(start + l0)
            }
        };
        self.at = end;
        Some((start, end))
    }
}

/// A byte past ASCII in [`ASCII_CLASS`]: the character it starts needs the full table.
const HIGH: u8 = END + 1;

/// The class of each byte that is a whole (ASCII) character — the first 128 entries of the
/// code point table, so both paths agree by construction — and [`HIGH`] for the rest.
const ASCII_CLASS: [u8; 256] = {
    let mut table = [HIGH; 256];
    let mut b = 0;
    while b < 0x80 {
        table[b] = BLOCKS[b];
        b += 1;
    }
    table
};

/// Where the piece starting at byte `p` ends, if the pattern's answer depends on ASCII
/// characters only (their classes read straight from [`ASCII_CLASS`], no UTF-8 decoding);
/// `None` as soon as it would look at a longer character, which [`piece_end`] then handles.
///
/// The same alternatives as [`piece_end`], with what ASCII cannot hold left out: no letter is
/// both upper- and lowerish (no `\p{Lm}`, `\p{Lo}`, `\p{M}`), so a word is upper case letters
/// then lower case ones, and the only symbols are `OTHER`.
#[inline]
fn ascii_piece_end(t: &[u8], p: usize) -> Option<usize> {
    let class = |i: usize| t.get(i).map_or(END, |&b| ASCII_CLASS[usize::from(b)]);
    // A run of `c` from `i`; `None` if it stops at a character past ASCII.
    let run = |mut i: usize, c: u8| {
        if c == LOWER {
            i = lower_run_end(t, i);
        }
        while class(i) == c {
            i += 1;
        }
        (class(i) != HIGH).then_some(i)
    };
    // 1 and 2 without a prefix: `[A-Z]*[a-z]+` or `[A-Z]+`, maybe a contraction; `None`
    // when no letter starts at `s`.
    let word = |s: usize| -> Option<Option<usize>> {
        let k = run(s, UPPER)?;
        let e = if class(k) == LOWER { run(k, LOWER)? } else { k };
        Some((e > s).then(|| contraction(t, e)))
    };
    let c0 = class(p);
    match c0 {
        UPPER | LOWER => word(p)?,
        NUMBER => {
            // 3. `\p{N}{1,3}`: a digit past ASCII may continue it.
            let mut e = p + 1;
            while e < p + 3 && class(e) == NUMBER {
                e += 1;
            }
            if e < p + 3 && class(e) == HIGH {
                return None;
            }
            Some(e)
        }
        WS | OTHER => {
            // 1 and 2 after a one-character prefix.
            if class(p + 1) == HIGH {
                return None;
            }
            if let Some(e) = word(p + 1)? {
                return Some(e);
            }
            // 4. ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
            let s = if t[p] == b' ' && class(p + 1) == OTHER {
                p + 1
            } else if c0 == OTHER {
                p
            } else {
                return ascii_space_end(t, p, class);
            };
            let mut e = run(s, OTHER)?;
            while matches!(t.get(e), Some(b'\r' | b'\n' | b'/')) {
                e += 1;
            }
            Some(e)
        }
        CR | LF => ascii_space_end(t, p, class),
        _ => None,
    }
}

/// Where the run of ASCII lower case letters (the table's `LOWER` below 128: a test holds them
/// equal) from `i` ends, eight bytes tested per step: most pieces of text are a word, and
/// walking its letters a byte at a time was the larger part of the split's instructions.
#[inline]
fn lower_run_end(t: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = ONES * 0x80;
    while let Some(w) = t.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(w);
        // Each byte's low seven bits plus a bias sets its top bit when it is at least 'a' /
        // past 'z' (no carry crosses a byte: the sums stay below 0x100).
        let low = x & !TOPS;
        let from_a = low + ONES * u64::from(0x80 - b'a');
        let past_z = low + ONES * u64::from(0x80 - b'z' - 1);
        let not_lower = !(from_a & !past_z & !x) & TOPS;
        if not_lower != 0 {
            return i + (not_lower.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// 5, 6 and 7 (a run of white space from `p`) over ASCII, as in [`piece_end`].
#[inline]
fn ascii_space_end(t: &[u8], p: usize, class: impl Fn(usize) -> u8) -> Option<usize> {
    let mut e = p;
    let mut last_newline_end = None;
    loop {
        match class(e) {
            CR | LF => last_newline_end = Some(e + 1),
            WS => {}
            HIGH => return None,
            _ => break,
        }
        e += 1;
    }
    if let Some(n) = last_newline_end {
        return Some(n);
    }
    Some(if e >= t.len() || e == p + 1 { e } else { e - 1 })
}

/// Where the piece starting at `p` (a character of class `c0`, `l0` bytes) ends.
fn piece_end(t: &[u8], p: usize, c0: u8, l0: usize) -> usize {
    if is(PREFIX | UPPERISH | LOWERISH, c0)
        && let Some(e) = word(t, p, c0, l0)
    {
        return e;
    }
    if c0 == NUMBER {
        // 3. `\p{N}{1,3}`
        let mut e = p;
        for _ in 0..3 {
            let (c, l) = at(t, e);
            if c != NUMBER {
                break;
            }
            e += l;
        }
        return e;
    }
    // 4. ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    let symbols = if t[p] == b' ' && is(SYMBOL, at(t, p + 1).0) {
        Some(p + 1)
    } else if is(SYMBOL, c0) {
        Some(p)
    } else {
        None
    };
    if let Some(s) = symbols {
        let mut e = run(t, s, SYMBOL);
        while matches!(t.get(e), Some(b'\r' | b'\n' | b'/')) {
            e += 1;
        }
        return e;
    }
    // Only white space is left.
    let mut e = p;
    let mut last_newline_end = None;
    let mut last_start = p;
    loop {
        let (c, l) = at(t, e);
        if !is(SPACE, c) {
            break;
        }
        last_start = e;
        e += l;
        if is(NEWLINE, c) {
            last_newline_end = Some(e);
        }
    }
    // 5. `\s*[\r\n]+`: the greedy `\s*` gives back up to the last newline of the run.
    if let Some(n) = last_newline_end {
        return n;
    }
    // 6. `\s+(?!\S)`: all of the run at the end of the text, else all but its last character
    // (which then starts the next piece); 7. `\s+` when the run is one character.
    if e >= t.len() || last_start == p {
        e
    } else {
        last_start
    }
}

/// Alternatives 1 and 2 (a word, maybe after one non-letter, maybe with a contraction).
fn word(t: &[u8], p: usize, c0: u8, l0: usize) -> Option<usize> {
    // The optional prefix is tried taken first, then left out; leaving it out only matters
    // when it is a mark, which is in both letter sets too.
    let starts = if is(PREFIX, c0) {
        [Some(p + l0), Some(p).filter(|_| c0 == MARK)]
    } else {
        [Some(p), None]
    };
    // 1. `[upperish]*[lowerish]+`: the greedy upperish run gives back characters until a
    // lowerish one can follow; then the lowerish run.
    for s in starts.into_iter().flatten() {
        let mut k = s;
        let mut after_last_lowerish = None;
        loop {
            let (c, l) = at(t, k);
            if !is(UPPERISH, c) {
                if is(LOWERISH, c) {
                    return Some(contraction(t, run(t, k, LOWERISH)));
                }
                break;
            }
            k += l;
            if is(LOWERISH, c) {
                after_last_lowerish = Some(k);
            }
        }
        // Backtracking to the last lowerish character of the run: it alone is the `+`
        // (upper and title case letters follow it, and they are not lowerish).
        if let Some(e) = after_last_lowerish {
            return Some(contraction(t, e));
        }
    }
    // 2. `[upperish]+[lowerish]*`.
    for s in starts.into_iter().flatten() {
        let k = run(t, s, UPPERISH);
        if k > s {
            return Some(contraction(t, run(t, k, LOWERISH)));
        }
    }
    None
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` after a word ending at `e`: where the piece ends. Unicode
/// case folding makes `ſ` (U+017F, long s) an `s` too. It ends every word: the test that
/// almost always fails at once is inlined (as a call it was ~7% of the counter's time).
#[inline]
fn contraction(t: &[u8], e: usize) -> usize {
    if t.get(e) == Some(&b'\'') {
        apostrophe(t, e)
    } else {
        e
    }
}

/// [`contraction`] after a word ending at `e`, where `t[e]` is `'`.
#[inline(never)]
fn apostrophe(t: &[u8], e: usize) -> usize {
    let lower = |i: usize| t.get(e + i).map(u8::to_ascii_lowercase);
    match lower(1) {
        Some(b's' | b't' | b'm' | b'd') => e + 2,
        Some(b'r' | b'v') if lower(2) == Some(b'e') => e + 3,
        Some(b'l') if lower(2) == Some(b'l') => e + 3,
        Some(0xc5) if t.get(e + 2) == Some(&0xbf) => e + 3,
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        pieces(text).collect()
    }

    /// The eight-byte run of lower case letters stops where the byte-at-a-time walk over the
    /// class table stops, from every start, around every byte value.
    #[test]
    fn lower_runs_end_where_the_table_says() {
        for b in 0..=255u8 {
            assert_eq!(
                ASCII_CLASS[usize::from(b)] == LOWER,
                b.is_ascii_lowercase(),
                "byte {b:#04x}"
            );
        }
        let mut text = Vec::new();
        for b in 0..=255u8 {
            text.extend_from_slice(b"abcdefghijklmnopqrstuvwxyz");
            text.push(b);
            text.extend_from_slice(&b"abcdefghijk"[..usize::from(b % 12)]);
        }
        for i in 0..=text.len() {
            let mut walk = i;
            while text.get(walk).is_some_and(u8::is_ascii_lowercase) {
                walk += 1;
            }
            let fast = lower_run_end(&text, i);
            assert!(fast <= walk, "start {i}: {fast} past {walk}");
            let mut rest = fast;
            while text.get(rest).is_some_and(u8::is_ascii_lowercase) {
                rest += 1;
            }
            assert_eq!(rest, walk, "start {i}");
            assert!(walk - fast < 8, "start {i}: left {} bytes", walk - fast);
        }
    }

    #[test]
    fn splits_like_tiktoken() {
        // Pieces tiktoken's o200k regex gives for these (tests/tokenizer_equality.rs checks
        // far more against tiktoken-rs itself).
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(split("  hello"), [" ", " hello"]);
        assert_eq!(split("don't STOP'LL"), ["don't", " STOP'LL"]);
        assert_eq!(split("abc 1234567"), ["abc", " ", "123", "456", "7"]);
        assert_eq!(split("a  \n\n b"), ["a", "  \n\n", " b"]);
        assert_eq!(split("x!!\n/y"), ["x", "!!\n/", "y"]);
        assert_eq!(split("end   "), ["end", "   "]);
        assert_eq!(split("CamelCase"), ["Camel", "Case"]);
        assert_eq!(split("日本X "), ["日本", "X", " "]);
    }

    #[test]
    fn classes_come_from_the_table() {
        assert_eq!(class_of('a' as u32), LOWER);
        assert_eq!(class_of('Ǆ' as u32), UPPER);
        assert_eq!(class_of('ǅ' as u32), UPPER); // title case
        assert_eq!(class_of('日' as u32), LETTER);
        assert_eq!(class_of(0x301), MARK);
        assert_eq!(class_of('٣' as u32), NUMBER);
        assert_eq!(class_of(0x3000), WS);
        assert_eq!(class_of(0x1F600), OTHER);
        assert_eq!(class_of(0x10FFFF), OTHER);
        assert_eq!(class_of(0x20000), LETTER);
    }
}
