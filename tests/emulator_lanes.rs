//! Lanes and limits over real sockets: stream_id validation, FIFO per lane, interleaving
//! across lanes, 16 active → response.queued, 32 lanes, connections per key, max age.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ws_client.rs"]
mod ws_client;

use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use turnscope::emulator::{self, EmulatorConfig, MAX_AGE_CLOSE_CODE};
use ws_client::{check_stream, connect, connect_with, create, is_terminal, lane_events, slow};

fn on_lane(input: &str, lane: &str) -> Value {
    let mut r = create(json!(input));
    r["stream_id"] = json!(lane);
    r
}

#[tokio::test]
async fn invalid_stream_id_is_rejected_and_the_connection_stays_usable() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    for bad in ["has space", "", &"x".repeat(257), "semi;colon"] {
        let e = c.turn(&on_lane("hi", bad)).await;
        let e = e.last().unwrap();
        assert_eq!(e["type"], "error");
        assert_eq!(e["error"]["code"], "invalid_stream_id", "{bad:?}");
        assert_eq!(e["error"]["param"], "stream_id");
    }
    let ok = c.turn(&on_lane("hi", "lane.ok-1_A")).await;
    check_stream(&ok);
    assert!(
        ok.iter().all(|e| e["stream_id"] == "lane.ok-1_A"),
        "stream_id echoed on every event"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn one_lane_is_fifo_and_lanes_interleave() {
    let emu = emulator::start(EmulatorConfig {
        latency: slow(150.0, 0.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    for i in 0..3 {
        c.send(&on_lane(&format!("a{i}"), "a")).await;
    }
    c.send(&on_lane("b0", "b")).await;
    let mut all = Vec::new();
    let mut terminals = 0;
    while terminals < 4 {
        let v = c.recv().await;
        if is_terminal(&v) {
            terminals += 1;
        }
        all.push(v);
    }
    // Lane a: three complete responses, one after another, in the order sent.
    let a = lane_events(&all, Some("a"));
    let mut order = Vec::new();
    let mut open: Option<String> = None;
    for e in &a {
        let id = e["response"]["id"].as_str().or(e["item_id"].as_str());
        if e["type"] == "response.created" {
            assert!(
                open.is_none(),
                "lane a started a response before the previous one ended"
            );
            open = e["response"]["id"].as_str().map(str::to_owned);
        }
        if is_terminal(e) {
            assert_eq!(open.as_deref(), id);
            let text = e["response"]["output"][0]["content"][0]["text"]
                .as_str()
                .unwrap()
                .to_owned();
            order.push(text);
            open = None;
        }
    }
    assert_eq!(order.len(), 3);
    for (i, t) in order.iter().enumerate() {
        assert!(t.contains(&format!("You said: \"a{i}\"")), "{t}");
    }
    // Lane b was not blocked behind lane a: it started before a's first response ended.
    let b_created = all
        .iter()
        .position(|e| e["stream_id"] == "b" && e["type"] == "response.created")
        .unwrap();
    let a_first_done = all
        .iter()
        .position(|e| e["stream_id"] == "a" && is_terminal(e))
        .unwrap();
    assert!(b_created < a_first_done, "lanes interleave");
    emu.shutdown().await;
}

#[tokio::test]
async fn over_16_active_responses_are_queued() {
    let emu = emulator::start(EmulatorConfig {
        latency: slow(800.0, 0.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    for i in 0..17 {
        c.send(&on_lane("hi", &format!("l{i}"))).await;
    }
    let mut all = Vec::new();
    let mut terminals = 0;
    while terminals < 17 {
        let v = c.recv().await;
        if is_terminal(&v) {
            terminals += 1;
            assert_eq!(v["type"], "response.completed");
        }
        all.push(v);
    }
    let queued: Vec<&Value> = all
        .iter()
        .filter(|e| e["type"] == "response.queued")
        .collect();
    assert_eq!(queued.len(), 1, "exactly one of 17 waits for a slot");
    assert_eq!(queued[0]["response"]["status"], "queued");
    let lane = queued[0]["stream_id"].as_str().unwrap();
    let events: Vec<Value> = lane_events(&all, Some(lane)).into_iter().cloned().collect();
    check_stream(&events);
    assert_eq!(events[0]["response"]["status"], "queued");
    assert_eq!(events[1]["type"], "response.queued");
    assert_eq!(events[2]["type"], "response.in_progress");
    emu.shutdown().await;
}

#[tokio::test]
async fn more_than_32_lanes_hit_the_stream_limit() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    for i in 0..32 {
        let out = c.turn(&on_lane("hi", &format!("lane{i}"))).await;
        assert_eq!(out.last().unwrap()["type"], "response.completed");
    }
    let out = c.turn(&on_lane("hi", "lane32")).await;
    let e = out.last().unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["code"], "websocket_stream_limit_reached");
    assert_eq!(e["stream_id"], "lane32");
    // Existing lanes and the default lane still work.
    let out = c.turn(&on_lane("hi", "lane7")).await;
    assert_eq!(out.last().unwrap()["type"], "response.completed");
    let out = c.turn(&create(json!("hi"))).await;
    assert_eq!(out.last().unwrap()["type"], "response.completed");
    emu.shutdown().await;
}

#[tokio::test]
async fn connections_per_key_are_capped() {
    let emu = emulator::start(EmulatorConfig {
        max_connections_per_key: Some(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut a = connect(&emu.ws_url()).await;
    let _b = connect(&emu.ws_url()).await;
    // The third upgrade is refused with its own code: the age limit's code means "rotate",
    // which would make a client retry into the cap forever.
    match connect_with(&emu.ws_url(), &[("authorization", "Bearer test-key")]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            assert!(resp.headers().contains_key("x-request-id"));
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], emulator::CONNECTION_CAP_CODE);
            assert_ne!(body["error"]["code"], emulator::AGE_LIMIT_CODE);
            assert_eq!(body["error"]["type"], "invalid_request_error");
        }
        other => panic!("expected HTTP 429, got {:?}", other.map(|_| ())),
    }
    // Another key is counted separately; the first connections keep working.
    let mut other = connect_with(&emu.ws_url(), &[("authorization", "Bearer other-key")])
        .await
        .unwrap();
    assert_eq!(
        other.turn(&create(json!("hi"))).await.last().unwrap()["type"],
        "response.completed"
    );
    assert_eq!(
        a.turn(&create(json!("hi"))).await.last().unwrap()["type"],
        "response.completed"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn connections_close_at_max_age_and_lose_their_cache() {
    let emu = emulator::start(EmulatorConfig {
        max_connection_age: Duration::from_millis(1500),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let out = c.turn(&create(json!("hi"))).await;
    let id = out.last().unwrap()["response"]["id"].clone();
    // The real server's error event first (no sequence_number: it is no response's event) …
    let e = c.recv().await;
    assert_eq!(
        e,
        json!({"type": "error", "status": 400, "error": {"type": "invalid_request_error",
            "code": "websocket_connection_limit_reached", "param": null,
            "message": "Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue."}})
    );
    // … then the close.
    match c.next_message().await {
        Some(Message::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), MAX_AGE_CLOSE_CODE);
            assert_eq!(frame.reason.as_str(), emulator::AGE_LIMIT_CODE);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    let mut fresh = connect(&emu.ws_url()).await;
    let mut next = create(json!("more"));
    next["previous_response_id"] = id;
    let e = fresh.turn(&next).await;
    assert_eq!(
        e.last().unwrap()["error"]["code"],
        "previous_response_not_found"
    );
    emu.shutdown().await;
}
