//! HAR against the real mitmproxy (PyPI 11.0.2, target/mitmproxy-venv): the official Python SDK's
//! tool loop runs through `mitmdump --mode reverse:… --set hardump=…` in front of `turnscope
//! proxy` in front of the emulator, so both record the same traffic at the same time; `turnscope
//! stats` of mitmproxy's HAR and of turnscope's transcript agree on turns, bytes, tokens, chain,
//! verdicts and client; timings agree within HAR's milliseconds plus mitmproxy's own hop.
//! Then a HAR exported by turnscope is read by `mitmdump -n -r` (which keeps the HTTP side and,
//! by its source, ignores `_webSocketMessages`) and back by turnscope with the same stats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "common/mitmproxy.rs"]
mod mitmproxy;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use harness::{Collector, proxy};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::proxy::Breakpoints;

const KEY: &str = "sk-mitm-har-SECRET0123456789abcdefXYZ";

/// `turnscope stats --json FILE`, parsed.
fn stats(file: &Path) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("stats")
        .arg(file)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stats {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A turn's figures that must not depend on who recorded it: everything but the timings.
fn figures(turn: &Value) -> Value {
    let mut t = turn.clone();
    let map = t.as_object_mut().unwrap();
    for timing in ["latency_us", "gap_us"] {
        map.remove(timing);
    }
    t
}

/// Both recordings agree on everything but timings, and on timings within `slack_us`.
fn assert_same_session(want: &Value, got: &Value, what: &str) {
    let (wt, gt) = (
        want["turns"].as_array().unwrap(),
        got["turns"].as_array().unwrap(),
    );
    assert_eq!(gt.len(), wt.len(), "{what}: turns");
    for (w, g) in wt.iter().zip(gt) {
        assert_eq!(figures(g), figures(w), "{what}: turn {}", w["index"]);
    }
    let totals = |doc: &Value| {
        let mut t = doc["totals"].clone();
        t.as_object_mut().unwrap().retain(|k, _| !k.contains("_us"));
        t
    };
    assert_eq!(totals(got), totals(want), "{what}: totals");
    assert_eq!(got["client"], want["client"], "{what}: client");
}

/// WebSocket turns' latencies from two recorders of one session. mitmdump is the outer hop: it
/// sees each request before turnscope and each server event after it, so its latencies are never
/// shorter than turnscope's beyond HAR's 1 ms. How much longer is mitmproxy's own queueing (a
/// Python proxy on a shared 2-core box, tens of ms for a burst of events): bounded loosely, so a
/// unit or placement error (a factor of 1000, an event put at the wrong message) still fails.
fn assert_close_timings(inner: &Value, outer: &Value) {
    for (w, g) in inner["turns"]
        .as_array()
        .unwrap()
        .iter()
        .zip(outer["turns"].as_array().unwrap())
    {
        if w["transport"] != "web_socket" {
            continue; // an HTTP entry keeps its SSE as one body: TTFT there is time to first byte
        }
        for key in ["created", "ttft", "total"] {
            let (a, b) = (
                w["latency_us"][key].as_i64().unwrap(),
                g["latency_us"][key].as_i64().unwrap(),
            );
            assert!(
                b >= a - 1_000 && b <= a + 1_000 + 300_000,
                "turn {} {key}: turnscope {a} µs, mitmproxy HAR {b} µs",
                w["index"]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_tool_loop_through_mitmdump_and_turnscope_gives_the_same_stats() {
    let mitmdump = mitmproxy::tool("mitmdump");
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("turnscope.tsjsonl");
    let har = dir.path().join("mitmproxy.har");
    let mut px = proxy(&emu.base_url(), &transcript, Breakpoints::default()).await;
    let mut mitm = tokio::process::Command::new(&mitmdump)
        .arg("--mode")
        .arg(format!("reverse:http://{}", px.addr()))
        .args(["--listen-host", "127.0.0.1", "--listen-port", "0", "--set"])
        .arg(format!("hardump={}", har.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start mitmdump");
    // mitmdump prints the port it bound: "reverse proxy to … listening at 127.0.0.1:PORT."
    let mut lines = BufReader::new(mitm.stdout.take().unwrap()).lines();
    let listen = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.split("listening at ").nth(1) {
                return at.trim_end_matches('.').to_owned();
            }
        }
        panic!("mitmdump exited before listening");
    })
    .await
    .expect("mitmdump did not start listening within 60 s");

    sdk_venv::run_through(
        "proxy_tool_loop.py",
        &format!("http://{listen}/v1"),
        &format!("ws://{listen}/v1"),
        KEY,
    )
    .await;
    Collector::new()
        .until(&mut px, "both connections to close", |c| {
            c.closed(0).is_some() && c.closed(1).is_some()
        })
        .await;
    // mitmdump writes the HAR when it shuts down (its `done` hook); SIGTERM asks for that.
    let pid = mitm.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(60), mitm.wait())
        .await
        .expect("mitmdump did not stop within 60 s")
        .unwrap();
    assert!(har.exists(), "mitmdump ({status}) wrote no HAR");
    px.shutdown().await;
    emu.shutdown().await;

    let raw = std::fs::read_to_string(&har).unwrap();
    assert!(
        raw.contains("\"_webSocketMessages\""),
        "mitmproxy's HAR has no WebSocket messages"
    );
    assert!(
        raw.contains("\"name\": \"mitmproxy\""),
        "not written by mitmproxy"
    );
    let ours = stats(&transcript);
    let theirs = stats(&har);
    assert_eq!(theirs["source"], "har");
    assert_eq!(
        theirs["har"]["summary"]["websocket"], 1,
        "{}",
        theirs["har"]
    );
    assert_eq!(theirs["har"]["summary"]["http"], 1, "{}", theirs["har"]);
    let turns = ours["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 5, "4 WebSocket turns and 1 HTTP turn");
    assert!(
        turns[1..4]
            .iter()
            .all(|t| t["insight"]["mode"]["kind"] == "incremental")
    );
    assert_eq!(ours["client"]["id"], "openai-python");
    assert_same_session(&ours, &theirs, "mitmproxy HAR vs turnscope transcript");
    assert_close_timings(&ours, &theirs);

    // turnscope → HAR → mitmproxy and back into turnscope.
    let exported = dir.path().join("exported.har");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("export")
        .arg("--har")
        .arg(&exported)
        .arg(&transcript)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_same_session(&ours, &stats(&exported), "turnscope HAR read back");
    let read = std::process::Command::new(&mitmdump)
        .args(["-n", "-q", "-r"])
        .arg(&exported)
        .arg("-s")
        .arg(sdk_venv::root().join("tests/sdk/mitm_flows.py"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success() && !shown.contains("Traceback"),
        "mitmdump -r failed: {shown}\n{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let flows: Vec<Value> = shown
        .lines()
        .filter_map(|l| l.strip_prefix("FLOW "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(flows.len(), 2, "{shown}");
    // The WebSocket entry comes back as its handshake only: mitmproxy 11.0.2's HAR import
    // (mitmproxy/io/har.py, request_to_flow) reads request, response and timings, never
    // `_resourceType` or `_webSocketMessages`.
    let ws = flows
        .iter()
        .find(|f| f["status"] == 101)
        .expect("no 101 flow");
    assert_eq!(ws["method"], "GET");
    assert!(
        ws["url"].as_str().unwrap().ends_with("/v1/responses"),
        "{ws}"
    );
    assert!(ws["websocket_messages"].is_null(), "{ws}");
    // The HTTP-mode turn comes back whole: its request body and its SSE stream.
    let post = flows
        .iter()
        .find(|f| f["method"] == "POST")
        .expect("no POST flow");
    assert_eq!(post["status"], 200);
    let http = turns.iter().find(|t| t["transport"] == "http").unwrap();
    assert_eq!(post["request_body"], http["incremental"]["bytes"], "{post}");
    assert!(post["response_body"].as_u64().unwrap() > 1_000, "{post}");
    assert!(
        !std::fs::read_to_string(&exported)
            .unwrap()
            .contains("SECRET0123456789")
    );
}
