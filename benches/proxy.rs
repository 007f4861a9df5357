//! Proxy overhead: per-frame round trips and pipelined throughput to the emulator, direct
//! versus through `turnscope proxy` (recording to a file) versus through mitmproxy's
//! `mitmdump --mode reverse:…`, all measured in the same run, interleaved in rounds.
//!
//! The workload is one small text frame answered by one frame (the emulator answers an unknown
//! event type with an `error` event at once), so a round trip crosses the proxy twice: the
//! added latency per frame is half the added round trip. mitmproxy comes from a venv under
//! target/mitm-venv (`pip install mitmproxy`); its column is skipped, with the reason, when it
//! cannot be installed. Env: PROXY_BENCH_PINGS (default 3000), PROXY_BENCH_BURST (20000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::proxy::{self, ProxyConfig};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROUNDS: usize = 6;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn connect(base_ws: &str) -> Ws {
    let url = format!("{base_ws}/responses");
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        url.as_str(),
    )
    .unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer bench".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(req, None, true, None)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    ws
}

async fn next_text(ws: &mut Ws) -> usize {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return t.len(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// `n` sequential round trips; returns each in µs.
async fn round_trips(ws: &mut Ws, n: usize, out: &mut Vec<f64>) {
    for i in 0..n {
        let frame = format!(r#"{{"type":"bench.ping","n":{i}}}"#);
        let start = Instant::now();
        ws.send(Message::text(frame)).await.unwrap();
        next_text(ws).await;
        out.push(start.elapsed().as_secs_f64() * 1e6);
    }
}

/// `n` frames of ~1 KB sent back to back while a reader counts the replies; returns
/// (frames per second, MB per second both ways).
async fn burst(base_ws: &str, n: usize) -> (f64, f64) {
    let ws = connect(base_ws).await;
    let (mut tx, mut rx) = ws.split();
    let pad = "p".repeat(1000);
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut bytes = 0usize;
        let mut got = 0;
        while got < n {
            match rx.next().await {
                Some(Ok(Message::Text(t))) => {
                    bytes += t.len();
                    got += 1;
                }
                Some(Ok(_)) => {}
                other => panic!("burst connection ended after {got}: {other:?}"),
            }
        }
        bytes
    });
    let mut sent = 0usize;
    for i in 0..n {
        let frame = format!(r#"{{"type":"bench.burst","n":{i},"pad":"{pad}"}}"#);
        sent += frame.len();
        tx.feed(Message::text(frame)).await.unwrap();
    }
    tx.flush().await.unwrap();
    let received = reader.await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    let _ = tx.close().await;
    #[allow(clippy::cast_precision_loss)]
    let fps = n as f64 / secs;
    #[allow(clippy::cast_precision_loss)]
    let mbps = (sent + received) as f64 / secs / 1e6;
    (fps, mbps)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// mitmdump from target/mitm-venv, installing it there if needed; `Err` says why not.
fn mitmdump() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target").join("mitm-venv");
    let bin = venv.join("bin").join("mitmdump");
    if bin.exists() {
        return Ok(bin);
    }
    let run = |cmd: &mut std::process::Command, what: &str| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ))
        }
    };
    eprintln!("installing mitmproxy into target/mitm-venv (once)…");
    run(
        std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv),
        "python3 -m venv",
    )?;
    run(
        std::process::Command::new(venv.join("bin").join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "mitmproxy",
        ]),
        "pip install mitmproxy",
    )?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err("pip installed mitmproxy but there is no mitmdump".into())
    }
}

