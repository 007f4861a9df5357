//! The emulator answers like the real server, over real sockets: the 60-minute limit's error
//! event and what it does to a running response, per-response `sequence_number`s on WebSocket
//! and HTTP, `x-request-id`, the plain-GET error, and request validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ws_client.rs"]
mod ws_client;

use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use turnscope::emulator::{self, AgeLimitInFlight, EmulatorConfig};
use turnscope::protocol::SseParser;
use ws_client::{Client, connect, create, is_terminal, slow};

const AGE_MESSAGE: &str = "Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue.";

/// Every text event until the close frame, then the close frame's code and reason.
async fn until_close(c: &mut Client) -> (Vec<Value>, u16, String) {
    let mut events = Vec::new();
    loop {
        match c.next_message().await {
            Some(Message::Text(t)) => events.push(serde_json::from_str(t.as_str()).unwrap()),
            Some(Message::Close(Some(f))) => {
                return (events, u16::from(f.code), f.reason.as_str().to_owned());
            }
            Some(Message::Ping(_) | Message::Pong(_)) => {}
            other => panic!("expected text or close, got {other:?}"),
        }
    }
}

fn age_error(e: &Value) {
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["status"], 400);
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["code"], emulator::AGE_LIMIT_CODE);
    assert_eq!(e["error"]["message"], AGE_MESSAGE);
    assert!(e.get("sequence_number").is_none(), "{e}");
}

async fn aged(policy: AgeLimitInFlight) -> (Vec<Value>, u16, String) {
    // A response that takes ~1.2 s to stream, on a connection that ages after 300 ms.
    let emu = emulator::start(EmulatorConfig {
        max_connection_age: Duration::from_millis(300),
        age_limit_inflight: policy,
        latency: slow(0.0, 40.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    c.send(&create(json!(
        "a question that takes a while to answer in full"
    )))
    .await;
    let got = until_close(&mut c).await;
    emu.shutdown().await;
    got
}

#[tokio::test]
async fn age_limit_finish_lets_the_running_response_end_then_errors_and_closes() {
    let (events, code, reason) = aged(AgeLimitInFlight::Finish).await;
    let n = events.len();
    assert!(n >= 3, "{events:?}");
    assert_eq!(events[n - 2]["type"], "response.completed", "{events:?}");
    age_error(&events[n - 1]);
    assert_eq!(
        (code, reason.as_str()),
        (emulator::MAX_AGE_CLOSE_CODE, emulator::AGE_LIMIT_CODE)
    );
}

#[tokio::test]
async fn age_limit_cut_stops_the_running_response_then_errors_and_closes() {
    let (events, code, _) = aged(AgeLimitInFlight::Cut).await;
    assert!(
        !events.iter().any(is_terminal),
        "cut: no terminal event: {events:?}"
    );
    assert_eq!(events[0]["type"], "response.created");
    age_error(events.last().unwrap());
    assert_eq!(code, emulator::MAX_AGE_CLOSE_CODE);
}

#[tokio::test]
async fn requests_after_the_age_limit_get_the_error_while_a_lane_drains() {
    let emu = emulator::start(EmulatorConfig {
        max_connection_age: Duration::from_millis(300),
        latency: slow(0.0, 40.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let mut slow_one = create(json!("a question that takes a while to answer in full"));
    slow_one["stream_id"] = json!("long");
    c.send(&slow_one).await;
    // Wait for the first delta, then past the deadline, then ask on another lane.
    c.recv_until(|e| e["type"] == "response.output_text.delta")
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut late = create(json!("late"));
    late["stream_id"] = json!("late");
    c.send(&late).await;
    let (events, _, _) = until_close(&mut c).await;
    let refused = events
        .iter()
        .find(|e| e["stream_id"] == "late")
        .expect("the late request is answered");
    age_error(&{
        let mut e = refused.clone();
        e.as_object_mut().unwrap().remove("stream_id");
        e
    });
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.completed" && e["stream_id"] == "long")
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn sequence_numbers_count_per_response_on_both_transports() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    for _ in 0..2 {
        let out = c.turn(&create(json!("hello"))).await;
        let seqs: Vec<u64> = out
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..out.len() as u64).collect::<Vec<_>>());
    }
    // A request error is no response's event: no sequence_number.
    let mut bad = create(json!("x"));
    bad["previous_response_id"] = json!("resp_nope");
    let out = c.turn(&bad).await;
    assert_eq!(out.len(), 1);
    assert!(out[0].get("sequence_number").is_none(), "{}", out[0]);
    // HTTP SSE: the same, from 0.
    let resp = reqwest::Client::new()
        .post(format!("{}/responses", emu.base_url()))
        .bearer_auth("k")
        .json(&json!({"model": "gpt-4.1-mini", "input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let seqs: Vec<u64> = SseParser::parse_all(&text)
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(&e.data).unwrap()["sequence_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    emu.shutdown().await;
}

#[tokio::test]
async fn replies_carry_x_request_id_and_a_plain_get_gets_a_json_error() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/responses", emu.base_url());
    let get = http.get(&url).bearer_auth("k").send().await.unwrap();
    assert_eq!(get.status(), 405);
    let id = get.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.starts_with("req_") && id.len() == 36, "{id}");
    let body: Value = get.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "Invalid method for URL (GET /v1/responses)",
            "type": "invalid_request_error", "param": null, "code": null}})
    );
    let post = http
        .post(&url)
        .bearer_auth("k")
        .json(&json!({"model": "gpt-4.1-mini", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert!(post.headers().contains_key("x-request-id"));
    let missing = http
        .get(format!("{}/nowhere", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    // The upgrade reply too.
    let req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        emu.ws_url(),
    )
    .map(|mut r| {
        r.headers_mut()
            .insert("authorization", "Bearer k".parse().unwrap());
        r
    })
    .unwrap();
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert!(resp.headers().contains_key("x-request-id"));
    emu.shutdown().await;
}

#[tokio::test]
async fn cached_tokens_follow_prompt_caching_on_both_transports() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let long = "a long and repeated system context line. ".repeat(200);
    let mut c = connect(&emu.ws_url()).await;
    let first = c.turn(&create(json!(long.clone()))).await;
    let done = first.last().unwrap();
    let n = done["response"]["usage"]["input_tokens"].as_u64().unwrap();
    assert!(n >= 1024, "{n}");
    assert_eq!(
        done["response"]["usage"]["input_tokens_details"]["cached_tokens"],
        0
    );
    // HTTP, same prompt: the prompt cache (not the connection) serves the prefix.
    let body: Value = reqwest::Client::new()
        .post(format!("{}/responses", emu.base_url()))
        .bearer_auth("k")
        .json(&json!({"model": "gpt-4.1-mini", "input": long, "store": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let http_cached = body["usage"]["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert_eq!(http_cached, n / 128 * 128);
    // WebSocket continuation: the same rule, the same figure for the same prefix.
    let mut next = create(json!("and one more thing"));
    next["previous_response_id"] = done["response"]["id"].clone();
    let second = c.turn(&next).await;
    let usage = &second.last().unwrap()["response"]["usage"];
    assert_eq!(
        usage["input_tokens_details"]["cached_tokens"],
        json!(http_cached),
        "{usage}"
    );
    emu.shutdown().await;
}
