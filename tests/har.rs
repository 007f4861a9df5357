//! HAR in and out: every fixture survives export → read with the same turns and verdicts;
//! bad HARs give one-line errors or skip counts, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

use cli::turnscope;
use serde_json::{Value, json};
use turnscope::har;
use turnscope::ledger::Ledger;
use turnscope::transcript::read_all;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The parts of `stats --json` a HAR must reproduce: turns (with verdicts and chain) and totals.
fn figures(header: &turnscope::transcript::Header, ledger: &Ledger) -> (Value, Value) {
    let mut out = Vec::new();
    let prices = turnscope::ledger::cost::Prices::builtin();
    turnscope::report::write_stats_json(&mut out, "x", header, ledger, &[], &prices).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    (doc["turns"].clone(), doc["totals"].clone())
}

#[test]
fn every_fixture_round_trips_through_a_har_with_the_same_figures() {
    for name in [
        "tool_loop.tsjsonl",
        "two_lanes.tsjsonl",
        "reconnect_store_false.tsjsonl",
        "http_fallback.tsjsonl",
        "cause_tools_reordered.tsjsonl",
        "cause_instructions_changed.tsjsonl",
        "cause_compaction.tsjsonl",
    ] {
        let (header, frames, _) = read_all(&fixture(name)).unwrap();
        let mut out = Vec::new();
        har::write_har(&header, &frames, &mut out).unwrap();
        let loaded = har::read_from(&out[..], name).unwrap();
        assert!(
            loaded.summary.skipped.is_empty(),
            "{name}: {:?}",
            loaded.summary
        );
        let want = figures(&header, &Ledger::from_frames(&frames));
        let got = figures(&loaded.header, &Ledger::from_frames(&loaded.frames));
        assert_eq!(got.1, want.1, "{name}: totals");
        assert_eq!(got.0, want.0, "{name}: turns");
    }
}

#[test]
fn http_turns_are_written_as_sse_entries_and_read_back_as_http_turns() {
    let (header, frames, _) = read_all(&fixture("http_fallback.tsjsonl")).unwrap();
    let mut out = Vec::new();
    let summary = har::write_har(&header, &frames, &mut out).unwrap();
    assert!(summary.http > 0 && summary.websocket > 0, "{summary:?}");
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let entries = doc["log"]["entries"].as_array().unwrap();
    let http = entries
        .iter()
        .find(|e| e["request"]["method"] == "POST")
        .unwrap();
    assert_eq!(http["response"]["content"]["mimeType"], "text/event-stream");
    let sse = http["response"]["content"]["text"].as_str().unwrap();
    assert!(sse.starts_with("event: response.created\ndata: {"), "{sse}");
    let ws = entries
        .iter()
        .find(|e| e["_resourceType"] == "websocket")
        .unwrap();
    assert_eq!(ws["response"]["status"], 101);
    assert_eq!(ws["_webSocketMessages"][0]["type"], "send");
    assert_eq!(ws["_webSocketMessages"][0]["opcode"], 1);
    let loaded = har::read_from(&out[..], "x").unwrap();
    assert_eq!(loaded.summary.http, summary.http);
    let ledger = Ledger::from_frames(&loaded.frames);
    assert!(
        ledger
            .turns()
            .iter()
            .any(|t| t.transport == turnscope::ledger::Transport::Http)
    );
}

fn ws_entry(url: &str, messages: Value) -> Value {
    json!({
        "startedDateTime": "2026-11-27T10:00:00.000+00:00",
        "time": 12.5,
        "request": {"method": "GET", "url": url, "headers": [
            {"name": "User-Agent", "value": "OpenAI/Python 3.51.0"},
            {"name": "Authorization", "value": "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123"}
        ]},
        "response": {"status": 101, "content": {}},
        "_resourceType": "websocket",
        "_webSocketMessages": messages,
    })
}

fn har_of(entries: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}}))
        .unwrap()
}

