//! OpenTelemetry export without a backend: the OTLP/JSON file's shape (parents, links, content
//! rules), one-line errors for bad flags and unreachable collectors, and a proxy whose relay
//! keeps its pace while the collector is slow or down. Phoenix itself: tests/otel_phoenix.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cli.rs"]
mod cli;

#[path = "common/proxy_harness.rs"]
mod proxy_harness;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::Ledger;
use turnscope::otel::{self, ExportConfig, Sink};
use turnscope::proxy::ProxyEvent;

use cli::turnscope;
use proxy_harness::{GUARD, agent, proxy, temp_transcript, transcript_frames};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The spans of an OTLP/JSON line, flattened.
fn spans(line: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(line).unwrap();
    doc["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap().clone())
        .flat_map(|s| s["spans"].as_array().unwrap().clone())
        .collect()
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[test]
fn the_otlp_json_file_holds_one_trace_per_session_with_parents_links_and_ledger_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("spans.jsonl");
    let out = turnscope(
        &[
            "export",
            "--otlp-file",
            out_path.to_str().unwrap(),
            &fixture("tool_loop.tsjsonl"),
            &fixture("reconnect_store_false.tsjsonl"),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "one export request per session");

    // tool_loop: session → connection → 5 turns, each chained to the one before.
    let s = spans(lines[0]);
    assert_eq!(s.len(), 7);
    let trace = s[0]["traceId"].as_str().unwrap();
    assert!(s.iter().all(|x| x["traceId"] == trace), "one trace");
    let root: Vec<_> = s.iter().filter(|x| x["parentSpanId"] == "").collect();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0]["name"], "turnscope session tool_loop.tsjsonl");
    let conn = s.iter().find(|x| x["name"] == "connection 0").unwrap();
    assert_eq!(conn["parentSpanId"], root[0]["spanId"]);
    let turns: Vec<_> = s.iter().filter(|x| x["name"] == "chat gpt-test").collect();
    assert_eq!(turns.len(), 5);
    assert!(turns.iter().all(|t| t["parentSpanId"] == conn["spanId"]));
    let frames =
        turnscope::transcript::read_all(std::path::Path::new(&fixture("tool_loop.tsjsonl")))
            .unwrap()
            .1;
    let ledger = Ledger::from_frames(&frames);
    for (span, turn) in turns.iter().zip(ledger.turns()) {
        // OTLP/JSON carries int64 as a string.
        let opt_int = |k: &str| {
            attr(span, k).map(|v| {
                v["intValue"]
                    .as_str()
                    .map_or_else(|| v["intValue"].as_i64().unwrap(), |s| s.parse().unwrap())
            })
        };
        let int = |k: &str| opt_int(k).unwrap_or_else(|| panic!("no {k}"));
        assert_eq!(int("turnscope.turn"), turn.index as i64);
        assert_eq!(
            int("turnscope.incremental.bytes"),
            turn.incremental.bytes as i64
        );
        assert_eq!(
            int("turnscope.full_context.tokens"),
            turn.full_context.tokens as i64
        );
        assert_eq!(int("turnscope.saved.bytes"), turn.saved_bytes());
        assert_eq!(
            opt_int("turnscope.ttft_us"),
            turn.ttft_us().map(|v| v as i64)
        );
        assert_eq!(
            int("gen_ai.usage.cache_read.input_tokens"),
            turn.cached_tokens().unwrap() as i64
        );
        assert_eq!(
            attr(span, "gen_ai.response.id").unwrap()["stringValue"],
            turn.response_id.as_deref().unwrap()
        );
        // previous_response_id becomes a link to the parent turn's span.
        let links = span["links"].as_array().unwrap();
        if turn.previous_response_id.is_some() {
            let parent = turns[turn.index - 2];
            assert_eq!(links.len(), 1, "turn {}", turn.index);
            assert_eq!(links[0]["spanId"], parent["spanId"]);
        } else {
            assert!(links.is_empty());
        }
        // No content unless asked for.
        assert!(attr(span, "input.value").is_none() && attr(span, "output.value").is_none());
    }

    // reconnect_store_false: the rejected turn is an error with an exception event; the
    // connection it ran on carries the reconnect.
    let s = spans(lines[1]);
    assert_ne!(s[0]["traceId"], trace, "a trace per session");
    let failed = s
        .iter()
        .find(|x| x["status"]["code"] == 2)
        .expect("an error span");
    assert!(
        failed["status"]["message"]
            .as_str()
            .unwrap()
            .contains("previous_response_not_found")
    );
    let events: Vec<_> = failed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert!(events.contains(&"exception".into()), "{events:?}");
    let conn1 = s.iter().find(|x| x["name"] == "connection 1").unwrap();
    assert_eq!(conn1["events"][0]["name"], "turnscope.reconnect");
}

