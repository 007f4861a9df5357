//! Load on the emulator: N concurrent clients each run the 25-call coding-agent scenario at
//! latency profile `zero`, first over WebSocket (incremental turns), then over HTTP (full
//! resend, SSE) on the same server in the same run. Prints turns/s and p50/p99 turn latency.
//!
//! `cargo bench --bench emulator_load` (optional args: CLIENTS, default 200).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/drive.rs"]
mod drive;

use std::time::{Duration, Instant};

use drive::RunStats;
use turnscope::emulator::{self, EmulatorConfig, Scenario};

struct Summary {
    turns: usize,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    bytes: usize,
    input_tokens: u64,
    cached_tokens: u64,
}

fn summarize(runs: &[RunStats], wall: Duration) -> Summary {
    let mut lat: Vec<Duration> = runs
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    Summary {
        turns: lat.len(),
        wall,
        p50: pick(0.50),
        p99: pick(0.99),
        bytes: runs.iter().map(|r| r.bytes_sent).sum(),
        input_tokens: runs.iter().map(|r| r.input_tokens).sum(),
        cached_tokens: runs.iter().map(|r| r.cached_tokens).sum(),
    }
}

fn print_row(mode: &str, s: &Summary) {
    println!(
        "{mode:<10} {:>7} {:>9.1} {:>10.2} {:>10.2} {:>9.1} {:>12} {:>12} {:>8.1}%",
        s.turns,
        s.turns as f64 / s.wall.as_secs_f64(),
        s.p50.as_secs_f64() * 1000.0,
        s.p99.as_secs_f64() * 1000.0,
        s.wall.as_secs_f64(),
        s.bytes / 1_000_000,
        s.input_tokens,
        100.0 * s.cached_tokens as f64 / s.input_tokens.max(1) as f64,
    );
}

fn main() {
    let clients: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let scenario = Scenario::builtin("coding-agent").unwrap();
        let emu = emulator::start(EmulatorConfig {
            scenario: Some(scenario.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
        println!(
            "emulator load: {clients} concurrent clients x scenario coding-agent ({} calls, {} turns each), latency profile zero, {} CPU(s)",
            scenario.call_count(),
            scenario.turns().len(),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );

        let start = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let url = emu.ws_url();
                let s = scenario.clone();
                tokio::spawn(async move { drive::run_ws(&url, &s).await })
            })
            .collect();
        let mut ws_runs = Vec::new();
        for t in tasks {
            ws_runs.push(t.await.unwrap());
        }
        let ws = summarize(&ws_runs, start.elapsed());

        let http_client = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .unwrap();
        let start = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let base = emu.base_url();
                let s = scenario.clone();
                let c = http_client.clone();
                tokio::spawn(async move { drive::run_http(&c, &base, &s).await })
            })
            .collect();
        let mut http_runs = Vec::new();
        for t in tasks {
            http_runs.push(t.await.unwrap());
        }
        let http = summarize(&http_runs, start.elapsed());

        println!(
            "{:<10} {:>7} {:>9} {:>10} {:>10} {:>9} {:>12} {:>12} {:>9}",
            "mode", "turns", "turns/s", "p50 ms", "p99 ms", "wall s", "MB sent", "input tok", "cached"
        );
        print_row("websocket", &ws);
        print_row("http-sse", &http);
        println!(
            "websocket vs http: {:.2}x turns/s, p50 {:.2}x, p99 {:.2}x, {:.1}x fewer bytes sent",
            (ws.turns as f64 / ws.wall.as_secs_f64()) / (http.turns as f64 / http.wall.as_secs_f64()),
            http.p50.as_secs_f64() / ws.p50.as_secs_f64(),
            http.p99.as_secs_f64() / ws.p99.as_secs_f64(),
            http.bytes as f64 / ws.bytes.max(1) as f64,
        );
        emu.shutdown().await;
    });
}
