//! A real agent against the emulator: the Codex CLI (npm `@openai/codex`) in WebSocket mode.
//!
//! The CLI comes from target/codex (installed there on first use, as `.ci/run` does) or
//! `TURNSCOPE_CODEX`; without it the test fails with the reason, never passes silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/codex.rs"]
mod codex;
#[path = "common/proxy_harness.rs"]
mod harness;

use turnscope::emulator::{EmulatorConfig, start};

/// Any key: the emulator checks none here.
const KEY: &str = "sk-test-codex-0000000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_chains_turns_over_websocket_against_the_emulator() {
    codex::binary();
    let emulator = start(EmulatorConfig::default()).await.unwrap();
    let (out, err) = codex::exec_ok(&emulator.base_url(), "hello from the codex test", KEY).await;
    // The persona echoes the message, and reports the chained id: Codex prewarmed the
    // connection (generate:false) and continued from it by previous_response_id.
    assert!(
        out.contains(r#"You said: "hello from the codex test""#),
        "{out}\n{err}"
    );
    assert!(out.contains("previous_response_id: resp_"), "{out}\n{err}");
    emulator.shutdown().await;
}

/// The Codex CLI meets the 60-minute limit (shortened to 1.5 s). Each request takes 0.9 s
/// before `response.created`, so the first connection cannot fit Codex's prewarm
/// (`generate: false`) and its request: the request is cut by the age-limit error event
/// (`--age-limit-inflight cut`). Codex must open a new connection and resend the whole turn
/// there (its prewarmed response is gone with the old connection), which fits in 0.9 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_rotates_at_the_connection_age_limit_and_finishes() {
    codex::binary();
    let emulator = start(EmulatorConfig {
        max_connection_age: std::time::Duration::from_millis(1500),
        age_limit_inflight: turnscope::emulator::AgeLimitInFlight::Cut,
        latency: turnscope::emulator::LatencyProfile {
            name: "codex-age".into(),
            rtt_ms: 900.0,
            ..turnscope::emulator::LatencyProfile::zero()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let (out, err) = codex::exec_ok(&emulator.base_url(), "hello across the age limit", KEY).await;
    assert!(
        out.contains(r#"You said: "hello across the age limit""#),
        "{out}\n{err}"
    );
    // The answer came from a full resend on a fresh connection (no previous_response_id),
    // not from the prewarmed chain of the first connection, which the age limit ended.
    assert!(out.contains("previous_response_id: none"), "{out}\n{err}");
    emulator.shutdown().await;
}

/// The Codex CLI run twice through one recording proxy, against a scripted model that gives
/// both runs the same call ids (tests/scenarios/codex-exec-loop.toml): the second run's turns
/// continue their own chain and are judged incremental, as the first run's are — not a resend
/// of the first run's tool outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_codex_run_through_the_proxy_is_incremental_too() {
    use turnscope::ledger::{Ledger, SendMode};
    codex::binary();
    let emulator = start(EmulatorConfig {
        scenario: Some(codex::exec_loop_scenario()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let (_dir, path) = harness::temp_transcript();
    let px = harness::proxy(
        &emulator.base_url(),
        &path,
        turnscope::proxy::Breakpoints::default(),
    )
    .await;
    for _ in 0..2 {
        let (out, err) = codex::exec_ok(&px.base_url(), codex::EXEC_LOOP_PROMPT, KEY).await;
        assert!(out.contains(codex::EXEC_LOOP_DONE), "{out}\n{err}");
    }
    px.shutdown().await;
    emulator.shutdown().await;
    let (_, frames, _) = turnscope::transcript::read_all(&path).unwrap();
    let ledger = Ledger::from_frames(&frames);
    let turns = ledger.turns();
    let runs: std::collections::BTreeSet<u32> = turns.iter().map(|t| t.conn).collect();
    assert_eq!(runs.len(), 2, "one connection per run");
    let continued = turns.iter().filter(|t| t.previous_response_id.is_some());
    let mut n = 0;
    for t in continued {
        n += 1;
        assert_eq!(
            t.insight.mode,
            SendMode::Incremental,
            "turn {} on connection {}",
            t.index,
            t.conn
        );
    }
    assert!(n >= 20, "both runs chained their turns: {n} continuations");
}
