//! Ledger throughput on a generated 100 MB transcript, beside bare serde_json parsing
//! of the same lines (measured in the same run). The fold without tokens has a goal of its
//! own (issue 18: ≥ 400 MB/s).
//!
//! Each phase prints wall time and this thread's CPU time (the machine is shared: on a busy
//! machine wall time measures the neighbours, CPU time the work). The batch phases are the
//! path `stats` and replay's token pass take (lines, frame reads and tokens on all cores); their
//! CPU is the whole process's. Env: LEDGER_BENCH_MB (default 100); LEDGER_BENCH_ONLY=NAME runs
//! one phase (`value`, `raw`, `fold`, `fold-ref`, `fold-tokens`, `batch`, `batch-tokens`), for a
//! profiler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use turnscope::ledger::Ledger;
use turnscope::transcript::{LineRef, from_reader, parse_line_ref, synth};

/// CPU time of the calling thread (`/proc/thread-self/schedstat`, ns), or of the whole process
/// (`/proc/self/stat`, 10 ms ticks) for phases that use every core.
fn cpu(process: bool) -> Duration {
    if process {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |s| s.1);
        let f: Vec<&str> = after.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of the line, 11 and 12 after the name.
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let ticks = field(11) + field(12);
        return Duration::from_millis(ticks * 10);
    }
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        stat.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

/// Runs `f` and prints its wall and CPU time and throughput over `size` MB.
fn phase(name: &str, label: &str, size: f64, process: bool, f: impl FnOnce() -> String) -> f64 {
    let only = std::env::var("LEDGER_BENCH_ONLY").ok();
    if only.as_deref().is_some_and(|o| o != name) {
        return f64::NAN;
    }
    let (c0, start) = (cpu(process), Instant::now());
    let note = f();
    let wall = start.elapsed().as_secs_f64();
    let cpu_s = (cpu(process) - c0).as_secs_f64();
    println!(
        "{label:<34}: {wall:6.3}s wall = {:4.0} MB/s | {cpu_s:6.3}s cpu = {:4.0} MB/cpu-s {note}",
        size / wall,
        size / cpu_s
    );
    cpu_s
}

fn main() {
    let mb: u64 = std::env::var("LEDGER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut data = Vec::new();
    let written = synth::write_synthetic(&mut data, mb * 1_000_000, 7).unwrap_or(0);
    let size = written as f64 / 1e6;
    println!(
        "transcript: {size:.1} MB, {} lines, {} cores",
        data.iter().filter(|&&b| b == b'\n').count(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    // Baseline 1: every line to a full serde_json::Value.
    let t_value = phase("value", "parse to Value", size, false, || {
        let mut n = 0usize;
        for line in data.lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            n += usize::from(v.is_object());
        }
        std::hint::black_box(n);
        String::new()
    });

    // Baseline 2: every line to a struct with the frame as a borrowed RawValue.
    phase("raw", "parse line+RawValue", size, false, || {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Line<'a> {
            t_us: Option<u64>,
            #[serde(borrow)]
            frame: Option<&'a RawValue>,
        }
        let mut n = 0usize;
        for line in data.split(|&b| b == b'\n') {
            let l: Option<Line<'_>> = serde_json::from_slice(line).ok();
            n += usize::from(l.is_some());
        }
        std::hint::black_box(n);
        String::new()
    });

    // The fold without the tokenizer, one frame at a time: bytes, items, latencies, chain.
    let t_bytes = phase("fold", "reader + ledger, no tokens", size, false, || {
        let mut ledger = Ledger::without_tokens();
        if let Ok(reader) = from_reader(&data[..], "synthetic") {
            for entry in reader.flatten() {
                ledger.push(&entry.frame);
            }
        }
        format!("({} turns)", ledger.turns().len())
    });

    // The fold without the tokenizer over lines parsed in place (the frame borrowed from the
    // input, nothing copied), one frame at a time on this thread: the goal's figure.
    let t_ref = phase(
        "fold-ref",
        "lines in place + ledger, no tokens",
        size,
        false,
        || {
            let mut ledger = Ledger::without_tokens();
            // Lines found with memchr, as the reader finds them; the header line skipped.
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', &data) {
                if start > 0
                    && let Ok(line) = parse_line_ref(&data[start..end])
                {
                    ledger.push_ref(&line.into_frame_ref());
                }
                start = end + 1;
            }
            format!("({} turns)", ledger.turns().len())
        },
    );

    // The same fold with o200k counts of every input and output item, one frame at a time.
    let t_ledger = phase(
        "fold-tokens",
        "reader + ledger (o200k)",
        size,
        false,
        || {
            let mut ledger = Ledger::new();
            if let Ok(reader) = from_reader(&data[..], "synthetic") {
                for entry in reader.flatten() {
                    ledger.push(&entry.frame);
                }
            }
            format!(
                "({} turns, {} tokens)",
                ledger.turns().len(),
                ledger.totals().incremental.tokens
            )
        },
    );

    // The path `stats` takes: 4 MB batches of lines parsed, frames read (and tokens counted)
    // on all cores, then folded in order.
    let batch = |ledger: &mut Ledger| {
        if let Ok(mut reader) = from_reader(&data[..], "synthetic") {
            let mut buf = Vec::new();
            loop {
                let lines = reader.read_lines(4 << 20, &mut buf);
                if lines.is_empty() {
                    break;
                }
                let frames = lines.parse(&buf).into_iter().flatten();
                let frames = frames.map(LineRef::into_frame_ref).collect();
                ledger.push_prepared(Ledger::prepare(frames));
            }
        }
    };
    phase(
        "batch",
        "batches, no tokens (all cores)",
        size,
        true,
        || {
            let mut ledger = Ledger::without_tokens();
            batch(&mut ledger);
            format!("({} turns)", ledger.turns().len())
        },
    );
    phase(
        "batch-tokens",
        "batches, o200k (all cores)",
        size,
        true,
        || {
            let mut ledger = Ledger::summary_only();
            batch(&mut ledger);
            format!("({} tokens)", ledger.totals().incremental.tokens)
        },
    );

    if t_ref.is_finite() {
        let rate = size / t_ref;
        println!(
            "ledger fold without tokens (lines in place): {rate:.0} MB per CPU-second (goal ≥ 400 MB/s, issue 18: {})",
            if rate >= 400.0 { "met" } else { "not met" }
        );
    }
    if t_bytes.is_finite() && t_ref.is_finite() {
        println!(
            "ratio fold over owned frames / in place, CPU: {:.2}x",
            t_bytes / t_ref
        );
    }
    if t_value.is_finite() && t_bytes.is_finite() {
        println!(
            "ratio ledger (no tokens) / Value parse, CPU: {:.2}x (goal < 1.5x)",
            t_bytes / t_value
        );
    }
    if t_value.is_finite() && t_ledger.is_finite() {
        println!(
            "ratio ledger (o200k)     / Value parse, CPU: {:.2}x",
            t_ledger / t_value
        );
    }
}
