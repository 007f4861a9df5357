//! Bad input, fault injection and timing events over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ws_client.rs"]
mod ws_client;

use std::path::Path;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use turnscope::emulator::{self, EmulatorConfig, FaultPlan, Scenario};
use ws_client::{check_stream, connect, connect_with, create, is_terminal};

#[tokio::test]
async fn bad_input_gets_api_errors_and_the_connection_stays_usable() {
    let emu = emulator::start(EmulatorConfig {
        max_message_bytes: 64 * 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let cases: Vec<(String, Option<&str>)> = vec![
        ("not json".into(), None),
        ("[1,2]".into(), None),
        (r#"{"no":"type"}"#.into(), Some("type")),
        (r#"{"type":"response.frobnicate"}"#.into(), Some("type")),
        (
            r#"{"type":"response.create","input":"hi"}"#.into(),
            Some("model"),
        ),
        (
            r#"{"type":"response.create","model":"gpt-4.1-mini","store":"yes"}"#.into(),
            Some("store"),
        ),
        (
            r#"{"type":"response.create","model":"gpt-4.1-mini","input":5}"#.into(),
            Some("input"),
        ),
        (
            r#"{"type":"response.create","model":"gpt-4.1-mini","tools":{}}"#.into(),
            Some("tools"),
        ),
        (
            r#"{"type":"response.create","model":"gpt-4.1-mini","input":[{"type":"message","content":"x"}]}"#
                .into(),
            Some("input[0].role"),
        ),
        (
            r#"{"type":"response.create","model":"gpt-4.1-mini","background":true}"#.into(),
            Some("background"),
        ),
        (
            json!({"type":"response.create","model":"gpt-4.1-mini","input":"x".repeat(100_000)}).to_string(),
            None,
        ),
    ];
    for (text, param) in &cases {
        c.send_text(text).await;
        let e = c.recv().await;
        assert_eq!(e["type"], "error", "{text:.80}");
        assert_eq!(e["error"]["type"], "invalid_request_error");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(e["error"]["param"].as_str(), *param, "{text:.80} → {e}");
        assert_eq!(e["status"], 400);
    }
    c.ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    let e = c.recv().await;
    assert_eq!(e["type"], "error");
    assert!(e["error"]["message"].as_str().unwrap().contains("Binary"));
    let ok = c.turn(&create(json!("still there?"))).await;
    check_stream(&ok);
    assert_eq!(ok.last().unwrap()["type"], "response.completed");
    emu.shutdown().await;
}

#[tokio::test]
async fn timing_events_only_when_asked() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect_with(
        &emu.ws_url(),
        &[
            ("authorization", "Bearer k"),
            ("x-responsesapi-include-timing-metrics", "true"),
        ],
    )
    .await
    .unwrap();
    let out = c.turn(&create(json!("hi"))).await;
    let id = out.last().unwrap()["response"]["id"].clone();
    let t = c.recv().await;
    assert_eq!(t["type"], "responsesapi.websocket_timing");
    assert_eq!(t["response_id"], id);
    assert!(t["timing_metrics"]["total_ms"].as_f64().unwrap() >= 0.0);
    let mut plain = connect(&emu.ws_url()).await;
    plain.turn(&create(json!("hi"))).await;
    let next = plain.turn(&create(json!("again"))).await;
    assert_eq!(
        next[0]["type"], "response.created",
        "no timing event without the header"
    );
    emu.shutdown().await;
}

async fn faulty(faults: FaultPlan) -> (emulator::RunningEmulator, ws_client::Client) {
    let emu = emulator::start(EmulatorConfig {
        faults,
        oversized_frame_bytes: 2 * 1024 * 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = connect(&emu.ws_url()).await;
    (emu, c)
}

#[tokio::test]
async fn fault_drop_cuts_the_tcp_connection_without_a_close_frame() {
    let (emu, mut c) = faulty(FaultPlan {
        drop_after: Some(3),
        ..Default::default()
    })
    .await;
    c.send(&create(json!("hi"))).await;
    for _ in 0..3 {
        c.recv().await;
    }
    let next = tokio::time::timeout(ws_client::WAIT, futures_util::StreamExt::next(&mut c.ws))
        .await
        .unwrap();
    match next {
        None | Some(Err(_)) => {}
        other => panic!("expected the connection to be cut, got {other:?}"),
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn fault_stall_stops_sending() {
    let (emu, mut c) = faulty(FaultPlan {
        stall_after: Some(2),
        ..Default::default()
    })
    .await;
    c.send(&create(json!("hi"))).await;
    c.recv().await;
    c.recv().await;
    let silent = tokio::time::timeout(
        Duration::from_millis(300),
        futures_util::StreamExt::next(&mut c.ws),
    )
    .await;
    assert!(silent.is_err(), "nothing after the stall point");
    emu.shutdown().await;
}

#[tokio::test]
async fn fault_malformed_and_oversized_frames() {
    let (emu, mut c) = faulty(FaultPlan {
        malformed_after: Some(1),
        oversized_after: Some(2),
        ..Default::default()
    })
    .await;
    c.send(&create(json!("hi"))).await;
    assert_eq!(c.recv().await["type"], "response.created");
    match c.next_message().await {
        Some(Message::Text(t)) => {
            assert!(serde_json::from_str::<serde_json::Value>(t.as_str()).is_err())
        }
        other => panic!("expected a malformed text frame, got {other:?}"),
    }
    c.recv().await; // in_progress (the 2nd event)
    match c.next_message().await {
        Some(Message::Text(t)) => assert!(t.len() >= 2 * 1024 * 1024),
        other => panic!("expected an oversized frame, got {other:?}"),
    }
    let rest = c.recv_until(is_terminal).await;
    assert_eq!(rest.last().unwrap()["type"], "response.completed");
    emu.shutdown().await;
}

#[tokio::test]
async fn scenario_faults_drop_and_fail() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&root.join("tests/scenarios/faults.toml")).unwrap();
    let emu = emulator::start(EmulatorConfig {
        scenario: Some(scenario.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let first = c.turn(&create(json!(scenario.user_input()))).await;
    let done = first.last().unwrap();
    let outputs = scenario
        .next_input(done["response"]["output"].as_array().unwrap())
        .unwrap();
    assert_eq!(outputs[0]["output"].as_str().unwrap().len(), 2048);
    let mut next = create(json!(outputs));
    next["previous_response_id"] = done["response"]["id"].clone();
    c.send(&next).await;
    // Turn 2 drops the connection after 4 events of its response.
    for _ in 0..4 {
        c.recv().await;
    }
    let cut = tokio::time::timeout(ws_client::WAIT, futures_util::StreamExt::next(&mut c.ws))
        .await
        .unwrap();
    assert!(matches!(cut, None | Some(Err(_))), "{cut:?}");
    // On a fresh connection, resend the whole context: turn 3 fails as scripted.
    let mut c = connect(&emu.ws_url()).await;
    let mut context = scenario.first_input();
    context.extend(
        done["response"]["output"]
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    context.extend(outputs);
    let call_id = Scenario::call_id(1, 0);
    context.push(
        json!({"type": "function_call", "call_id": call_id, "name": "do_thing", "arguments": "{}"}),
    );
    context.push(json!({"type": "function_call_output", "call_id": call_id, "output": "done"}));
    let failed = c.turn(&create(json!(context))).await;
    check_stream(&failed);
    let f = failed.last().unwrap();
    assert_eq!(f["type"], "response.failed");
    assert_eq!(f["response"]["error"]["code"], "server_error");
    emu.shutdown().await;
}
