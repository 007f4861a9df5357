//! What the session actor costs over a bare tokio-tungstenite client, on loopback, same run.
//!
//! 1. Round trip: send a `response.create`, wait for the server's `response.completed`
//!    (baseline: a bare client; then the session without and with recording).
//! 2. Receive throughput: the server streams small delta frames; time until the UI side has
//!    seen them all (session without and with recording).
//!
//! Run: `cargo bench --bench session` (env `SESSION_BENCH_N`, `SESSION_BENCH_FRAMES`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use turnscope::frame::Dir;
use turnscope::session::{self, ConnState, SessionCommand, SessionConfig, SessionEvent};

const DELTA: &str = r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"hello ","logprobs":[]}"#;
const COMPLETED: &str = r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","status":"completed","usage":{"input_tokens":10,"output_tokens":2,"total_tokens":12}}}"#;
const CREATE: &str = r#"{"type":"response.create","model":"m","input":"hi","store":false}"#;

/// A server that answers every text frame with `response.completed`, or, for a text of
/// "stream N", with N deltas then `response.completed`.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1/responses", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(t) = msg else { continue };
                    if let Some(n) = t.as_str().strip_prefix("stream ") {
                        let n: usize = n.parse().unwrap();
                        for _ in 0..n {
                            ws.feed(Message::text(DELTA)).await.unwrap();
                        }
                    }
                    ws.send(Message::text(COMPLETED)).await.unwrap();
                }
            });
        }
    });
    url
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(v[v.len() / 2]), us(v[v.len() * 99 / 100]))
}

async fn bare_round_trips(url: &str, n: usize) -> Vec<Duration> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ws.send(Message::text(CREATE)).await.unwrap();
        loop {
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                break;
            }
        }
        out.push(t.elapsed());
    }
    out
}

async fn open(url: &str, record: Option<std::path::PathBuf>) -> session::SessionHandle {
    let config = SessionConfig {
        url: url.to_owned(),
        record,
        ..SessionConfig::default()
    };
    let mut h = session::spawn(config, CancellationToken::new());
    loop {
        if let Some(SessionEvent::State(ConnState::Connected { .. })) = h.events.recv().await {
            return h;
        }
    }
}

/// Waits until `count` received frames were surfaced.
async fn received(h: &mut session::SessionHandle, count: usize) {
    let mut seen = 0;
    while seen < count {
        if let Some(SessionEvent::Frame(f)) = h.events.recv().await
            && f.dir == Dir::Recv
        {
            seen += 1;
        }
    }
}

async fn session_round_trips(
    url: &str,
    n: usize,
    record: Option<std::path::PathBuf>,
) -> Vec<Duration> {
    let mut h = open(url, record).await;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        h.commands
            .send(SessionCommand::Send(CREATE.into()))
            .unwrap();
        received(&mut h, 1).await;
        out.push(t.elapsed());
    }
    h.commands.send(SessionCommand::Close).unwrap();
    h.task.await.unwrap();
    out
}

async fn bare_stream(url: &str, frames: usize) -> Duration {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap();
    let t = Instant::now();
    ws.send(Message::text(format!("stream {frames}")))
        .await
        .unwrap();
    let mut seen = 0;
    while seen < frames + 1 {
        if let Some(Ok(Message::Text(_))) = ws.next().await {
            seen += 1;
        }
    }
    t.elapsed()
}

async fn session_stream(url: &str, frames: usize, record: Option<std::path::PathBuf>) -> Duration {
    let mut h = open(url, record).await;
    let t = Instant::now();
    h.commands
        .send(SessionCommand::Send(format!("stream {frames}")))
        .unwrap();
    received(&mut h, frames + 1).await;
    let elapsed = t.elapsed();
    h.commands.send(SessionCommand::Close).unwrap();
    h.task.await.unwrap();
    elapsed
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n = env("SESSION_BENCH_N", 2000);
    let frames = env("SESSION_BENCH_FRAMES", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let url = server().await;

    // Warm up connections and allocators.
    let _ = bare_round_trips(&url, 50).await;
    let _ = session_round_trips(&url, 50, None).await;

    let (b50, b99) = stats(bare_round_trips(&url, n).await);
    let (s50, s99) = stats(session_round_trips(&url, n, None).await);
    let (r50, r99) = stats(session_round_trips(&url, n, Some(dir.path().join("rt.tsjsonl"))).await);
    println!("round trip create -> completed, {n} sequential, loopback (µs):");
    println!("  bare tokio-tungstenite   p50 {b50:7.1}  p99 {b99:7.1}");
    println!(
        "  session, no recording    p50 {s50:7.1}  p99 {s99:7.1}  ({:.2}x bare p50, +{:.1} µs)",
        s50 / b50,
        s50 - b50
    );
    println!(
        "  session, recording       p50 {r50:7.1}  p99 {r99:7.1}  ({:.2}x bare p50, +{:.1} µs)",
        r50 / b50,
        r50 - b50
    );

    let bare = bare_stream(&url, frames).await;
    let plain = session_stream(&url, frames, None).await;
    let rec_path = dir.path().join("stream.tsjsonl");
    let rec = session_stream(&url, frames, Some(rec_path.clone())).await;
    let rate = |d: Duration| frames as f64 / d.as_secs_f64();
    let size = std::fs::metadata(&rec_path).map(|m| m.len()).unwrap_or(0);
    println!("receive {frames} delta frames ({} B each):", DELTA.len());
    println!(
        "  bare tokio-tungstenite   {:>9.0} frames/s  {:.3} s",
        rate(bare),
        bare.as_secs_f64()
    );
    println!(
        "  session, no recording    {:>9.0} frames/s  {:.3} s  ({:.2}x bare time, {:.2} µs/frame over bare)",
        rate(plain),
        plain.as_secs_f64(),
        plain.as_secs_f64() / bare.as_secs_f64(),
        (plain.as_secs_f64() - bare.as_secs_f64()) * 1e6 / frames as f64
    );
    println!(
        "  session, recording       {:>9.0} frames/s  {:.3} s  ({:.2}x bare time, {:.2} µs/frame over bare; transcript {:.1} MB)",
        rate(rec),
        rec.as_secs_f64(),
        rec.as_secs_f64() / bare.as_secs_f64(),
        (rec.as_secs_f64() - bare.as_secs_f64()) * 1e6 / frames as f64,
        size as f64 / 1e6
    );
}
