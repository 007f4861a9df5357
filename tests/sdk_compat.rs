//! The official Python SDK (openai 3.51.0) against the emulator over real sockets: the
//! scripts in tests/sdk/ must pass unchanged. Creates target/sdk-venv on first use
//! (`python3 -m venv` + `pip install 'openai[realtime]==3.51.0'`; needs PyPI access once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::time::Duration;

use turnscope::emulator::{self, EmulatorConfig};

async fn run_script(name: &str) {
    run_script_with(name, EmulatorConfig::default()).await;
}

async fn run_script_with(name: &str, config: EmulatorConfig) {
    let emu = emulator::start(EmulatorConfig {
        api_key: Some("dummy".into()),
        ..config
    })
    .await
    .unwrap();
    let base_url = emu.base_url();
    sdk_venv::run_ok(
        name,
        &[("OPENAI_BASE_URL", &base_url), ("OPENAI_API_KEY", "dummy")],
        Duration::from_secs(300),
    )
    .await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_tool_loop_store_false() {
    run_script("ws_tool_loop.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_previous_response_not_found_on_fresh_connection() {
    run_script("ws_not_found.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_generate_false_warmup() {
    run_script("ws_warmup.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_http_streaming_tool_loop() {
    run_script("http_tool_loop.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_lanes_via_session_helper() {
    run_script("ws_lanes.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_reasoning_incomplete_errors_and_steering_validate_strictly() {
    // A slow first token (300 ms), so the script's steer arrives while its response runs.
    let latency = turnscope::emulator::LatencyProfile {
        name: "test-slow".into(),
        ttft_ms: 300.0,
        ..turnscope::emulator::LatencyProfile::zero()
    };
    run_script_with(
        "ws_event_kinds.py",
        EmulatorConfig {
            latency,
            ..Default::default()
        },
    )
    .await;
}
