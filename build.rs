//! Build script: turns OpenAI's public o200k vocabulary (`assets/o200k_base.tiktoken`) and the
//! Unicode classes of its split pattern into the compact tables `src/tokens/` borrows.
//!
//! Done here rather than at start-up so the running program parses nothing and owns nothing
//! but a hash index: the tables are read-only bytes in the binary (see `src/tokens/vocab.rs`).

use std::collections::HashMap;
use std::error::Error;
use std::path::Path;

use base64::Engine as _;
use regex_syntax::hir::{Class, HirKind};

#[path = "src/tokens/class.rs"]
mod class;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/tokens/class.rs");
    println!("cargo::rerun-if-changed=assets/o200k_base.tiktoken");
    let out = std::env::var("OUT_DIR")?;
    let out = Path::new(&out);
    vocabulary(out)?;
    classes(out)?;
    Ok(())
}

/// `o200k_tokens.bin`: every token's bytes in rank order, back to back; `o200k_ends.bin`: where
/// each token ends in it (u32 little endian), so rank `r` is `tokens[ends[r-1]..ends[r]]`.
fn vocabulary(out: &Path) -> Result<(), Box<dyn Error>> {
    let text = std::fs::read_to_string("assets/o200k_base.tiktoken")?;
    let mut tokens = Vec::new();
    let mut ends = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let (b64, rank) = line
            .split_once(' ')
            .ok_or_else(|| format!("o200k_base.tiktoken line {}: no rank", i + 1))?;
        let rank: usize = rank.parse()?;
        if rank != i {
            return Err(format!("o200k_base.tiktoken line {}: rank {rank}, not {i}", i + 1).into());
        }
        let token = base64::engine::general_purpose::STANDARD.decode(b64)?;
        if token.is_empty() || !seen.insert(token.clone()) {
            return Err(format!("o200k_base.tiktoken line {}: empty or repeated", i + 1).into());
        }
        tokens.extend_from_slice(&token);
        ends.extend_from_slice(&u32::try_from(tokens.len())?.to_le_bytes());
    }
    std::fs::write(out.join("o200k_tokens.bin"), tokens)?;
    std::fs::write(out.join("o200k_ends.bin"), ends)?;
    Ok(())
}

/// `o200k_class_index.bin` (u16 little endian per 256 code points) and
/// `o200k_class_blocks.bin` (256 classes per distinct block): every code point's class, with
/// the block of U+0000..U+00FF first so ASCII reads it directly.
fn classes(out: &Path) -> Result<(), Box<dyn Error>> {
    let mut of = vec![class::OTHER; 0x11_0000];
    for (cls, pattern) in class::PATTERNS {
        let hir = regex_syntax::parse(pattern)?;
        // A one-character class parses to a literal.
        let ranges: Vec<(u32, u32)> = match hir.kind() {
            HirKind::Class(Class::Unicode(set)) => set
                .ranges()
                .iter()
                .map(|r| (u32::from(r.start()), u32::from(r.end())))
                .collect(),
            HirKind::Literal(lit) => std::str::from_utf8(&lit.0)?
                .chars()
                .map(|c| (u32::from(c), u32::from(c)))
                .collect(),
            _ => return Err(format!("{pattern} is not a class").into()),
        };
        for (start, end) in ranges {
            for cp in start..=end {
                let slot = &mut of[cp as usize];
                if *slot != class::OTHER {
                    return Err(format!("U+{cp:04X} is in two classes").into());
                }
                *slot = cls;
            }
        }
    }
    let mut index = Vec::new();
    let mut blocks: Vec<u8> = Vec::new();
    let mut ids: HashMap<&[u8], u16> = HashMap::new();
    for block in of.chunks(256) {
        let next = u16::try_from(ids.len())?;
        let id = *ids.entry(block).or_insert_with(|| {
            blocks.extend_from_slice(block);
            next
        });
        index.extend_from_slice(&id.to_le_bytes());
    }
    std::fs::write(out.join("o200k_class_index.bin"), index)?;
    std::fs::write(out.join("o200k_class_blocks.bin"), blocks)?;
    Ok(())
}
