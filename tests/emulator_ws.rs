//! WebSocket mode of the emulator over real sockets: chaining, cache, store, warm-up, auth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ws_client.rs"]
mod ws_client;

use serde_json::json;
use turnscope::emulator::{self, EmulatorConfig};
use ws_client::{check_stream, connect, connect_with, create, terminal};

#[tokio::test]
async fn chained_turns_continue_from_the_connection_cache_without_inventing_cached_tokens() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let first = c.turn(&create(json!("hello there"))).await;
    check_stream(&first);
    let done = terminal(&first);
    assert_eq!(done["type"], "response.completed");
    let id = done["response"]["id"].as_str().unwrap().to_owned();
    let usage = &done["response"]["usage"];
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 0);
    let text = done["response"]["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("Received 1 input item"), "{text}");
    let deltas = first
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .count();
    assert!(deltas >= 2, "text streams as several deltas");

    let mut next = create(json!("and again"));
    next["previous_response_id"] = json!(id);
    let second = c.turn(&next).await;
    check_stream(&second);
    let done2 = terminal(&second);
    assert_eq!(done2["response"]["previous_response_id"], json!(id));
    // The connection cache continued the chain, but cached_tokens is prompt caching, which
    // needs a repeated prefix of 1024 tokens: this short chain has none.
    let u2 = &done2["response"]["usage"];
    assert_eq!(u2["input_tokens_details"]["cached_tokens"], 0, "{u2}");
    assert!(
        u2["input_tokens"].as_u64().unwrap() > usage["input_tokens"].as_u64().unwrap(),
        "the whole chain is input: {u2}"
    );
    let text2 = done2["response"]["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text2.contains(&id),
        "persona states previous_response_id: {text2}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn store_false_unknown_id_is_not_found_on_a_new_connection() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut a = connect(&emu.ws_url()).await;
    let done = a.turn(&create(json!("hi"))).await;
    let id = terminal(&done)["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = connect(&emu.ws_url()).await;
    let mut next = create(json!("more"));
    next["previous_response_id"] = json!(id);
    let err = b.turn(&next).await;
    let e = terminal(&err);
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert_eq!(e["error"]["param"], "previous_response_id");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    // The connection stays usable.
    let ok = b.turn(&create(json!("fresh"))).await;
    assert_eq!(terminal(&ok)["type"], "response.completed");
    emu.shutdown().await;
}

#[tokio::test]
async fn store_true_responses_load_on_another_connection() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut a = connect(&emu.ws_url()).await;
    let mut req = create(json!("remember this"));
    req["store"] = json!(true);
    let done = a.turn(&req).await;
    let id = terminal(&done)["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(a);
    let mut b = connect(&emu.ws_url()).await;
    let mut next = create(json!("continue"));
    next["previous_response_id"] = json!(id);
    let out = b.turn(&next).await;
    let t = terminal(&out);
    assert_eq!(t["type"], "response.completed", "{t}");
    // Loaded from the store, not the connection cache: nothing counted as cached.
    assert_eq!(
        t["response"]["usage"]["input_tokens_details"]["cached_tokens"],
        0
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn generate_false_warms_up_without_output() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let mut warm = create(
        json!([{"type":"message","role":"developer","content":"long base prompt ".repeat(400)}]),
    );
    warm["generate"] = json!(false);
    let out = c.turn(&warm).await;
    check_stream(&out);
    let t = terminal(&out);
    assert_eq!(t["type"], "response.completed");
    assert_eq!(t["response"]["output"], json!([]));
    assert_eq!(t["response"]["usage"]["output_tokens"], 0);
    assert!(
        !out.iter()
            .any(|e| e["type"] == "response.output_item.added")
    );
    let warm_tokens = t["response"]["usage"]["input_tokens"].as_u64().unwrap();
    let mut next = create(json!("now answer"));
    next["previous_response_id"] = t["response"]["id"].clone();
    let out = c.turn(&next).await;
    let t = terminal(&out);
    assert_eq!(t["type"], "response.completed");
    let cached = t["response"]["usage"]["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    // The warm-up primed the prompt cache: its whole prompt (over 1024 tokens) is the next
    // request's prefix, counted in 128-token steps.
    assert!(warm_tokens >= 1024, "{warm_tokens}");
    assert_eq!(
        cached,
        warm_tokens / 128 * 128,
        "the warmed context is cached"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn auth_is_required_and_api_key_is_enforced() {
    let emu = emulator::start(EmulatorConfig {
        api_key: Some("sekrit".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let err = connect_with(&emu.ws_url(), &[("authorization", "Bearer wrong")]).await;
    match err {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 401);
            let body: serde_json::Value =
                serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "invalid_api_key");
            assert_eq!(body["error"]["type"], "invalid_request_error");
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    assert!(connect_with(&emu.ws_url(), &[]).await.is_err());
    let mut ok = connect_with(
        &emu.ws_url(),
        &[
            ("authorization", "Bearer sekrit"),
            ("openai-beta", "responses_websockets=2026-02-06"),
            ("x-client-request-id", "abc"),
        ],
    )
    .await
    .unwrap();
    let mut req = create(json!("hi"));
    req["stream"] = json!(true);
    let out = ok.turn(&req).await;
    assert_eq!(terminal(&out)["type"], "response.completed");
    emu.shutdown().await;
}

/// Issue 16 item 9: `turnscope --url` to a local emulator needs no key, and the emulator says
/// what it is so turnscope's client can send the demo tools its persona understands.
#[tokio::test]
async fn no_key_is_accepted_without_api_key_and_the_upgrade_announces_the_emulator() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::connect_async(emu.ws_url())
        .await
        .expect("an emulator without --api-key accepts an upgrade that sends no key");
    assert_eq!(
        response
            .headers()
            .get(turnscope::endpoint::EMULATOR_HEADER)
            .and_then(|v| v.to_str().ok()),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let _ = ws.close(None).await;
    // A keyless client still runs a turn.
    let mut c = connect_with(&emu.ws_url(), &[]).await.unwrap();
    let out = c.turn(&create(json!("hi"))).await;
    assert_eq!(terminal(&out)["type"], "response.completed");
    emu.shutdown().await;
}
