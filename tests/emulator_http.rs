//! HTTP mode over real sockets: SSE and JSON bodies, auth, store and previous_response_id,
//! prompt caching, and the coding-agent scenario in both modes on one server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/drive.rs"]
mod drive;
#[path = "support/ws_client.rs"]
mod ws_client;

use serde_json::{Value, json};
use turnscope::emulator::{self, EmulatorConfig, Scenario};
use turnscope::protocol::SseParser;

async fn post(base: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(format!("{base}/responses"))
        .json(body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r.send().await.unwrap()
}

fn sse_events(text: &str) -> Vec<Value> {
    SseParser::parse_all(text)
        .into_iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(
                Some(v["type"].as_str().unwrap()),
                e.event.as_deref(),
                "event: line matches type"
            );
            v
        })
        .collect()
}

#[tokio::test]
async fn http_json_and_sse() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let base = emu.base_url();
    let resp = post(
        &base,
        Some("k"),
        &json!({"model": "gpt-4.1-mini", "input": "hello"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);

    let resp = post(
        &base,
        Some("k"),
        &json!({"model": "gpt-4.1-mini", "input": "hello", "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&resp.text().await.unwrap());
    ws_client::check_stream(&events);
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["sequence_number"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]));
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    emu.shutdown().await;
}

#[tokio::test]
async fn http_auth_and_errors() {
    let emu = emulator::start(EmulatorConfig {
        api_key: Some("right".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = emu.base_url();
    for key in [None, Some("wrong")] {
        let resp = post(&base, key, &json!({"model": "gpt-4.1-mini", "input": "x"})).await;
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    let resp = post(
        &base,
        Some("right"),
        &json!({"model": "gpt-4.1-mini", "input": "x", "previous_response_id": "resp_unknown"}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "previous_response_not_found");
    assert_eq!(body["error"]["param"], "previous_response_id");
    let resp = post(&base, Some("right"), &json!({"model": 5})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["param"],
        "model"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn http_store_chain_and_retrieve() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let base = emu.base_url();
    let first: Value = post(
        &base,
        Some("k"),
        &json!({"model": "gpt-4.1-mini", "input": "one"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = first["id"].as_str().unwrap();
    let second: Value = post(
        &base,
        Some("k"),
        &json!({"model": "gpt-4.1-mini", "input": "two", "previous_response_id": id}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(second["status"], "completed");
    assert_eq!(second["previous_response_id"], id);
    let got: Value = reqwest::Client::new()
        .get(format!("{base}/responses/{id}"))
        .bearer_auth("k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id);
    // store=false responses are not kept.
    let unstored: Value = post(
        &base,
        Some("k"),
        &json!({"model": "gpt-4.1-mini", "input": "x", "store": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    let resp = post(
        &base,
        Some("k"),
        &json!({"model": "gpt-4.1-mini", "input": "y", "previous_response_id": unstored["id"]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn http_prompt_caching_needs_1024_tokens_and_counts_in_128_steps() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let base = emu.base_url();
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(150);
    let body = |tail: &str| json!({"model": "gpt-4.1-mini", "store": false, "instructions": long, "input": tail});
    let cached = |v: &Value| {
        v["usage"]["input_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
    };
    let a: Value = post(&base, Some("k"), &body("first"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cached(&a), 0, "nothing cached the first time");
    let b: Value = post(&base, Some("k"), &body("second"))
        .await
        .json()
        .await
        .unwrap();
    let c = cached(&b);
    assert!(c >= 1024 && c % 128 == 0, "{c}");
    assert!(c <= b["usage"]["input_tokens"].as_u64().unwrap());
    let short =
        json!({"model": "gpt-4.1-mini", "store": false, "instructions": "short", "input": "x"});
    post(&base, Some("k"), &short).await;
    let again: Value = post(&base, Some("k"), &short).await.json().await.unwrap();
    assert_eq!(
        cached(&again),
        0,
        "prefixes under 1024 tokens are not cached"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn coding_agent_runs_in_both_modes_on_one_server() {
    let scenario = Scenario::builtin("coding-agent").unwrap();
    let emu = emulator::start(EmulatorConfig {
        scenario: Some(scenario.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let ws = drive::run_ws(&emu.ws_url(), &scenario).await;
    let http = drive::run_http(&reqwest::Client::new(), &emu.base_url(), &scenario).await;
    for run in [&ws, &http] {
        assert_eq!(run.calls, 25);
        assert_eq!(run.latencies.len(), 26);
        assert!(run.final_text.contains("clippy pass"), "{}", run.final_text);
    }
    // Same conversation, same input tokens (item ids differ, so not to the token);
    // WebSocket mode sends far fewer bytes.
    assert!(ws.input_tokens.abs_diff(http.input_tokens) * 100 < ws.input_tokens);
    assert!(
        ws.bytes_sent * 5 < http.bytes_sent,
        "{} vs {}",
        ws.bytes_sent,
        http.bytes_sent
    );
    // Both modes: prompt caching finds the repeated prefix once it reaches 1024 tokens,
    // rounded down to 128-token steps; the rule does not depend on the transport, so from
    // the point the conversation's prefix passes 1024 tokens both report hits.
    for run in [&ws, &http] {
        assert!(
            run.cached_per_turn
                .iter()
                .all(|c| *c == 0 || (*c >= 1024 && c.is_multiple_of(128))),
            "{:?}",
            run.cached_per_turn
        );
        assert!(
            run.cached_per_turn[5..].iter().all(|c| *c > 0),
            "{:?}",
            run.cached_per_turn
        );
    }
    // The same conversation: the same cached total within 10 % (item ids differ per run).
    assert!(
        ws.cached_tokens.abs_diff(http.cached_tokens) * 10 < ws.cached_tokens,
        "ws {} vs http {}",
        ws.cached_tokens,
        http.cached_tokens
    );
    emu.shutdown().await;
}

/// Issue 16 item 9: without `--api-key` a request with no key is served, and every answer (an
/// error too) names the emulator in `x-turnscope-emulator`.
#[tokio::test]
async fn http_accepts_no_key_without_api_key_and_announces_the_emulator() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let base = emu.base_url();
    let resp = post(&base, None, &json!({"model": "gpt-4.1-mini", "input": "x"})).await;
    assert_eq!(resp.status(), 200);
    let announced = |r: &reqwest::Response| {
        r.headers()
            .get(turnscope::endpoint::EMULATOR_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(announced(&resp).as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let refused = post(&base, None, &json!({"model": 5})).await;
    assert_eq!(refused.status(), 400);
    assert!(announced(&refused).is_some());
    emu.shutdown().await;
}
