//! A real agent against the emulator: the Codex CLI (npm `@openai/codex`) in WebSocket mode.
//!
//! The CLI comes from target/codex (installed there on first use, as `.ci/run` does) or
//! `TURNSCOPE_CODEX`; without it the test fails with the reason, never passes silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/codex.rs"]
mod codex;

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
