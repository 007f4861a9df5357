//! OpenTelemetry export against a real backend: Arize Phoenix (from PyPI, started once for this
//! binary) receives a fixture session from `turnscope export --otlp` and a live SDK tool loop
//! through the proxy; its own REST API shows the trace, the span tree and the attributes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/phoenix.rs"]
mod phoenix;
#[path = "common/proxy_harness.rs"]
mod proxy_harness;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::time::Duration;

use serde_json::Value;
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::Ledger;
use turnscope::otel::{self, ExportConfig, Sink};
use turnscope::proxy::ProxyEvent;

use proxy_harness::{GUARD, proxy, temp_transcript, transcript_frames};

const PROJECT: &str = "turnscope";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Checks the tree Phoenix holds: one root session span, connection spans under it, turn spans
/// (LLM) under their connection; returns the turn spans in start order.
fn tree(spans: &[Value], session: &str, connections: usize, turns: usize) -> Vec<Value> {
    assert_eq!(spans.len(), 1 + connections + turns, "{spans:#?}");
    let roots: Vec<_> = spans.iter().filter(|s| s["parent_id"].is_null()).collect();
    assert_eq!(roots.len(), 1, "one root span");
    let root = roots[0];
    assert_eq!(root["name"], format!("turnscope session {session}"));
    assert_eq!(root["attributes"]["session.id"], session);
    let conn_ids: Vec<_> = spans
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("connection "))
        .inspect(|c| assert_eq!(c["parent_id"], root["context"]["span_id"]))
        .map(|c| c["context"]["span_id"].clone())
        .collect();
    assert_eq!(conn_ids.len(), connections);
    let mut llm: Vec<Value> = spans
        .iter()
        .filter(|s| s["span_kind"] == "LLM")
        .cloned()
        .collect();
    assert_eq!(llm.len(), turns);
    for t in &llm {
        assert!(
            conn_ids.contains(&t["parent_id"]),
            "a turn outside its connection: {t:#}"
        );
    }
    llm.sort_by_key(|s| s["attributes"]["turnscope.turn"].as_i64().unwrap());
    llm
}

#[tokio::test(flavor = "multi_thread")]
async fn phoenix_shows_an_exported_fixture_session_as_one_trace() {
    let px = phoenix::phoenix();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["export", "--otlp", &px.url, &fixture("tool_loop.tsjsonl")])
        .env_remove(otel::ENV_HEADERS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = stdout
        .split("trace ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("no trace id printed")
        .to_owned();
    let spans = px.spans(PROJECT, &trace, 7).await;
    let turns = tree(&spans, "tool_loop.tsjsonl", 1, 5);

    let frames =
        turnscope::transcript::read_all(std::path::Path::new(&fixture("tool_loop.tsjsonl")))
            .unwrap()
            .1;
    let ledger = Ledger::from_frames(&frames);
    for (span, turn) in turns.iter().zip(ledger.turns()) {
        let a = &span["attributes"];
        assert_eq!(a["gen_ai.operation.name"], "chat");
        assert_eq!(a["gen_ai.provider.name"], "openai");
        assert_eq!(a["gen_ai.request.model"], "gpt-test");
        assert_eq!(a["llm.model_name"], "gpt-test");
        assert_eq!(
            a["gen_ai.response.id"],
            turn.response_id.as_deref().unwrap()
        );
        let usage = turn.usage.as_ref().unwrap();
        assert_eq!(a["gen_ai.usage.input_tokens"], usage.input_tokens);
        assert_eq!(a["llm.token_count.prompt"], usage.input_tokens);
        assert_eq!(a["llm.token_count.completion"], usage.output_tokens);
        assert_eq!(
            a["gen_ai.usage.cache_read.input_tokens"],
            usage.input_tokens_details.cached_tokens
        );
        assert_eq!(a["turnscope.incremental.bytes"], turn.incremental.bytes);
        assert_eq!(a["turnscope.full_context.bytes"], turn.full_context.bytes);
        assert_eq!(a["turnscope.saved.tokens"], turn.saved_tokens());
        assert_eq!(
            a["turnscope.send_mode"],
            if turn.index == 1 {
                "fresh"
            } else {
                "incremental"
            }
        );
        assert_eq!(span["status_code"], "OK");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn phoenix_shows_a_live_sdk_tool_loop_through_the_proxy() {
    let px = phoenix::phoenix();
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut running = proxy(&emu.base_url(), &path, Default::default()).await;
    let sink = Sink::new(
        &ExportConfig {
            endpoint: Some(otel::traces_url(&px.url).unwrap()),
            ..ExportConfig::default()
        },
        otel::live::EXPORT_TIMEOUT,
    )
    .unwrap();
    let idle = turnscope::proxy::ProxyEvents::ended();
    let events = std::mem::replace(&mut running.events, idle);
    let session = "live-sdk-tool-loop";
    let (mut events, done) = otel::live::tee(events, sink, session.into(), false);
    let (base_url, ws_url) = (running.base_url(), running.ws_base_url());
    sdk_venv::run_through(
        "proxy_tool_loop.py",
        &base_url,
        &ws_url,
        "sk-test-otel-live",
    )
    .await;
    running.shutdown().await;
    while let Some(e) = tokio::time::timeout(GUARD, events.recv()).await.unwrap() {
        if let ProxyEvent::Error(e) = e {
            panic!("export to Phoenix failed: {e}");
        }
    }
    tokio::time::timeout(GUARD, done).await.unwrap().unwrap();

    // The same session as the transcript, folded by the ledger.
    let ledger = Ledger::from_frames(&transcript_frames(&path));
    let (conns, turns) = (ledger.connections().len(), ledger.turns().len());
    assert_eq!(turns, 5, "4 WebSocket turns and one HTTP-mode turn");
    // The trace id is Phoenix's to tell: find the root span by its session attribute.
    let client = reqwest::Client::new();
    // Phoenix inserts in the background: poll until the root span is there (bounded).
    let started = std::time::Instant::now();
    let trace = loop {
        let roots: Value = client
            .get(format!(
                "{}/v1/projects/{PROJECT}/spans?parent_id=null&attribute=session.id:{session}",
                px.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(t) = roots["data"][0]["context"]["trace_id"].as_str() {
            break t.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no root span for {session} after 60 s: {roots}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let spans = px.spans(PROJECT, &trace, 1 + conns + turns).await;
    let llm = tree(&spans, session, conns, turns);
    for (span, turn) in llm.iter().zip(ledger.turns()) {
        let a = &span["attributes"];
        assert_eq!(
            a["gen_ai.response.id"],
            turn.response_id.as_deref().unwrap()
        );
        assert_eq!(a["turnscope.incremental.bytes"], turn.incremental.bytes);
        assert_eq!(a["turnscope.full_context.bytes"], turn.full_context.bytes);
        let transport = if turn.index == 5 { "http" } else { "websocket" };
        assert_eq!(a["turnscope.transport"], transport);
        // No content without --include-content, and never the key.
        assert!(a.get("input.value").is_none(), "{a:#}");
        assert!(!span.to_string().contains("sk-test-otel-live"));
    }
    emu.shutdown().await;
}