/// Starts mitmdump as a reverse proxy in front of `upstream` (host:port); waits until it accepts.
async fn start_mitm(upstream: &str) -> Result<(tokio::process::Child, String), String> {
    let bin = mitmdump()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = tokio::process::Command::new(bin)
        .args([
            "--mode",
            &format!("reverse:http://{upstream}"),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &port.to_string(),
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start mitmdump: {e}"))?;
    // Startup takes a few seconds; poll until it accepts (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            return Err("mitmdump did not start listening within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((child, format!("ws://127.0.0.1:{port}/v1")))
}

struct Target {
    name: &'static str,
    base_ws: String,
    ws: Option<Ws>,
    rtts: Vec<f64>,
    fps: Vec<f64>,
    mbps: Vec<f64>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let pings = env_usize("PROXY_BENCH_PINGS", 3000);
    let burst_n = env_usize("PROXY_BENCH_BURST", 20000);
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let record = std::env::temp_dir().join(format!(
        "turnscope-proxy-bench-{}.tsjsonl",
        std::process::id()
    ));
    let mut px = proxy::start(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: emu.base_url(),
        record: Some(record.clone()),
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    // A UI's share of the work: the events are consumed, as the headless printer does.
    let mut events = std::mem::replace(&mut px.events, turnscope::proxy::ProxyEvents::ended());
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });

    let mut targets = vec![
        Target {
            name: "direct",
            base_ws: format!("ws://{}/v1", emu.addr()),
            ws: None,
            rtts: Vec::new(),
            fps: Vec::new(),
            mbps: Vec::new(),
        },
        Target {
            name: "turnscope proxy",
            base_ws: px.ws_base_url(),
            ws: None,
            rtts: Vec::new(),
            fps: Vec::new(),
            mbps: Vec::new(),
        },
    ];
    let mitm = match start_mitm(&emu.addr().to_string()).await {
        Ok((child, base_ws)) => {
            targets.push(Target {
                name: "mitmdump",
                base_ws,
                ws: None,
                rtts: Vec::new(),
                fps: Vec::new(),
                mbps: Vec::new(),
            });
            Some(child)
        }
        Err(why) => {
            println!("mitmproxy column skipped: {why}");
            None
        }
    };
    for t in &mut targets {
        let mut ws = connect(&t.base_ws).await;
        let mut warm = Vec::new();
        round_trips(&mut ws, 200, &mut warm).await;
        t.ws = Some(ws);
    }
    let per_round = pings.div_ceil(ROUNDS);
    for _ in 0..ROUNDS {
        for t in &mut targets {
            let mut ws = t.ws.take().unwrap();
            round_trips(&mut ws, per_round, &mut t.rtts).await;
            t.ws = Some(ws);
        }
    }
    // mitmproxy is far slower; give it a smaller burst so the run stays short.
    for _ in 0..2 {
        for t in &mut targets {
            let n = if t.name == "mitmdump" {
                burst_n / 10
            } else {
                burst_n
            };
            let (fps, mbps) = burst(&t.base_ws, n).await;
            t.fps.push(fps);
            t.mbps.push(mbps);
        }
    }

    for t in &mut targets {
        t.rtts.sort_by(f64::total_cmp);
    }
    let (d50, d99) = (
        percentile(&targets[0].rtts, 0.5),
        percentile(&targets[0].rtts, 0.99),
    );
    println!(
        "{} round trips per target ({ROUNDS} interleaved rounds), burst {burst_n} × ~1 KB frames; proxy recording to a file",
        per_round * ROUNDS
    );
    println!(
        "{:<16} {:>9} {:>9} {:>13} {:>13} {:>13} {:>10} {:>8}",
        "target",
        "rtt p50",
        "rtt p99",
        "added/frame",
        "added/frame",
        "added rtt",
        "frames/s",
        "MB/s"
    );
    println!(
        "{:<16} {:>9} {:>9} {:>13} {:>13} {:>13} {:>10} {:>8}",
        "", "µs", "µs", "p50 µs", "p99 µs", "p50 µs", "(best)", "(best)"
    );
    let mut added = Vec::new();
    for t in &targets {
        let (p50, p99) = (percentile(&t.rtts, 0.5), percentile(&t.rtts, 0.99));
        let fps = t.fps.iter().copied().fold(0.0, f64::max);
        let mbps = t.mbps.iter().copied().fold(0.0, f64::max);
        let a50 = (p50 - d50) / 2.0;
        let a99 = (p99 - d99) / 2.0;
        added.push(a50);
        println!(
            "{:<16} {:>9.1} {:>9.1} {:>13.1} {:>13.1} {:>13.1} {:>10.0} {:>8.1}",
            t.name,
            p50,
            p99,
            a50,
            a99,
            p50 - d50,
            fps,
            mbps
        );
    }
    let ours = added[1];
    println!(
        "turnscope proxy: added p50 per frame {ours:.1} µs (goal < 100 µs: {})",
        if ours < 100.0 { "met" } else { "NOT met" }
    );
    if let Some(&theirs) = added.get(2) {
        let ratio = theirs / ours.max(0.1);
        println!(
            "mitmdump adds {theirs:.1} µs per frame at p50: {ratio:.1}× turnscope's (goal ≥ 10×: {})",
            if ratio >= 10.0 { "met" } else { "NOT met" }
        );
    }
    drop(mitm);
    px.shutdown().await;
    let _ = drain.await;
    let _ = std::fs::remove_file(&record);
    emu.shutdown().await;
}