#[test]
fn other_entries_and_entries_without_messages_are_skipped_with_a_count() {
    let create = r#"{"type":"response.create","model":"m","input":[]}"#;
    let data = har_of(&[
        json!({"startedDateTime": "2026-11-27T10:00:00Z", "request": {"method": "GET", "url": "https://example.com/"}, "response": {"status": 200}}),
        ws_entry("wss://api.openai.com/v1/responses", json!([])),
        ws_entry(
            "wss://api.openai.com/v1/responses",
            json!([
                {"type": "send", "time": 1_795_600_800.001, "opcode": 1, "data": create},
                {"type": "receive", "time": 1_795_600_800.002, "opcode": 2, "data": "AAEC"},
                {"type": "receive", "time": 1_795_600_800.003, "opcode": 9, "data": ""},
            ]),
        ),
        json!("not an entry"),
    ]);
    let loaded = har::read_from(&data[..], "x").unwrap();
    let s = &loaded.summary;
    assert_eq!(
        (s.entries, s.websocket, s.messages, s.binary_messages),
        (4, 1, 2, 1)
    );
    assert_eq!(s.skipped["entries not to /v1/responses"], 1);
    assert_eq!(s.skipped["WebSocket entries without _webSocketMessages"], 1);
    assert_eq!(s.skipped["malformed entries"], 1);
    assert_eq!(s.skipped["control messages (close, ping, pong)"], 1);
    assert!(s.describe().contains("skipped 4"), "{}", s.describe());
    let binary = loaded
        .frames
        .iter()
        .find(|f| matches!(f.payload, turnscope::frame::Payload::Binary(_)))
        .unwrap();
    assert_eq!(binary.payload.as_bytes(), [0, 1, 2]);
    // The handshake's client is named; its key is never kept.
    let text: String = loaded
        .frames
        .iter()
        .map(|f| String::from_utf8_lossy(f.payload.as_bytes()).into_owned())
        .collect();
    assert!(!text.contains("abcdefghijklmnop"), "{text}");
    let ledger = Ledger::from_frames(&loaded.frames);
    assert_eq!(ledger.client().unwrap().label(), "OpenAI Python SDK 3.51.0");
    assert_eq!(ledger.turns().len(), 1);
}

#[test]
fn a_gigantic_message_is_read_whole() {
    let big = "x".repeat(24 << 20);
    let create = format!(
        r#"{{"type":"response.create","model":"m","input":[{{"type":"message","role":"user","content":"{big}"}}]}}"#
    );
    let data = har_of(&[ws_entry(
        "ws://127.0.0.1:1/v1/responses",
        json!([{"type": "send", "time": 1_795_600_800.001, "opcode": 1, "data": create}]),
    )]);
    let loaded = har::read_from(&data[..], "x").unwrap();
    let ledger = Ledger::without_tokens();
    let mut ledger = ledger;
    for f in &loaded.frames {
        ledger.push(f);
    }
    assert_eq!(ledger.turns()[0].incremental.bytes, create.len() as u64);
}

#[test]
fn broken_hars_get_one_line_errors() {
    let cases: [(&[u8], &str); 6] = [
        (b"", "cut off or broken"),
        (b"hello", "not a HAR file"),
        (b"[1,2]", "not a HAR file"),
        (br#"{"version":1}"#, "no \"log\" object"),
        (br#"{"log":{"version":"1.2"}}"#, "no \"entries\" array"),
        (br#"{"log":{"entries":[{"startedDat"#, "cut off or broken"),
    ];
    for (data, want) in cases {
        let err = har::read_from(data, "f.har").unwrap_err().to_string();
        assert!(err.contains(want) && err.starts_with("f.har: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_har_cut_after_some_entries_keeps_them_and_says_where_it_broke() {
    let create = r#"{"type":"response.create","model":"m","input":[]}"#;
    let whole = har_of(&[
        ws_entry(
            "wss://api.openai.com/v1/responses",
            json!([{"type": "send", "time": 1_795_600_800.001, "opcode": 1, "data": create}]),
        ),
        ws_entry(
            "wss://api.openai.com/v1/responses",
            json!([{"type": "send", "time": 1_795_600_801.001, "opcode": 1, "data": create}]),
        ),
    ]);
    let cut = &whole[..whole.len() - 40];
    let loaded = har::read_from(cut, "x").unwrap();
    assert_eq!(loaded.summary.websocket, 1);
    assert!(loaded.summary.cut.is_some());
    assert!(loaded.summary.describe().contains("breaks off"));
}

#[test]
fn export_then_stats_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session.har");
    let src = fixture("tool_loop.tsjsonl");
    let run = turnscope(
        &[
            "export".as_ref(),
            "--har".as_ref(),
            out.as_os_str(),
            src.as_os_str(),
        ],
        &[],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let stats = turnscope(&["stats".as_ref(), out.as_os_str(), "--json".as_ref()], &[]);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let doc: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(doc["source"], "har");
    assert_eq!(doc["har"]["summary"]["websocket"], 1);
    assert!(
        doc["har"]["timing"]
            .as_str()
            .unwrap()
            .contains("milliseconds")
    );
    let stderr = String::from_utf8_lossy(&stats.stderr);
    assert!(stderr.contains("HAR from turnscope"), "{stderr}");
    // Content detection: the same HAR under another name is still read as one.
    let renamed = dir.path().join("session.json");
    std::fs::copy(&out, &renamed).unwrap();
    let again = turnscope(
        &["stats".as_ref(), renamed.as_os_str(), "--json".as_ref()],
        &[],
    );
    let doc2: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc2["turns"], doc["turns"]);
    // A bad HAR: one line on stderr, exit status 1, no panic.
    let bad = dir.path().join("bad.har");
    std::fs::write(&bad, b"{\"log\":{\"entries\":[").unwrap();
    let failed = turnscope(&["stats".as_ref(), bad.as_os_str()], &[]);
    assert_eq!(failed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.har") && !err.contains("panicked"),
        "{err}"
    );
}
