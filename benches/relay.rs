//! The relay path: `turnscope proxy --no-tui` (recording) beside a minimal byte-copying relay
//! built here (tokio, TCP_NODELAY, no WebSocket parsing) and, where installed, websocat and
//! mitmdump — each a child process in front of the same upstream, measured in the same run.
//!
//! The upstream (in this process) answers each ~2 KB `response.create` with `response.created`,
//! DELTAS `response.output_text.delta` frames of SIZE bytes and `response.completed`, like a
//! model. Figures per relay: added latency (p50/p99, relay minus direct) to the first and the
//! last reply frame; CPU per reply frame of 200 B and 64 KB (the relay process's user+system
//! time from /proc over the run, divided by the reply frames); throughput of pipelined 64 KB
//! replies; peak RSS (VmHWM) after ≥ RELAY_BENCH_MB relayed (default 1000) over connections
//! that come and go (a new one every 64 requests). Ratios are against the byte copier.
//! Env: RELAY_BENCH_REPS (sequential requests per size, default 2000), RELAY_BENCH_MB;
//! The 200 B turns go round every relay (and the direct path) in RELAY_BENCH_ROUNDS rounds
//! (default 5), so a relay and its anchor see the same load; their row also gives context
//! switches per turn (voluntary: the relay slept and was woken; involuntary: preempted).
//! RELAY_BENCH_SMALL_ONLY=1 measures only the 200 B turns (CPU and latency: for profiling and
//! quick comparisons), RELAY_BENCH_NO_TUI=1 leaves out this build's TUI row;
//! RELAY_BENCH_BASE=PATH[,PATH…] also measures other turnscope binaries (say, ones built from
//! older commits; each row is named by its file name) headless in the same run, for a
//! before/after; RELAY_BENCH_BASE_TUI=1 also runs their TUI (a build from after issue 18's
//! memory work: before it the TUI kept every body). The proxy runs twice: headless (`--no-tui`) and with its
//! TUI on under a real pty (util-linux `script`, 120×40), both recording.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/procs.rs"]
mod procs;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Set in the child that plays the byte copier: the upstream's address.
const COPIER_ROLE: &str = "RELAY_BENCH_COPIER_UPSTREAM";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The byte copier: accept, connect upstream, copy both ways. Prints its port, then serves.
fn copier(upstream: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        loop {
            let (mut down, _) = listener.accept().await.unwrap();
            let upstream = upstream.to_owned();
            tokio::spawn(async move {
                let Ok(mut up) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = down.set_nodelay(true);
                let _ = up.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
}

/// The scripted upstream: answers each request with created, deltas, completed.
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.set_nodelay(true);
            n += 1;
            let conn = n;
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let mut turn = 0u64;
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(text) = msg else { continue };
                    let req: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    let size = req["metadata"]["size"].as_u64().unwrap_or(200) as usize;
                    let deltas = req["metadata"]["deltas"].as_u64().unwrap_or(1);
                    turn += 1;
                    let id = format!("resp_{conn}_{turn}");
                    let created = format!(
                        r#"{{"type":"response.created","sequence_number":0,"response":{{"id":"{id}","object":"response","status":"in_progress","output":[]}}}}"#
                    );
                    if ws.send(Message::text(created)).await.is_err() {
                        return;
                    }
                    let head = r#"{"type":"response.output_text.delta","sequence_number":0,"item_id":"msg_1","output_index":0,"content_index":0,"delta":""#;
                    let text = "x".repeat(size.saturating_sub(head.len() + 2));
                    for _ in 0..deltas {
                        let delta = format!("{head}{text}\"}}");
                        if ws.feed(Message::text(delta)).await.is_err() {
                            return;
                        }
                    }
                    let done = format!(
                        r#"{{"type":"response.completed","sequence_number":1,"response":{{"id":"{id}","object":"response","status":"completed","output":[],"usage":{{"input_tokens":600,"input_tokens_details":{{"cached_tokens":0}},"output_tokens":{deltas},"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":600}}}}}}"#
                    );
                    if ws.send(Message::text(done)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn connect(port: u16) -> Ws {
    let url = format!("ws://127.0.0.1:{port}/v1/responses");
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    ws
}

fn request(turn: usize, size: usize, deltas: usize) -> String {
    let pad = "p".repeat(1800);
    // `metadata` tells the scripted upstream what to answer.
    format!(
        r#"{{"type":"response.create","model":"gpt-bench","store":false,"input":[{{"type":"message","role":"user","content":"{pad} {turn}"}}],"metadata":{{"size":{size},"deltas":{deltas}}}}}"#
    )
}

/// Reads frames until `response.completed`; returns (first frame µs, last frame µs, frames).
async fn one_turn(ws: &mut Ws, start: Instant) -> (f64, f64, usize) {
    let mut first = None;
    let mut frames = 0;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                frames += 1;
                let at = start.elapsed().as_secs_f64() * 1e6;
                first.get_or_insert(at);
                if t.as_str().starts_with(r#"{"type":"response.completed""#) {
                    return (first.unwrap_or(at), at, frames);
                }
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// Sequential turns: first- and last-frame latencies (µs) and the reply frames seen.
async fn latencies(
    port: u16,
    reps: usize,
    size: usize,
    deltas: usize,
) -> (Vec<f64>, Vec<f64>, usize) {
    let mut ws = connect(port).await;
    let (mut first, mut last, mut frames) = (Vec::new(), Vec::new(), 0);
    for i in 0..reps {
        let req = request(i, size, deltas);
        let start = Instant::now();
        ws.send(Message::text(req)).await.unwrap();
        let (f, l, n) = one_turn(&mut ws, start).await;
        first.push(f);
        last.push(l);
        frames += n;
    }
    let _ = ws.close(None).await;
    first.sort_by(f64::total_cmp);
    last.sort_by(f64::total_cmp);
    (first, last, frames)
}

/// Pipelined 64 KB replies until `total` bytes came back, over connections that come and go.
async fn volume(port: u16, total: u64) -> f64 {
    let start = Instant::now();
    let mut got = 0u64;
    let per_conn = 64;
    while got < total {
        let ws = connect(port).await;
        let (mut tx, mut rx) = ws.split();
        let sender = tokio::spawn(async move {
            for i in 0..per_conn {
                tx.feed(Message::text(request(i, 65_536, 4))).await.unwrap();
            }
            tx.flush().await.unwrap();
            tx
        });
        let mut done = 0;
        while done < per_conn {
            match rx.next().await {
                Some(Ok(Message::Text(t))) => {
                    got += t.len() as u64;
                    if t.as_str().starts_with(r#"{"type":"response.completed""#) {
                        done += 1;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("volume connection ended: {other:?}"),
            }
        }
        let mut tx = sender.await.unwrap();
        let _ = tx.close().await;
    }
    #[allow(clippy::cast_precision_loss)]
    let mbps = got as f64 / start.elapsed().as_secs_f64() / 1e6;
    mbps
}

/// user+system CPU seconds of a process so far.
fn cpu_secs(pid: u32) -> f64 {
    procs::cpu_time(pid).map_or(0.0, |t| t.as_secs_f64())
}

/// Peak resident set of a process so far, MB.
#[allow(clippy::cast_precision_loss)]
fn peak_rss_mb(pid: u32) -> f64 {
    procs::status_kb(pid, "VmHWM").map_or(f64::NAN, |kb| kb as f64 / 1024.0)
}

/// Voluntary and involuntary context switches of all a process's threads so far: how often the
/// relay slept and was woken, and how often the scheduler took its core away.
fn switches(pid: u32) -> [u64; 2] {
    let mut total = [0; 2];
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return total;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let at = format!("{pid}/task/{tid}");
        total[0] += procs::status_kb(&at, "voluntary_ctxt_switches").unwrap_or(0);
        total[1] += procs::status_kb(&at, "nonvoluntary_ctxt_switches").unwrap_or(0);
    }
    total
}

/// Write-class syscalls of a process so far (`syscw` of /proc/<pid>/io: `write`, `writev`, …
/// to files, pipes and terminals; socket sends are not counted): the transcript and stdout.
fn file_writes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("syscw:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A relay under test: a child process and the port agents connect to.
struct Relay {
    name: String,
    child: Child,
    /// The relay's own process (under `script`, not the child).
    pid: u32,
    port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if self.pid != self.child.id() {
            let _ = Command::new("kill").arg(self.pid.to_string()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_copier(up: SocketAddr) -> Relay {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(COPIER_ROLE, up.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Relay {
        name: "byte copier".into(),
        port: line.trim().parse().unwrap(),
        pid: child.id(),
        child,
        _dir: None,
    }
}

/// `turnscope proxy` with its TUI on, under a pty (`script`), recording; its pid is the
/// turnscope process (the pty's shell execs into it), so CPU and RSS are the proxy's own.
// The child is waited for by `Relay`'s drop; the only other way out is the bench failing.
#[allow(clippy::zombie_processes)]
fn start_turnscope_tui(up: SocketAddr, bin: &str, name: &str) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    // The TUI shows its address only on screen: pick a free port for it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let line = format!(
        "exec {bin} proxy --listen 127.0.0.1:{port} --upstream http://{up}/v1 --record {}",
        dir.path().join("relay.tsjsonl").display()
    );
    let child = procs::under_pty(120, 40, &line)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script` runs the TUI under a pty");
    // The process's name as /proc shows it: the binary's file name, cut to 15 bytes.
    let comm: String = std::path::Path::new(bin)
        .file_name()
        .map_or_else(|| "turnscope".into(), |n| n.to_string_lossy().into_owned())
        .chars()
        .take(15)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "{name} did not listen within 30 s"
        );
        if let Some(pid) = procs::descendant(child.id(), &comm)
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return Relay {
                name: name.into(),
                pid,
                child,
                port,
                _dir: Some(dir),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_turnscope(up: SocketAddr, bin: &str, name: &str) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(["proxy", "--no-tui", "--listen", "127.0.0.1:0", "--upstream"])
        .arg(format!("http://{up}/v1"))
        .arg("--record")
        .arg(dir.path().join("relay.tsjsonl"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut port = None;
    let mut line = String::new();
    while port.is_none() {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("turnscope proxy exited before listening");
        }
        port = line
            .split("OPENAI_BASE_URL=http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.trim().parse().ok());
    }
    // Keep draining stderr so the proxy never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    Relay {
        name: name.into(),
        port: port.unwrap(),
        pid: child.id(),
        child,
        _dir: Some(dir),
    }
}

fn start_websocat(up: SocketAddr) -> Result<Relay, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new("websocat")
        .args(["-E", "-t", "--no-close"])
        .arg(format!("ws-l:127.0.0.1:{port}"))
        .arg(format!("ws://{up}/v1/responses"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("not installed ({e})"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Relay {
        name: "websocat".into(),
        pid: child.id(),
        child,
        port,
        _dir: None,
    })
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let i = ((sorted.len().max(1) - 1) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[derive(Default, Clone)]
struct Figures {
    first: [f64; 2],
    last: [f64; 2],
    cpu_small: f64,
    cpu_large: f64,
    mbps: f64,
    rss: f64,
    /// Context switches per 200 B turn: voluntary (slept, woken), involuntary (preempted).
    switches: [f64; 2],
    /// Write syscalls per 200 B turn (transcript and stdout; see [`file_writes`]).
    writes: f64,
}

/// What one relay's 200 B turns add up to over the rounds.
#[derive(Default)]
struct Small {
    cpu: f64,
    frames: usize,
    turns: usize,
    switches: [u64; 2],
    writes: u64,
    first: Vec<f64>,
    last: Vec<f64>,
}

/// One round of `reps` sequential 200 B turns through `relay`, added to `acc`.
async fn small_round(relay: &Relay, reps: usize, acc: &mut Small) {
    let pid = relay.pid;
    let c0 = cpu_secs(pid);
    let s0 = switches(pid);
    let w0 = file_writes(pid);
    let (first, last, frames) = latencies(relay.port, reps, 200, 8).await;
    acc.cpu += cpu_secs(pid) - c0;
    acc.writes += file_writes(pid) - w0;
    let s1 = switches(pid);
    acc.switches[0] += s1[0] - s0[0];
    acc.switches[1] += s1[1] - s0[1];
    acc.frames += frames;
    acc.turns += reps;
    acc.first.extend(first);
    acc.last.extend(last);
}

/// The 200 B figures of one relay (`direct`: the same turns without a relay, same rounds).
fn small_figures(acc: &mut Small, direct: &(Vec<f64>, Vec<f64>)) -> Figures {
    acc.first.sort_by(f64::total_cmp);
    acc.last.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let per_turn = |n: u64| n as f64 / acc.turns.max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let cpu_small = acc.cpu / acc.frames.max(1) as f64 * 1e6;
    Figures {
        cpu_small,
        switches: [per_turn(acc.switches[0]), per_turn(acc.switches[1])],
        writes: per_turn(acc.writes),
        first: [
            pct(&acc.first, 0.5) - pct(&direct.0, 0.5),
            pct(&acc.first, 0.99) - pct(&direct.0, 0.99),
        ],
        last: [
            pct(&acc.last, 0.5) - pct(&direct.1, 0.5),
            pct(&acc.last, 0.99) - pct(&direct.1, 0.99),
        ],
        ..Figures::default()
    }
}

/// The 64 KB, throughput and memory figures of one relay, after its 200 B turns.
async fn measure_large(relay: &Relay, reps: usize, volume_mb: u64, fig: &mut Figures) {
    let pid = relay.pid;
    if std::env::var_os("RELAY_BENCH_SMALL_ONLY").is_none() {
        let c0 = cpu_secs(pid);
        let (_, _, frames) = latencies(relay.port, (reps / 4).max(50), 65_536, 4).await;
        #[allow(clippy::cast_precision_loss)]
        let per = (cpu_secs(pid) - c0) / frames as f64 * 1e6;
        fig.cpu_large = per;
        fig.mbps = volume(relay.port, volume_mb * 1_000_000).await;
    }
    fig.rss = peak_rss_mb(pid);
}

fn main() {
    if let Ok(up) = std::env::var(COPIER_ROLE) {
        copier(&up);
        return;
    }
    let reps = env_usize("RELAY_BENCH_REPS", 2000);
    let volume_mb = env_usize("RELAY_BENCH_MB", 1000) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let up = upstream().await;
        println!(
            "relay bench: {reps} sequential turns per size, {volume_mb} MB pipelined; {} cores, shared and noisy: compare ratios from the same run",
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        // Every relay runs from the start, and the 200 B turns go round them in turns (the
        // direct path too): the machine's load moves within a run, and a relay measured minutes
        // after its anchor saw another machine. Idle relays between their rounds cost nothing.
        let mut relays = vec![start_copier(up)];
        relays.push(start_turnscope(up, env!("CARGO_BIN_EXE_turnscope"), "turnscope proxy"));
        if std::env::var_os("RELAY_BENCH_NO_TUI").is_none() {
            relays.push(start_turnscope_tui(up, env!("CARGO_BIN_EXE_turnscope"), "turnscope TUI"));
        }
        // Their TUI only when asked: before issue 18 it kept every body, ~2.3 GB after 1 GB.
        for base in std::env::var("RELAY_BENCH_BASE").unwrap_or_default().split(',') {
            let base = base.trim();
            if base.is_empty() {
                continue;
            }
            let name = std::path::Path::new(base)
                .file_name()
                .map_or_else(|| base.to_owned(), |n| n.to_string_lossy().into_owned());
            relays.push(start_turnscope(up, base, &name));
            if std::env::var_os("RELAY_BENCH_BASE_TUI").is_some() {
                relays.push(start_turnscope_tui(up, base, &format!("{name} TUI")));
            }
        }
        match start_websocat(up) {
            Ok(ws) => relays.push(ws),
            Err(e) => println!("websocat: skipped, {e}"),
        }
        let rounds = env_usize("RELAY_BENCH_ROUNDS", 5).max(1);
        let per_round = reps.div_ceil(rounds);
        let (mut df, mut dl) = (Vec::new(), Vec::new());
        let mut small: Vec<Small> = relays.iter().map(|_| Small::default()).collect();
        for _ in 0..rounds {
            let (f, l, _) = latencies(up.port(), per_round, 200, 8).await;
            df.extend(f);
            dl.extend(l);
            for (relay, acc) in relays.iter().zip(small.iter_mut()) {
                small_round(relay, per_round, acc).await;
            }
        }
        df.sort_by(f64::total_cmp);
        dl.sort_by(f64::total_cmp);
        println!(
            "direct: first frame p50 {:.0}µs p99 {:.0}µs, last frame p50 {:.0}µs p99 {:.0}µs; 200 B turns in {rounds} rounds of {per_round} per relay",
            pct(&df, 0.5), pct(&df, 0.99), pct(&dl, 0.5), pct(&dl, 0.99)
        );
        let direct = (df, dl);
        let mut rows: Vec<(String, Figures)> = Vec::new();
        for (relay, mut acc) in relays.into_iter().zip(small) {
            let mut fig = small_figures(&mut acc, &direct);
            measure_large(&relay, reps, volume_mb, &mut fig).await;
            rows.push((relay.name.clone(), fig));
        }
        println!("mitmdump: not measured here (benches/proxy.rs runs it; ~400 µs per frame)");
        println!(
            "\n{:<16} {:>17} {:>17} {:>13} {:>13} {:>10} {:>9} {:>13} {:>11}",
            "relay", "added 1st p50/p99", "added last p50/99", "cpu/200B µs", "cpu/64KB µs", "MB/s", "peak RSS", "cs/turn v/inv", "writes/turn"
        );
        for (name, f) in &rows {
            println!(
                "{name:<16} {:>8.0}/{:<8.0} {:>8.0}/{:<8.0} {:>13.1} {:>13.1} {:>10.0} {:>6.1} MB {:>6.2}/{:<6.2} {:>11.2}",
                f.first[0], f.first[1], f.last[0], f.last[1], f.cpu_small, f.cpu_large, f.mbps, f.rss, f.switches[0], f.switches[1], f.writes
            );
        }
        let base = rows[0].1.clone();
        for (name, f) in rows.iter().skip(1) {
            println!(
                "{name} / byte copier: cpu per 200 B frame {:.2}x (goal ≤ 2x), per 64 KB frame {:.2}x (goal ≤ 4x), added first-frame latency p50 {:.2}x (goal ≤ 2x); peak RSS {:.1} MB after {volume_mb} MB (goal ≤ 64 MB)",
                f.cpu_small / base.cpu_small,
                f.cpu_large / base.cpu_large,
                f.first[0] / base.first[0].max(1.0),
                f.rss
            );
        }
    });
}
