//! `turnscope stats` on generated single-chain transcripts (200 MB and 1 GB by default) beside
//! `jq -c .` and a bare newline count of the same file, all in the same run: wall time, CPU
//! and peak RSS of each (GNU `/usr/bin/time`), and the ratios the README's performance table
//! quotes. Goals (issue 18): ≥ 10× faster than jq, peak RSS < 10% of the file.
//!
//! The transcripts are written once under target/bench-data/ (src/transcript/synth.rs, fixed
//! seed). Env: STATS_BENCH_MB (comma-separated sizes, default "200,1000").
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/floor.rs"]
mod floor;

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Wall seconds, CPU seconds and peak RSS in MB of one command, its stdout discarded.
struct Run {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
}

fn measure(program: &str, args: &[&str]) -> Result<Run, String> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return Err("GNU /usr/bin/time is not installed".into());
    }
    let start = Instant::now();
    let out = Command::new(time)
        .args(["-f", "%U %S %M", program])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let wall = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    let f: Vec<f64> = last
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    if !out.status.success() || f.len() != 3 {
        return Err(format!("{program} failed: {}", err.trim()));
    }
    Ok(Run {
        wall,
        cpu: f[0] + f[1],
        rss_mb: f[2] / 1024.0,
    })
}

fn transcript(mb: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("synth-{mb}mb.tsjsonl"));
    if !path.exists() {
        eprintln!("writing {} (once)…", path.display());
        let tmp = path.with_extension("part");
        let mut out = BufWriter::new(std::fs::File::create(&tmp).unwrap());
        turnscope::transcript::synth::write_synthetic(&mut out, mb * 1_000_000, 7).unwrap();
        drop(out);
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn main() {
    let sizes: Vec<u64> = std::env::var("STATS_BENCH_MB")
        .unwrap_or_else(|_| "200,1000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let bin = env!("CARGO_BIN_EXE_turnscope");
    println!(
        "stats bench ({} cores; the machine is shared, so compare the ratios, measured in the same run)",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    for mb in sizes {
        let path = transcript(mb);
        let file = path.to_str().unwrap();
        #[allow(clippy::cast_precision_loss)]
        let size_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
        let (t_nl, lines) = floor::count_newlines(&path);
        println!("\n{size_mb:.0} MB, {lines} lines");
        println!(
            "  newline count      : {t_nl:7.2}s  {:6.0} MB/s",
            size_mb / t_nl
        );
        let jq = measure("jq", &["-c", ".", file]);
        match &jq {
            Ok(r) => println!(
                "  jq -c .            : {:7.2}s  {:6.0} MB/s  cpu {:6.2}s  rss {:7.1} MB",
                r.wall,
                size_mb / r.wall,
                r.cpu,
                r.rss_mb
            ),
            Err(e) => println!("  jq -c .            : skipped ({e})"),
        }
        for (label, args) in [
            ("stats --json", vec!["stats", "--json", file]),
            ("stats (table)", vec!["stats", file]),
        ] {
            match measure(bin, &args) {
                Ok(r) => {
                    println!(
                        "  {label:<19}: {:7.2}s  {:6.0} MB/s  cpu {:6.2}s  rss {:7.1} MB = {:.1}% of the file (goal < 10%)",
                        r.wall,
                        size_mb / r.wall,
                        r.cpu,
                        r.rss_mb,
                        r.rss_mb / size_mb * 100.0
                    );
                    if let Ok(j) = &jq {
                        println!(
                            "    ratio: {:.2}x faster than jq (goal ≥ 10x), {:.1}x the newline count",
                            j.wall / r.wall,
                            r.wall / t_nl
                        );
                    }
                }
                Err(e) => println!("  {label:<19}: failed ({e})"),
            }
        }
    }
}
