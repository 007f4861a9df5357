//! Steering and failed continuations over real sockets: accepted (steered → successor),
//! pending (waiting for tool output), failed; a failed continuation evicts its parent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ws_client.rs"]
mod ws_client;

use serde_json::{Value, json};
use turnscope::emulator::{self, EmulatorConfig, RunningEmulator};
use ws_client::{Client, check_stream, connect, create, is_terminal, slow};

const TOOL: &str =
    r#"{"type":"function","name":"get_time","parameters":{"type":"object","properties":{}}}"#;

fn steer(id: &Value, text: &str) -> Value {
    json!({"type": "response.steer", "previous_response_id": id, "input": text})
}

/// An emulator that takes 400 ms to the first token (time to steer a running response), and a
/// client connected to it.
async fn slow_emulator() -> (RunningEmulator, Client) {
    let emu = emulator::start(EmulatorConfig {
        latency: slow(400.0, 0.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = connect(&emu.ws_url()).await;
    (emu, c)
}

#[tokio::test]
async fn accepted_steering_stops_the_response_and_starts_a_successor() {
    let (emu, mut c) = slow_emulator().await;
    let mut req = create(json!("write a long essay"));
    req["stream_id"] = json!("main");
    c.send(&req).await;
    let created = c.recv().await;
    assert_eq!(created["type"], "response.created");
    let id = created["response"]["id"].clone();
    c.send(&steer(&id, "actually, just say hi")).await;
    let mut events = vec![created];
    events.extend(c.recv_until(is_terminal).await);
    let accepted = events
        .iter()
        .find(|e| e["type"] == "response.steer.accepted")
        .unwrap();
    assert_eq!(accepted["steer"]["previous_response_id"], id);
    assert!(
        accepted["steer"]["id"]
            .as_str()
            .unwrap()
            .starts_with("steer_")
    );
    assert_eq!(accepted["stream_id"], "main");
    let done = events.last().unwrap();
    assert_eq!(done["type"], "response.incomplete");
    assert_eq!(done["response"]["incomplete_details"]["reason"], "steered");
    // The successor's response.created is the commit point.
    let succ = c.recv_until(is_terminal).await;
    let succ: Vec<Value> = succ
        .into_iter()
        .filter(|e| e["type"] != "response.steer.accepted")
        .collect();
    check_stream(&succ);
    assert_eq!(succ[0]["response"]["previous_response_id"], id);
    assert_eq!(succ[0]["stream_id"], "main");
    let last = succ.last().unwrap();
    assert_eq!(last["type"], "response.completed");
    let text = last["response"]["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("You said: \"actually, just say hi\""),
        "{text}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn steering_a_response_that_waits_for_tool_output_is_pending() {
    let (emu, mut c) = slow_emulator().await;
    let mut req = create(json!("what time is it? use get_time"));
    req["tools"] = json!([serde_json::from_str::<Value>(TOOL).unwrap()]);
    c.send(&req).await;
    let created = c.recv().await;
    let id = created["response"]["id"].clone();
    c.send(&steer(&id, "and use UTC")).await;
    let events = c.recv_until(is_terminal).await;
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.steer.accepted")
    );
    let done = events.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    let call = done["response"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap()
        .clone();
    let pending = c.recv().await;
    assert_eq!(pending["type"], "response.steer.pending", "{pending}");
    assert_eq!(pending["reason"], "waiting_for_required_input");
    assert_eq!(pending["steer"]["previous_response_id"], id);
    assert_eq!(
        pending["required_input"],
        json!([{"type": "function_call_output", "call_id": call["call_id"], "name": "get_time"}])
    );
    // The explicit continuation gets the queued steering input prepended.
    let mut next = create(
        json!([{"type": "function_call_output", "call_id": call["call_id"], "output": "12:00"}]),
    );
    next["previous_response_id"] = id.clone();
    let out = c.turn(&next).await;
    let last = out.last().unwrap();
    let text = last["response"]["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.starts_with("Received 2 input items"), "{text}");
    assert!(text.contains("and use UTC"), "{text}");
    emu.shutdown().await;
}

#[tokio::test]
async fn steering_failures() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    c.send(&steer(&json!("resp_nope"), "hi")).await;
    let f = c.recv().await;
    assert_eq!(f["type"], "response.steer.failed");
    assert_eq!(f["error"]["code"], "response_not_found");
    assert_eq!(f["error"]["type"], "invalid_request_error");
    assert_eq!(f["steer"]["input"], "hi");
    assert!(f["steer"].get("id").is_none(), "no id before acceptance");
    let done = c.turn(&create(json!("hi"))).await;
    let id = done.last().unwrap()["response"]["id"].clone();
    c.send(&steer(&id, "late")).await;
    assert_eq!(
        c.recv().await["error"]["code"],
        "response_already_completed"
    );
    c.send(&json!({"type": "response.steer", "previous_response_id": id, "input": [{"type": "message", "role": "assistant", "content": "x"}]})).await;
    let f = c.recv().await;
    assert_eq!(f["type"], "response.steer.failed");
    assert_eq!(f["error"]["code"], "invalid_input");
    c.send(&json!({"type": "response.steer", "input": "x"}))
        .await;
    let e = c.recv().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["param"], "previous_response_id");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_failed_continuation_evicts_its_parent() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let done = c.turn(&create(json!("hi"))).await;
    let id = done.last().unwrap()["response"]["id"].clone();
    // A continuation that fails with a 400 (an output for a call that never happened)…
    let mut bad =
        create(json!([{"type": "function_call_output", "call_id": "call_missing", "output": "x"}]));
    bad["previous_response_id"] = id.clone();
    let e = c.turn(&bad).await;
    let e = e.last().unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["param"], "input[0].call_id");
    // …evicts the parent: continuing it again is previous_response_not_found.
    let mut again = create(json!("hi again"));
    again["previous_response_id"] = id.clone();
    let e = c.turn(&again).await;
    assert_eq!(
        e.last().unwrap()["error"]["code"],
        "previous_response_not_found"
    );

    // Same for a request that fails validation.
    let done = c.turn(&create(json!("hi"))).await;
    let id = done.last().unwrap()["response"]["id"].clone();
    let mut bad = create(json!("x"));
    bad["previous_response_id"] = id.clone();
    bad["store"] = json!("no");
    assert_eq!(
        c.turn(&bad).await.last().unwrap()["error"]["param"],
        "store"
    );
    let mut again = create(json!("hi again"));
    again["previous_response_id"] = id;
    assert_eq!(
        c.turn(&again).await.last().unwrap()["error"]["code"],
        "previous_response_not_found"
    );
    emu.shutdown().await;
}
