//! Load through the proxy: N concurrent agents run turns against the emulator through a recording
//! `turnscope proxy` process, and every frame is checked end to end — the emulator's
//! `sequence_number`s (0, 1, … within each response) arrive without a gap (nothing lost), and the SHA-1 of each frame the agent
//! got equals the one the proxy recorded for that connection (nothing changed). Figures: frames
//! relayed, lost, p50/p99 turn latency direct vs through the proxy (the difference is the added
//! latency under the same load), and the proxy's peak RSS.
//!
//! `cargo test --test load` runs a short version (20 agents × 2 s); the full run is on demand:
//! `scripts/load.sh` (500 agents × 60 s against a release build; `LOAD_AGENTS`, `LOAD_SECS`,
//! `LOAD_THINK_MS` override).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/child.rs"]
mod child;
#[path = "support/procs.rs"]
mod procs;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use child::Proc;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use turnscope::frame::Dir;

type Hash = [u8; 20];
/// One recorded connection: hashes of its sent and received frames, and its first sent text.
type Recorded = (Vec<Hash>, Vec<Hash>, Option<String>);

fn sha(bytes: &[u8]) -> Hash {
    Sha1::digest(bytes).into()
}

/// What one agent saw.
#[derive(Default)]
struct Agent {
    /// Text of its first create (identifies its connection in the proxy's transcript).
    first: String,
    sent: Vec<Hash>,
    recv: Vec<Hash>,
    /// Send → `response.completed`, µs.
    latencies: Vec<u64>,
    /// Missing sequence numbers, turns that did not complete, broken connections.
    lost: u64,
}

