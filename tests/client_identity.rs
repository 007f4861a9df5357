//! Real clients through `turnscope proxy` to the emulator are named with their versions: the
//! official Python SDK, the official Node SDK (npm `openai` under target/node-sdk) and the
//! Codex CLI (target/codex, installed by `.ci/run`). The key never reaches the meta line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/codex.rs"]
mod codex;
#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "common/node_sdk.rs"]
mod node_sdk;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::path::Path;
use std::time::Duration;

use harness::{Collector, proxy, temp_transcript, transcript_frames};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::Ledger;
use turnscope::proxy::Breakpoints;

const KEY: &str = "sk-clientid-SECRET0123456789abcdefXYZ";

/// The client the proxy recorded for connection `conn`, and the raw transcript.
fn client_of(path: &Path, conn: u32) -> (turnscope::ledger::Client, String) {
    let ledger = Ledger::from_frames(&transcript_frames(path));
    let client = ledger
        .client_of(conn)
        .cloned()
        .expect("no client meta line");
    (client, std::fs::read_to_string(path).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_is_named_with_its_version() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let (base_url, ws_url) = (px.base_url(), px.ws_base_url());
    sdk_venv::run_through("proxy_tool_loop.py", &base_url, &ws_url, KEY).await;
    Collector::new()
        .until(&mut px, "both connections to close", |c| {
            c.closed(0).is_some() && c.closed(1).is_some()
        })
        .await;
    // Conn 0 is the WebSocket session, conn 1 the HTTP-mode turn: both are named.
    for conn in [0, 1] {
        let (client, raw) = client_of(&path, conn);
        assert_eq!(client.id, "openai-python");
        assert_eq!(
            client.label(),
            format!("OpenAI Python SDK {}", sdk_venv::SDK_VERSION)
        );
        assert!(!raw.contains("SECRET0123456789"), "the key leaked");
    }
    px.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_sdk_is_named_with_its_version() {
    let modules = node_sdk::node_modules();
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let script = sdk_venv::root().join("tests/sdk/node_ws_turn.cjs");
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .env("NODE_PATH", modules)
        .env("OPENAI_BASE_URL", px.base_url())
        .env("OPENAI_API_KEY", KEY)
        .env("MODEL", "gpt-5.1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .expect("the Node script timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("DONE resp_"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Collector::new().until_closed(&mut px, 0).await;
    let (client, raw) = client_of(&path, 0);
    assert_eq!(
        client.label(),
        format!("OpenAI Node SDK {}", node_sdk::NODE_SDK)
    );
    assert!(!raw.contains("SECRET0123456789"), "the key leaked");
    px.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_codex_cli_is_named_with_its_version() {
    codex::binary();
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    codex::exec_ok(&px.base_url(), "hello from the identity test", KEY).await;
    px.shutdown().await;
    let frames = transcript_frames(&path);
    let ledger = Ledger::from_frames(&frames);
    let client = ledger.client().expect("no client meta line");
    assert_eq!(client.id, "codex-cli");
    assert_eq!(client.version.as_deref(), Some("0.169.0"));
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains("SECRET0123456789"), "the key leaked");
    emu.shutdown().await;
}
