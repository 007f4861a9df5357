//! Causes provoked on purpose by a real client: the official Python SDK runs a chained session
//! through the proxy to the emulator, reordering its tools and then changing its instructions;
//! the ledger must call both turns cache misses and name the cause (tests/sdk/insight_causes.py).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::process::Stdio;
use std::time::Duration;

use harness::{Collector, proxy, temp_transcript, transcript_frames};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::{CacheOutcome, Cause, Ledger, SendMode};
use turnscope::proxy::Breakpoints;

#[tokio::test(flavor = "multi_thread")]
async fn sdk_session_through_the_proxy_shows_each_provoked_cause() {
    let python = sdk_venv::python().clone();
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let script = sdk_venv::root()
        .join("tests")
        .join("sdk")
        .join("insight_causes.py");
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("OPENAI_BASE_URL", px.base_url())
        .env("TURNSCOPE_PROXY_WS", px.ws_base_url())
        .env("OPENAI_API_KEY", "sk-insight-test-0000000000000000")
        .env_remove("OPENAI_ORG_ID")
        .env_remove("OPENAI_PROJECT_ID")
        .env_remove("OPENAI_WEBSOCKET_BASE_URL")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the SDK script timed out")
        .unwrap();
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
