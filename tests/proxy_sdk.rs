//! The official Python SDK (openai 3.51.0) runs a tool loop through the proxy to the emulator,
//! unchanged apart from `websocket_base_url`; the SHA-1 of every frame it sent and received
//! must equal the transcript's, in order. Uses target/sdk-venv (see tests/common/sdk_venv.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use harness::{Collector, proxy, temp_transcript, transcript_frames, transcript_wire};
use sha1::{Digest, Sha1};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::frame::Dir;
use turnscope::ledger::{Ledger, Transport, TurnStatus};
use turnscope::proxy::Breakpoints;

const KEY: &str = "sk-proxysdk-SECRET0123456789abcdefXYZ";

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_tool_loop_through_the_proxy_is_byte_identical() {
    // The emulator accepts only this key: the run passing proves the proxy forwarded it.
    let emu = emulator::start(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let (base_url, ws_url) = (px.base_url(), px.ws_base_url());
    let stdout = sdk_venv::run_through("proxy_tool_loop.py", &base_url, &ws_url, KEY).await;
    let hashes: serde_json::Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("HASHES "))
        .map(|j| serde_json::from_str(j).unwrap())
        .expect("the script printed no HASHES line");
    let list = |key: &str| -> Vec<String> {
        hashes[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };

    // Conn 0 is the WebSocket session, conn 1 the HTTP-mode turn.
    let mut seen = Collector::new();
    seen.until(&mut px, "both connections to close", |c| {
        c.closed(0).is_some() && c.closed(1).is_some()
    })
    .await;
    let frames = transcript_frames(&path);
    let hashed = |dir| -> Vec<String> {
        transcript_wire(&frames, 0, dir)
            .iter()
            .map(|b| sha1_hex(b))
            .collect()
    };
    let (sdk_sent, sdk_recv) = (list("sent"), list("recv"));
    assert_eq!(sdk_sent.len(), 4, "the SDK sent {} frames", sdk_sent.len());
    assert!(sdk_recv.len() > 4 * 3);
    assert_eq!(
        hashed(Dir::Sent),
        sdk_sent,
        "sent frames differ from the transcript"
    );
    assert_eq!(
        hashed(Dir::Recv),
        sdk_recv,
        "received frames differ from the transcript"
    );

    let ledger = Ledger::from_frames(&frames);
    let turns = ledger.turns();
    assert_eq!(turns.len(), 5);
    assert!(turns.iter().all(|t| t.status == TurnStatus::Completed));
    assert!(turns[1..4].iter().all(|t| t.previous_response_id.is_some()));
    assert_eq!(turns[4].transport, Transport::Http);
    assert!(
        turns[3].saved_bytes() > 0,
        "incremental turns should save bytes"
    );
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        !raw.contains("SECRET0123456789"),
        "the key leaked into the transcript"
    );
    px.shutdown().await;
    emu.shutdown().await;
}
