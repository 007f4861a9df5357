//! Causes provoked on purpose by a real client: the official Python SDK runs a chained session
//! through the proxy to the emulator, reordering its tools and then changing its instructions;
//! the ledger must call both turns cache misses and name the cause (tests/sdk/insight_causes.py).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::time::Duration;

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
    let out = sdk_venv::run_script(
        "insight_causes.py",
        &[
            ("OPENAI_BASE_URL", &base_url),
            ("TURNSCOPE_PROXY_WS", &ws_url),
            ("OPENAI_API_KEY", "sk-insight-test-0000000000000000"),
        ],
        Duration::from_secs(120),
    )
    .await;
    assert!(
        out.status.success(),
        "the SDK script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
