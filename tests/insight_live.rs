//! Causes provoked on purpose by a real client: the official Python SDK runs a chained session
//! through the proxy to the emulator, reordering its tools and then changing its instructions;
//! the ledger must call both turns cache misses and name the cause (tests/sdk/insight_causes.py).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use harness::{Collector, proxy, temp_transcript, transcript_frames};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::{CacheOutcome, Cause, Ledger, SendMode};
use turnscope::proxy::Breakpoints;

#[tokio::test(flavor = "multi_thread")]
async fn sdk_session_through_the_proxy_shows_each_provoked_cause() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let (base_url, ws_url) = (px.base_url(), px.ws_base_url());
    sdk_venv::run_through(
        "insight_causes.py",
        &base_url,
        &ws_url,
        "sk-insight-test-0000000000000000",
    )
    .await;
    Collector::new()
        .until(&mut px, "the connection to close", |c| {
            c.closed(0).is_some()
        })
        .await;

    let ledger = Ledger::from_frames(&transcript_frames(&path));
    let turns = ledger.turns();
    assert_eq!(turns.len(), 4);
    assert!(
        turns[1..]
            .iter()
            .all(|t| t.insight.mode == SendMode::Incremental)
    );
    // Turn 2 reordered the tools: the server cached nothing, and the ledger says why.
    assert_eq!(
        turns[1].insight.cache,
        CacheOutcome::Miss,
        "{:?}",
        turns[1].usage
    );
    assert_eq!(
        turns[1].insight.causes,
        [Cause::ToolsReordered {
            from: vec!["read_file".into(), "run_tests".into()],
            to: vec!["run_tests".into(), "read_file".into()],
        }]
    );
    // Turn 3 changed the instructions.
    assert_eq!(turns[2].insight.cache, CacheOutcome::Miss);
    assert_eq!(turns[2].insight.causes, [Cause::InstructionsChanged]);
    // Turn 4 changed nothing: a hit, no cause.
    assert_eq!(
        turns[3].insight.cache,
        CacheOutcome::Hit,
        "{:?}",
        turns[3].usage
    );
    assert!(turns[3].insight.causes.is_empty());
    px.shutdown().await;
    emu.shutdown().await;
}

/// One chained turn pair from a plain WebSocket client through the proxy: long instructions and
/// a tool, short items. The prompt cache sees instructions and tools before the items, so the
/// emulator reports a hit although the chain alone is far under the 1024-token minimum; the
/// ledger's expected prefix must count them too, or it would call the turn "n/a".
#[tokio::test(flavor = "multi_thread")]
async fn instructions_and_tools_count_in_the_expected_prompt_cache_prefix() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let mut ws = harness::agent(
        &px,
        &[("Authorization", "Bearer sk-insight-test-0000000000000000")],
    )
    .await;
    let instructions = "Answer briefly, cite the tool output, never guess a number. ".repeat(100);
    let tool = serde_json::json!({"type": "function", "name": "get_weather", "strict": true,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": false}});
    let mut previous: Option<String> = None;
    for text in ["Hello.", "And again."] {
        let mut create = serde_json::json!({"type": "response.create", "model": "gpt-5.1",
            "store": false, "instructions": instructions, "tools": [tool], "input": text});
        if let Some(id) = &previous {
            create["previous_response_id"] = id.as_str().into();
        }
        ws.send(Message::text(create.to_string())).await.unwrap();
        loop {
            let event: serde_json::Value =
                serde_json::from_str(&harness::next_text(&mut ws).await).unwrap();
            if event["type"] == "response.completed" {
                previous = event["response"]["id"].as_str().map(str::to_owned);
                break;
            }
            assert_ne!(event["type"], "error", "{event}");
        }
    }
    ws.close(None).await.unwrap();
    Collector::new().until_closed(&mut px, 0).await;

    let ledger = Ledger::from_frames(&transcript_frames(&path));
    let turn = &ledger.turns()[1];
    assert_eq!(turn.insight.mode, SendMode::Incremental);
    let prefix = turn.prefix.tokens;
    assert!(prefix > 1024, "instructions and tools: {prefix} tokens");
    let expected = turn.insight.expected_cached_tokens;
    let chain = expected
        .checked_sub(prefix)
        .expect("the prefix is part of the expected");
    assert!(
        chain > 0 && chain < 1024,
        "the chain alone is under the minimum: {chain}"
    );
    let cached = turn.cached_tokens().unwrap();
    assert!(cached >= 1024, "the emulator's prompt cache: {cached}");
    assert_eq!(turn.insight.cache, CacheOutcome::Hit, "{:?}", turn.usage);
    px.shutdown().await;
    emu.shutdown().await;
}