#[test]
fn content_only_on_request_and_never_a_key() {
    let dir = tempfile::tempdir().unwrap();
    // A recording whose prompt holds something shaped like a key.
    let src = std::fs::read_to_string(fixture("tool_loop.tsjsonl")).unwrap();
    let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
    let leaky = src.replacen(
        "\"input\":[",
        &format!("\"instructions\":\"use {key}\",\"input\":["),
        1,
    );
    assert_ne!(leaky, src, "the fixture changed shape");
    let file = dir.path().join("leaky.tsjsonl");
    std::fs::write(&file, leaky).unwrap();
    let out_path = dir.path().join("spans.jsonl");
    let out = turnscope(
        &[
            "export",
            "--include-content",
            "--otlp-file",
            out_path.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(!text.contains(key), "the key reached the spans");
    let s = spans(text.lines().next().unwrap());
    let first = s.iter().find(|x| x["name"] == "chat gpt-test").unwrap();
    let input = attr(first, "input.value").unwrap()["stringValue"]
        .as_str()
        .unwrap();
    assert!(
        input.contains("response.create") && input.contains("[REDACTED]"),
        "{input}"
    );
    assert!(attr(first, "output.value").is_some());
}

#[test]
fn bad_flags_and_unreachable_collectors_get_one_line_errors() {
    let file = fixture("tool_loop.tsjsonl");
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = format!("http://{closed}");
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec!["export", &file], vec![], "nothing to export to"),
        (
            vec!["export", "--otlp", "localhost:4318", &file],
            vec![],
            "bad OTLP endpoint",
        ),
        (
            vec!["export", "--otlp", "ftp://h", &file],
            vec![],
            "not http or https",
        ),
        (
            vec![
                "export",
                "--otlp",
                &down,
                "--otlp-header",
                "authorization Bearer x",
                &file,
            ],
            vec![],
            "bad OTLP header",
        ),
        (
            vec!["export", "--otlp", &down, &file],
            vec![(otel::ENV_HEADERS, "bad header=x")],
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            vec!["export", "--otlp", &down, &file],
            vec![(otel::ENV_TIMEOUT, "soon")],
            "not a number of milliseconds",
        ),
        (
            vec!["export", "--otlp", &down, &file],
            vec![],
            "Connection refused",
        ),
    ];
    for (args, env, expect) in cases {
        let out = turnscope(&args, &env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_slow_collector_times_out_with_one_line() {
    // Accepts and never answers.
    let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", slow.local_addr().unwrap());
    let started = Instant::now();
    let out = turnscope(
        &["export", "--otlp", &url, &fixture("tool_loop.tsjsonl")],
        &[(otel::ENV_TIMEOUT, "700")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("OTLP export to") && err.contains("not exported"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(started.elapsed() < GUARD, "the timeout was not applied");
    drop(slow);
}

/// Runs `n` turns on one agent connection through the proxy; the longest round trip.
async fn turns(px: &turnscope::proxy::RunningProxy, n: usize) -> Duration {
    let mut a = agent(px, &[("authorization", "Bearer sk-test-otel")]).await;
    let mut worst = Duration::ZERO;
    for i in 0..n {
        let started = Instant::now();
        a.send(Message::text(format!(
            r#"{{"type":"response.create","model":"gpt-test","input":"turn {i}"}}"#
        )))
        .await
        .unwrap();
        loop {
            let msg = tokio::time::timeout(GUARD, a.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Message::Text(t) = msg
                && (t.contains("\"response.completed\"") || t.contains("\"type\":\"error\""))
            {
                break;
            }
        }
        worst = worst.max(started.elapsed());
    }
    a.close(None).await.unwrap();
    worst
}

fn sink_to(url: &str, timeout: Duration) -> Sink {
    Sink::new(
        &ExportConfig {
            endpoint: Some(otel::traces_url(url).unwrap()),
            timeout: Some(timeout),
            ..ExportConfig::default()
        },
        timeout,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_keeps_its_pace_and_every_frame_while_the_collector_hangs() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Default::default()).await;
    // A collector that accepts and never answers: every export waits out its 3 s timeout.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", hang.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = hang.accept().await {
            conns.push(s);
        }
    });
    let idle = turnscope::proxy::ProxyEvents::ended();
    let events = std::mem::replace(&mut px.events, idle);
    let (mut events, done) = otel::live::tee(
        events,
        sink_to(&url, Duration::from_secs(3)),
        "hang".into(),
        false,
    );

    // 12 turns, spread over several batches; a relay that waited for export would take ≥ 3 s
    // on some turn.
    let started = Instant::now();
    let worst = turns(&px, 12).await;
    assert!(
        worst < Duration::from_millis(1500),
        "a turn took {worst:?} through the proxy while the collector hung"
    );
    let relayed = started.elapsed();
    px.shutdown().await;
    let mut frames = 0;
    while let Some(e) = tokio::time::timeout(GUARD, events.recv()).await.unwrap() {
        if let ProxyEvent::Frame(..) = e {
            frames += 1;
        }
    }
    assert_eq!(
        frames,
        transcript_frames(&path).len(),
        "the UI lost frames behind the tee"
    );
    tokio::time::timeout(GUARD, done).await.unwrap().unwrap();
    eprintln!("12 turns relayed in {relayed:?} (worst {worst:?}) with a hung collector");
    held.abort();
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_that_is_down_is_reported_once_and_the_proxy_keeps_working() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Default::default()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let idle = turnscope::proxy::ProxyEvents::ended();
    let events = std::mem::replace(&mut px.events, idle);
    let (mut events, done) = otel::live::tee(
        events,
        sink_to(&format!("http://{closed}"), Duration::from_secs(3)),
        "down".into(),
        false,
    );
    turns(&px, 3).await;
    // The first batch fails: wait for the notice.
    let mut notices = Vec::new();
    while notices.is_empty() {
        if let ProxyEvent::Error(e) = tokio::time::timeout(GUARD, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            notices.push(e);
        }
    }
    // More turns and the final batch fail too, silently.
    turns(&px, 2).await;
    px.shutdown().await;
    while let Some(e) = tokio::time::timeout(GUARD, events.recv()).await.unwrap() {
        if let ProxyEvent::Error(e) = e {
            notices.push(e);
        }
    }
    tokio::time::timeout(GUARD, done).await.unwrap().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0];
    assert!(
        n.contains("OTLP export to") && n.contains("keeps relaying"),
        "{n}"
    );
    assert!(!n.contains('\n'), "{n}");
    let ledger = Ledger::from_frames(&transcript_frames(&path));
    assert_eq!(ledger.turns().len(), 5, "the proxy stopped relaying");
    emu.shutdown().await;
}
