//! Crash safety and secrets, with real child processes: a recording proxy killed with SIGKILL
//! mid-turn leaves a transcript that `turnscope stats` and the reader read up to the last complete
//! frame; and an end-to-end run (emulator and proxy as processes, a live session, HTTP mode)
//! leaves the fake API key in no artefact: transcripts, stdout/stderr, the TUI's screen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/child.rs"]
mod child;
#[path = "support/reliability.rs"]
mod reliability;

use std::path::Path;

use child::{Proc, file_until, files_under};
use futures_util::{SinkExt, StreamExt};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use reliability::{KEY, KEY_PARTS, Live};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use turnscope::emulator::{self, EmulatorConfig, FaultPlan};
use turnscope::frame::Dir;

/// `http://127.0.0.1:PORT/v1` from the proxy's `  OPENAI_BASE_URL=…` line.
fn recv_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| l.contains(r#""dir":"recv""#))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_proxy_killed_mid_turn_leaves_a_readable_transcript() {
    // The upstream stalls after 5 events: the turn is mid-stream when the proxy dies.
    let emu = emulator::start(EmulatorConfig {
        faults: FaultPlan {
            stall_after: Some(5),
            ..FaultPlan::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("killed.tsjsonl");
    let upstream = emu.base_url();
    let mut proxy =
        Proc::headless_proxy(&[], &upstream, &["--record", record.to_str().unwrap()], &[]);
    let base = proxy.base_url();
    let url = format!("{}/responses", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let (mut agent, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    agent
        .send(Message::text(reliability::create("Tell me a long story")))
        .await
        .unwrap();
    for _ in 0..5 {
        let m = tokio::time::timeout(child::GUARD, agent.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(m.is_text());
    }
    // The recorder writes after forwarding: wait until the 5 frames are on disk, then kill.
    file_until(&record, "5 recorded frames", |t| recv_lines(t) == 5);
    let status = proxy.signal_and_wait("KILL");
    assert!(!status.success());

    let (header, frames, errors) = turnscope::transcript::read_all(&record).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(header.source, "proxy");
    let dirs: Vec<Dir> = frames.iter().map(|f| f.dir).collect();
    assert_eq!(
        dirs,
        [
            Dir::Meta,
            Dir::Sent,
            Dir::Recv,
            Dir::Recv,
            Dir::Recv,
            Dir::Recv,
            Dir::Recv
        ]
    );
    let stats = |path: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .args(["stats", "--json", path.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = stats(&record);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["turns"].as_array().unwrap().len(), 1, "{doc}");

    // A kill in the middle of a write leaves half a line: still read up to the last whole frame.
    let torn = dir.path().join("torn.tsjsonl");
    let text = std::fs::read_to_string(&record).unwrap();
    let last = text.lines().last().unwrap();
    std::fs::write(&torn, format!("{text}{}", &last[..last.len() / 2])).unwrap();
    let (_, torn_frames, _) = turnscope::transcript::read_all(&torn).unwrap();
    assert_eq!(
        torn_frames, frames,
        "the torn tail is dropped, nothing else"
    );
    let out = stats(&torn);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read_to_string(&record).unwrap();
    for part in KEY_PARTS {
        assert!(!raw.contains(part), "key in the killed transcript");
    }
    drop(agent);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_to_end_run_leaves_the_key_in_no_artefact() {
    let dir = tempfile::tempdir().unwrap();
    let proxy_record = dir.path().join("proxy.tsjsonl");
    // The emulator accepts only this key, so the key really travels end to end.
    let mut emu = Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--api-key", KEY],
        &[],
    );
    let ws = emu.line_with("WebSocket:");
    let emu_base = ws
        .split_whitespace()
        .last()
        .unwrap()
        .replacen("ws://", "http://", 1)
        .trim_end_matches("/responses")
        .to_owned();
    let mut proxy = Proc::headless_proxy(
        &[],
        &emu_base,
        &["--record", proxy_record.to_str().unwrap()],
        &[("OPENAI_API_KEY", KEY)],
    );
    let base = proxy.base_url();

    // A live session (WebSocket) through the proxy, driving the TUI's state.
    let url = format!("{}/responses", base.replacen("http://", "ws://", 1));
    let mut live = Live::spawn(&url, |_| {});
    live.connected(0).await;
    live.complete_a_turn(0, "First question").await;
    live.complete_a_turn(0, "Second question").await;
    // A wrong key is refused with a message that does not echo it.
    let mut wrong = Live::spawn(&url, |c| {
        c.api_key = Some("sk-proj-WRONGKEY-TURNSCOPE-0000000000".into())
    });
    let refused = wrong.failed().await;
    assert!(refused.starts_with("401 Unauthorized"), "{refused}");
    wrong.finish().await;

    // HTTP mode through the proxy.
    let body = serde_json::json!({"model": "gpt-5.1", "stream": true, "input": "Hello over HTTP"});
    let resp = reqwest::Client::new()
        .post(format!("{base}/responses"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let sse = resp.text().await.unwrap();
    assert!(sse.contains("response.completed"), "{sse}");

    // The TUI's screen, as the user sees it: the header shows a masked key.
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|f| turnscope::tui::view::render(&live.app, f))
        .unwrap();
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        screen.contains("sk-…cdef"),
        "the header shows the masked key"
    );
    let session_record = live.path.display().to_string();
    let (session_frames, session_raw) = live.finish().await;
    assert!(session_frames.len() > 10);

    proxy.signal_and_wait("INT");
    emu.signal_and_wait("INT");
    assert!(
        proxy.stdout.iter().any(|l| l.starts_with("turn 2 ")),
        "{:?}",
        proxy.stdout
    );

    let mut artefacts: Vec<(String, String)> = vec![
        ("screen".into(), screen),
        ("proxy stdout".into(), proxy.stdout.join("\n")),
        ("proxy stderr".into(), proxy.stderr.join("\n")),
        ("emulator stdout".into(), emu.stdout.join("\n")),
        ("emulator stderr".into(), emu.stderr.join("\n")),
        ("session error".into(), refused),
        (session_record, session_raw),
    ];
    for path in files_under(dir.path()) {
        artefacts.push((
            path.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
        ));
    }
    assert!(artefacts.iter().any(|(n, _)| n.ends_with("proxy.tsjsonl")));
    let proxy_text = std::fs::read_to_string(&proxy_record).unwrap();
    assert!(
        proxy_text.contains("Hello over HTTP") && proxy_text.contains("Second question"),
        "the proxy recorded both modes"
    );
    for (name, text) in &artefacts {
        for part in KEY_PARTS.iter().chain(&["WRONGKEY-TURNSCOPE"]) {
            assert!(!text.contains(part), "{part} found in {name}");
        }
    }
}
