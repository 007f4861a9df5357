//! Ledger throughput on a generated 100 MB transcript, beside bare serde_json parsing
//! of the same lines (measured in the same run). The fold without tokens has a goal of its
//! own (issue 18: ≥ 400 MB/s). Env: LEDGER_BENCH_MB (default 100).
use std::io::BufRead;
use std::time::Instant;

use serde_json::value::RawValue;
use turnscope::ledger::Ledger;
use turnscope::transcript::{from_reader, synth};

fn main() {
    let mb: u64 = std::env::var("LEDGER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut data = Vec::new();
    let written = synth::write_synthetic(&mut data, mb * 1_000_000, 7).unwrap_or(0);
    let size = written as f64 / 1e6;
    println!(
        "transcript: {size:.1} MB, {} lines",
        data.iter().filter(|&&b| b == b'\n').count()
    );

    // Baseline 1: every line to a full serde_json::Value.
    let start = Instant::now();
    let mut n = 0usize;
    for line in data.lines().map_while(Result::ok) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        n += usize::from(v.is_object());
    }
    let t_value = start.elapsed().as_secs_f64();

    // Baseline 2: every line to a struct with the frame as a borrowed RawValue.
    let start = Instant::now();
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Line<'a> {
        t_us: Option<u64>,
        #[serde(borrow)]
        frame: Option<&'a RawValue>,
    }
    for line in data.lines().map_while(Result::ok) {
        let l: Option<Line<'_>> = serde_json::from_str(&line).ok();
        n += usize::from(l.is_some());
    }
    let t_raw = start.elapsed().as_secs_f64();

    // The ledger: streaming reader + fold (tokenizing every input and output item).
    let start = Instant::now();
    let mut ledger = Ledger::new();
    if let Ok(reader) = from_reader(&data[..], "synthetic") {
        for entry in reader.flatten() {
            ledger.push(&entry.frame);
        }
    }
    let t_ledger = start.elapsed().as_secs_f64();

    // The same fold without the tokenizer: bytes, items, latencies, chain.
    let start = Instant::now();
    let mut bytes_only = Ledger::without_tokens();
    if let Ok(reader) = from_reader(&data[..], "synthetic") {
        for entry in reader.flatten() {
            bytes_only.push(&entry.frame);
        }
    }
    let t_bytes = start.elapsed().as_secs_f64();

    println!(
        "parse to Value      : {t_value:.3}s = {:.0} MB/s",
        size / t_value
    );
    println!(
        "parse line+RawValue : {t_raw:.3}s = {:.0} MB/s",
        size / t_raw
    );
    println!(
        "reader + ledger     : {t_ledger:.3}s = {:.0} MB/s ({} turns, {} tokens)",
        size / t_ledger,
        ledger.turns().len(),
        ledger.totals().incremental.tokens
    );
    println!(
        "reader + ledger, no tokens: {t_bytes:.3}s = {:.0} MB/s (goal ≥ 400 MB/s, issue 18: {})",
        size / t_bytes,
        if size / t_bytes >= 400.0 {
            "met"
        } else {
            "not met"
        }
    );
    println!(
        "ratio ledger (no tokens) / Value parse: {:.2}x (goal < 1.5x)",
        t_bytes / t_value
    );
    println!(
        "ratio ledger (o200k)     / Value parse: {:.2}x",
        t_ledger / t_value
    );
    println!("ratio ledger / RawValue parse: {:.2}x", t_ledger / t_raw);
    std::hint::black_box(n);
}
