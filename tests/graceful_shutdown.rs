//! Ctrl-C/SIGTERM stop the servers gracefully: `turnscope proxy --no-tui` and `turnscope
//! emulate` run as child processes, a client starts a slowly streamed response over a real
//! socket, the server gets SIGTERM at the response's first delta, and the response still
//! streams to its terminal event; then the WebSocket is closed with 1001 (going away), the
//! recording holds every frame the client received, and the process exits 0. A second signal
//! during the drain stops at once (status 130). The proxy's TUI, under a pty, drains the same way
//! on SIGTERM once it has restored the terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/child.rs"]
mod child;
#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "support/procs.rs"]
mod procs;

use std::path::Path;

use child::Proc;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use turnscope::emulator::{self, EmulatorConfig, LatencyProfile, Scenario};
use turnscope::frame::{Dir, Payload};

/// Words in the scripted answer, and the pace they stream at: ~4 s of deltas, long enough
/// that the signal (sent at the first delta) lands while the response streams.
const WORDS: usize = 80;
const TOKENS_PER_S: f64 = 20.0;

fn scenario_toml(words: usize) -> String {
    format!("name = \"slow\"\nmodel = \"gpt-5\"\nuser = \"hi\"\n[[turns]]\nsay_words = {words}\n")
}

fn slow_profile() -> LatencyProfile {
    LatencyProfile {
        name: "slow".into(),
        output_tokens_per_s: TOKENS_PER_S,
        ..LatencyProfile::zero()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `HOST:PORT` from the `OPENAI_BASE_URL=http://HOST:PORT/v1` line both servers print.
/// The `HOST:PORT` a proxy or emulator child listens on.
fn address(proc: &mut Proc) -> String {
    let url = proc.base_url();
    url.trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_owned()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket to `addr`, sends one `response.create` and reads up to the first delta;
/// returns the socket and every text frame read so far.
async fn start_turn(addr: &str) -> (Ws, Vec<String>) {
    let mut request = format!("ws://{addr}/v1/responses")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer sk-test-graceful".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let create = serde_json::json!({"type": "response.create", "model": "gpt-5", "input": "hi"});
    ws.send(Message::text(create.to_string())).await.unwrap();
    let mut got = Vec::new();
    loop {
        let text = harness::next_text(&mut ws).await;
        let delta = text.contains("\"response.output_text.delta\"");
        got.push(text);
        if delta {
            return (ws, got);
        }
    }
}

/// Reads text frames up to the close frame; returns them and the close code.
async fn rest_of_turn(ws: &mut Ws, got: &mut Vec<String>) -> Option<CloseCode> {
    loop {
        let next = tokio::time::timeout(harness::GUARD, ws.next())
            .await
            .expect("the server neither streamed nor closed");
        match next {
            Some(Ok(Message::Text(t))) => got.push(t.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the connection broke instead of closing: {e}; got {got:?}"),
            None => return None,
        }
    }
}

/// The client saw the whole response: every delta, the text done and `response.completed`.
fn assert_complete(got: &[String]) {
    let types: Vec<String> = got
        .iter()
        .map(|t| turnscope::protocol::event_type(t).unwrap())
        .collect();
    assert_eq!(
        types.last().map(String::as_str),
        Some("response.completed"),
        "{types:?}"
    );
    let deltas = types
        .iter()
        .filter(|t| *t == "response.output_text.delta")
        .count();
    assert!(deltas > 1, "{types:?}");
}

/// The turn ran to its end, then the proxy closed the WebSocket with 1001 (going away).
fn assert_drained(got: &[String], close: Option<CloseCode>) {
    assert_complete(got);
    assert_eq!(
        close,
        Some(CloseCode::Away),
        "1001 going away after the turn"
    );
}

#[test]
fn the_proxy_finishes_a_streaming_response_after_sigterm_and_records_every_frame() {
    let rt = runtime();
    let emu = slow_upstream(&rt);
    let (_dir, record) = harness::temp_transcript();
    let upstream = emu.base_url();
    let more = [
        "--record",
        record.to_str().unwrap(),
        "--shutdown-grace",
        "60s",
    ];
    let mut proxy = Proc::headless_proxy(&[], &upstream, &more, &[]);
    let addr = address(&mut proxy);
    let (mut ws, mut got) = rt.block_on(start_turn(&addr));
    proxy.signal("TERM");
    proxy.line_with("no new connections");
    let close = rt.block_on(rest_of_turn(&mut ws, &mut got));
    assert_drained(&got, close);
    let status = proxy.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr {:?}", proxy.stderr);

    assert_recorded(&record, &got);
    rt.block_on(emu.shutdown());
}

/// The recording holds every frame the agent got and a `close` meta line (1001, by the proxy).
fn assert_recorded(record: &Path, got: &[String]) {
    let frames = harness::transcript_frames(record);
    let recorded: Vec<String> = frames
        .iter()
        .filter(|f| f.conn == 0 && f.dir == Dir::Recv)
        .map(|f| match &f.payload {
            Payload::Json(s) | Payload::Text(s) => s.clone(),
            Payload::Binary(_) => panic!("binary frame"),
        })
        .collect();
    assert_eq!(
        recorded, got,
        "the recording holds every frame the agent got"
    );
    let closed = frames
        .iter()
        .filter(|f| f.dir == Dir::Meta)
        .filter_map(|f| match &f.payload {
            Payload::Json(s) => serde_json::from_str::<serde_json::Value>(s).ok(),
            _ => None,
        })
        .find(|m| m["event"] == "close")
        .expect("a close meta line");
    assert_eq!(closed["code"], 1001, "{closed}");
    assert_eq!(closed["by"], "proxy", "{closed}");
}

/// The slow emulator (a `words`-word answer at [`TOKENS_PER_S`]), in this process.
fn slow_upstream(rt: &tokio::runtime::Runtime) -> emulator::RunningEmulator {
    rt.block_on(async {
        emulator::start(EmulatorConfig {
            latency: slow_profile(),
            scenario: Some(Scenario::parse(&scenario_toml(WORDS), "slow.toml", false).unwrap()),
            ..EmulatorConfig::default()
        })
        .await
        .unwrap()
    })
}

/// `script` and the proxy under its pty, killed if the test fails before they exit.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = procs::descendant(self.0.id(), "turnscope") {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The proxy's TUI gets SIGTERM mid-response: it leaves the terminal as it found it, then
/// drains as headless does — the response finishes and is recorded, the process exits 0 (before,
/// SIGTERM killed the TUI and left the terminal raw, on the alternate screen).
#[test]
fn the_proxy_tui_restores_the_terminal_and_drains_after_sigterm() {
    use std::process::{Command, Stdio};
    let rt = runtime();
    let emu = slow_upstream(&rt);
    let (_dir, record) = harness::temp_transcript();
    let line = format!(
        "exec {} proxy --listen 127.0.0.1:0 --upstream {} --record {} --shutdown-grace 60s",
        env!("CARGO_BIN_EXE_turnscope"),
        emu.base_url(),
        record.display()
    );
    let mut script = KillOnDrop(
        procs::under_pty(120, 40, &line)
            .env_remove("OPENAI_API_KEY")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux `script` runs the TUI under a pty"),
    );
    let mut pty = procs::Output::read(script.0.stdout.take().unwrap());
    // The TUI shows where agents connect; the signal handler is in place before it listens.
    pty.until("(OpenAI SDKs", child::GUARD);
    let addr = pty.base_addr(child::GUARD);
    let (mut ws, mut got) = rt.block_on(start_turn(&addr));
    let pid = procs::descendant(script.0.id(), "turnscope").expect("turnscope under the pty");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    pty.until("no new connections", child::GUARD);
    let close = rt.block_on(rest_of_turn(&mut ws, &mut got));
    assert_drained(&got, close);
    let status = script.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the TUI proxy's exit status");
    let shown = pty.text();
    let left = shown
        .find("\x1b[?1049l")
        .expect("the alternate screen was left");
    let said = shown.find("no new connections").unwrap();
    assert!(
        left < said,
        "the drain's message came before the terminal was restored"
    );
    assert_recorded(&record, &got);
    rt.block_on(emu.shutdown());
}

/// Starts `turnscope emulate` with the slow profile and a `WORDS`-word scenario.
fn slow_emulator(dir: &Path, words: usize, grace: &str) -> (Proc, String) {
    let scenario = dir.join("slow.toml");
    std::fs::write(&scenario, scenario_toml(words)).unwrap();
    let profile = dir.join("profiles.toml");
    std::fs::write(&profile, slow_profile().to_toml("slow")).unwrap();
    let latency = format!("{}:slow", profile.display());
    let args = [
        "emulate",
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        scenario.to_str().unwrap(),
        "--latency",
        &latency,
        "--shutdown-grace",
        grace,
    ];
    let mut emu = Proc::start(&args, &[]);
    let addr = address(&mut emu);
    (emu, addr)
}

#[test]
fn the_emulator_finishes_websocket_and_http_streams_after_sigterm() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (mut emu, addr) = slow_emulator(dir.path(), WORDS, "60s");
    let (mut ws, mut got) = rt.block_on(start_turn(&addr));
    // An HTTP stream in flight too, read up to its first delta.
    let http = rt.block_on(async {
        let body = serde_json::json!({"model": "gpt-5", "input": "hi", "stream": true});
        let response = reqwest::Client::new()
            .post(format!("http://{addr}/v1/responses"))
            .bearer_auth("sk-test-graceful")
            .json(&body)
            .send()
            .await
            .unwrap();
        let mut stream = response.bytes_stream();
        let mut text = String::new();
        while !text.contains("response.output_text.delta") {
            let chunk = stream.next().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        (stream, text)
    });
    emu.signal("TERM");
    emu.line_with("no new connections");
    let close = rt.block_on(rest_of_turn(&mut ws, &mut got));
    assert_complete(&got);
    assert_eq!(close, Some(CloseCode::Away));
    let (mut stream, mut text) = http;
    rt.block_on(async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    });
    assert!(text.contains("event: response.completed"), "{text}");
    let status = emu.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr {:?}", emu.stderr);
}

#[test]
fn a_second_signal_stops_at_once() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    // ~100 s of streaming against a 10-minute grace: only the second signal can end it soon.
    let (mut emu, addr) = slow_emulator(dir.path(), 2000, "10m");
    let (_ws, _) = rt.block_on(start_turn(&addr));
    emu.signal("TERM");
    emu.line_with("no new connections");
    emu.signal("INT");
    let status = emu.wait_exit();
    assert_eq!(status.code(), Some(130), "stderr {:?}", emu.stderr);
    assert!(
        emu.stderr.iter().any(|l| l.contains("again: stopping now")),
        "{:?}",
        emu.stderr
    );
}