/// Time an agent spends between turns (tool runs, thinking); models a real agent, not a wait.
fn think() -> Duration {
    Duration::from_millis(
        std::env::var("LOAD_THINK_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

async fn agent(url: String, id: usize, until: Instant) -> Agent {
    let mut me = Agent::default();
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer sk-load-test".parse().unwrap());
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(request).await else {
        me.lost += 1;
        return me;
    };
    let mut turn = 0usize;
    while Instant::now() < until {
        // Sequence numbers count per response, from 0.
        let mut next_seq = 0u64;
        let text = json!({"type": "response.create", "model": "gpt-5.1", "store": false,
            "input": [{"type": "message", "role": "user", "content": format!("agent {id} turn {turn}: say hi")}]})
        .to_string();
        if turn == 0 {
            me.first = text.clone();
        }
        me.sent.push(sha(text.as_bytes()));
        let t0 = Instant::now();
        if ws.send(Message::text(text)).await.is_err() {
            me.lost += 1;
            return me;
        }
        loop {
            let Some(Ok(Message::Text(frame))) = ws.next().await else {
                me.lost += 1; // the turn never completed
                return me;
            };
            me.recv.push(sha(frame.as_bytes()));
            let v: Value = serde_json::from_str(frame.as_str()).unwrap_or(Value::Null);
            let seq = v["sequence_number"].as_u64().unwrap_or(u64::MAX);
            if seq != next_seq {
                me.lost += seq.saturating_sub(next_seq).max(1);
            }
            next_seq = seq.saturating_add(1);
            match v["type"].as_str() {
                Some("response.completed") => break,
                Some("response.failed" | "error") => {
                    me.lost += 1;
                    break;
                }
                _ => {}
            }
        }
        me.latencies
            .push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
        turn += 1;
        let pause = think();
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    let _ = ws.close(None).await;
    me
}

async fn run_agents(url: &str, agents: usize, secs: u64) -> Vec<Agent> {
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..agents)
        .map(|id| tokio::spawn(agent(url.to_owned(), id, until)))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latencies(agents: &[Agent]) -> Vec<u64> {
    let mut all: Vec<u64> = agents.iter().flat_map(|a| a.latencies.clone()).collect();
    all.sort_unstable();
    all
}

async fn load(agents: usize, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("load.tsjsonl");
    let mut emu = Proc::start(&["emulate", "--listen", "127.0.0.1:0"], &[]);
    let direct = emu
        .line_with("WebSocket:")
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    let upstream = direct
        .replacen("ws://", "http://", 1)
        .trim_end_matches("/responses")
        .to_owned();
    let mut proxy =
        Proc::headless_proxy(&[], &upstream, &["--record", record.to_str().unwrap()], &[]);
    let proxied = proxy.base_url().replacen("http://", "ws://", 1) + "/responses";

    // The same load, first straight to the emulator, then through the proxy.
    let base = run_agents(&direct, agents, secs).await;
    let via = run_agents(&proxied, agents, secs).await;
    let rss = procs::status_kb(proxy.child.id(), "VmHWM").unwrap_or(0);
    let stop = Instant::now();
    proxy.signal_and_wait_for("INT", Duration::from_secs(600));
    let proxy_stop = stop.elapsed();
    emu.signal_and_wait("INT");

    // Every frame the proxy recorded, hashed per connection.
    let (_, frames, errors) = turnscope::transcript::read_all(&record).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let mut by_conn: HashMap<u32, Recorded> = HashMap::new();
    for f in &frames {
        let entry = by_conn.entry(f.conn).or_default();
        match f.dir {
            Dir::Sent => {
                if entry.2.is_none() {
                    entry.2 = Some(String::from_utf8_lossy(f.payload.as_bytes()).into_owned());
                }
                entry.0.push(sha(f.payload.as_bytes()));
            }
            Dir::Recv => entry.1.push(sha(f.payload.as_bytes())),
            Dir::Meta => {}
        }
    }
    let by_first: HashMap<String, (Vec<Hash>, Vec<Hash>)> = by_conn
        .into_values()
        .filter_map(|(s, r, first)| first.map(|f| (f, (s, r))))
        .collect();
    let mut mismatched = 0usize;
    for a in &via {
        match by_first.get(&a.first) {
            Some((sent, recv)) if *sent == a.sent && *recv == a.recv => {}
            _ => mismatched += 1,
        }
    }
    let relayed: usize = via.iter().map(|a| a.recv.len() + a.sent.len()).sum();
    let lost: u64 = via.iter().map(|a| a.lost).sum();
    let lost_direct: u64 = base.iter().map(|a| a.lost).sum();
    let (d, p) = (latencies(&base), latencies(&via));
    let turns = p.len();
    let ms = |us: u64| us as f64 / 1000.0;
    let bin = std::env::var("TURNSCOPE_BIN").unwrap_or_else(|_| "this test build".into());
    println!(
        "load: {agents} agents x {secs} s, think time {:?} between turns, binary {bin}",
        think()
    );
    println!(
        "  turns {turns}, frames relayed {relayed}, lost {lost} (direct run lost {lost_direct}), agents whose frames differ from the recording {mismatched}"
    );
    println!(
        "  turn latency direct  p50 {:.2} ms  p99 {:.2} ms  ({} turns)",
        ms(percentile(&d, 0.5)),
        ms(percentile(&d, 0.99)),
        d.len()
    );
    println!(
        "  turn latency proxied p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(&p, 0.5)),
        ms(percentile(&p, 0.99))
    );
    println!(
        "  added by the proxy   p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(&p, 0.5)) - ms(percentile(&d, 0.5)),
        ms(percentile(&p, 0.99)) - ms(percentile(&d, 0.99))
    );
    println!("  proxy peak RSS {:.1} MiB", rss as f64 / 1024.0);
    println!(
        "  proxy exit after Ctrl-C (flushes the recording): {:.1} s",
        proxy_stop.as_secs_f64()
    );
    assert_eq!(lost, 0, "frames lost through the proxy");
    assert_eq!(lost_direct, 0, "frames lost without the proxy");
    assert_eq!(mismatched, 0, "relayed frames differ from the recording");
    assert!(
        via.iter().all(|a| !a.latencies.is_empty()),
        "every agent completed a turn"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_through_the_proxy_loses_and_changes_nothing() {
    load(20, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "60 s load run; scripts/load.sh runs it"]
async fn load_500_agents_for_60_s_through_the_proxy() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    load(env("LOAD_AGENTS", 500) as usize, env("LOAD_SECS", 60)).await;
}
