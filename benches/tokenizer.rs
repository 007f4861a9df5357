//! The o200k counter against the one before it (bpe-openai plus a piece memo) and tiktoken-rs,
//! in one run: peak RSS of a process that only loads each and counts one word, and single-core
//! throughput (MB per CPU-second) on the texts `stats` counts in a synthetic transcript (each
//! distinct input and output item's JSON, as the ledger's token pass sees them). The totals of
//! all three must be equal. Env: TOKENIZER_BENCH_MB (default 50) of transcript;
//! TOKENIZER_BENCH_ONLY=turnscope times that counter alone (for a profiler: no comparison).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;

/// The counter before src/tokens/ had its own: bpe-openai's tokenizer, each thread
/// remembering the pieces up to 24 bytes it has counted (as `tokens::count` did).
fn old_count(text: &str) -> usize {
    thread_local! {
        static PIECES: RefCell<HashMap<Box<str>, u32>> = RefCell::new(HashMap::new());
    }
    let tokenizer = bpe_openai::o200k_base();
    PIECES.with_borrow_mut(|memo| {
        tokenizer
            .split(text)
            .map(|piece| {
                if piece.len() > 24 {
                    return tokenizer.bpe.count(piece.as_bytes());
                }
                if let Some(&n) = memo.get(piece) {
                    return n as usize;
                }
                let n = tokenizer.bpe.count(piece.as_bytes());
                if memo.len() >= 1 << 15 {
                    memo.clear();
                }
                memo.insert(piece.into(), n as u32);
                n
            })
            .sum()
    })
}

fn tiktoken_count(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// A token counter: text in, tokens out.
type Count = fn(&str) -> usize;

const COUNTERS: [(&str, Count); 3] = [
    ("turnscope", turnscope::tokens::count),
    ("bpe-openai + memo", old_count),
    ("tiktoken-rs", tiktoken_count),
];

/// This process's peak resident set (VmHWM), in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time of the calling thread (`/proc/thread-self/schedstat`), in seconds.
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns: u64 = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ns as f64 / 1e9
}

/// Each distinct item JSON the ledger counts: request input items, finished output items and
/// the outputs of terminal responses.
fn item_texts(transcript: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    for line in transcript.split(|&b| b == b'\n') {
        let Ok(record) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let Some(frame) = record.get("frame") else {
            continue;
        };
        let done = frame.get("type").and_then(Value::as_str) == Some("response.output_item.done");
        let items = [
            frame.get("input"),
            frame.get("item").filter(|_| done),
            frame.get("response").and_then(|r| r.get("output")),
        ];
        for value in items.into_iter().flatten() {
            match value {
                Value::Array(list) => texts.extend(list.iter().map(Value::to_string)),
                Value::Object(_) => texts.push(value.to_string()),
                _ => {}
            }
        }
    }
    texts.sort_unstable();
    texts.dedup();
    texts
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child: load one counter, count a word, report the peak RSS.
    if let Some(i) = args.iter().position(|a| a == "--rss") {
        let which = args.get(i + 1).map_or("", String::as_str);
        if let Some((_, count)) = COUNTERS.iter().find(|(name, _)| *name == which) {
            std::hint::black_box(count("warm up"));
        }
        println!("{}", peak_rss_kb());
        return;
    }

    if std::env::var_os("TOKENIZER_BENCH_ONLY").is_some() {
        println!("(TOKENIZER_BENCH_ONLY: no peak RSS)");
    } else {
        peak_rss_of_each();
    }
    throughput();
}

/// Runs this bench as a child per counter and prints the peak RSS each reports.
fn peak_rss_of_each() {
    println!("peak RSS of a process that loads the counter and counts one word:");
    let exe = std::env::current_exe().unwrap();
    let rss = |which: &str| -> f64 {
        let out = std::process::Command::new(&exe)
            .args(["--rss", which])
            .output()
            .unwrap();
        let kb: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        kb / 1024.0
    };
    let floor = rss("nothing");
    println!("  {:<18}: {floor:6.1} MB", "nothing loaded");
    for (name, _) in COUNTERS {
        let mb = rss(name);
        println!("  {name:<18}: {mb:6.1} MB ({:+.1} MB)", mb - floor);
    }
}

/// Each counter's single-core throughput on the same texts, and their totals compared.
fn throughput() {
    let mb: u64 = std::env::var("TOKENIZER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut data = Vec::new();
    turnscope::transcript::synth::write_synthetic(&mut data, mb * 1_000_000, 7).unwrap();
    let texts = item_texts(&data);
    drop(data);
    let size = texts.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    println!(
        "texts: {} distinct item JSONs, {size:.1} MB, from a {mb} MB synthetic transcript",
        texts.len()
    );
    let only = std::env::var("TOKENIZER_BENCH_ONLY").ok();
    let mut results = Vec::new();
    for (name, count) in COUNTERS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        std::hint::black_box(count("warm up"));
        let (cpu0, start) = (thread_cpu(), Instant::now());
        let tokens: usize = texts.iter().map(|t| count(t)).sum();
        let wall = start.elapsed().as_secs_f64();
        let cpu = thread_cpu() - cpu0;
        println!(
            "  {name:<18}: {tokens} tokens, {cpu:6.3} cpu-s = {:6.1} MB/cpu-s ({wall:.3} s wall)",
            size / cpu
        );
        results.push((name, tokens, cpu));
    }
    let Some(&(_, ours, ours_cpu)) = results.first() else {
        return;
    };
    for &(name, tokens, cpu) in &results[1..] {
        assert_eq!(tokens, ours, "{name} counted differently");
        println!("turnscope vs {name}: {:.2}x the throughput", cpu / ours_cpu);
    }
}
