//! Drives a scenario's client side against the emulator, in WebSocket mode (incremental
//! turns by previous_response_id) or HTTP mode (full resend, SSE). Shared by tests and
//! the load benchmark.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use turnscope::emulator::Scenario;
use turnscope::protocol::SseParser;

/// What one run of a scenario measured.
#[derive(Debug, Default, Clone)]
pub struct RunStats {
    /// Per turn: send → terminal event.
    pub latencies: Vec<Duration>,
    pub calls: usize,
    pub bytes_sent: usize,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    /// Per turn cached tokens.
    pub cached_per_turn: Vec<u64>,
    pub final_text: String,
}

fn request(s: &Scenario, input: &[Value]) -> Value {
    let mut r = json!({
        "model": s.model(),
        "store": false,
        "tools": s.tools(),
        "input": input,
    });
    if let Some(i) = s.instructions() {
        r["instructions"] = json!(i);
    }
    r
}

fn account(stats: &mut RunStats, response: &Value) {
    let usage = &response["usage"];
    stats.input_tokens += usage["input_tokens"].as_u64().unwrap_or(0);
    let cached = usage["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    stats.cached_tokens += cached;
    stats.cached_per_turn.push(cached);
}

fn final_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

/// WebSocket mode: one connection, each turn continues by previous_response_id.
pub async fn run_ws(ws_url: &str, s: &Scenario) -> RunStats {
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer bench".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut stats = RunStats::default();
    let mut input = s.first_input();
    let mut prev: Option<Value> = None;
    loop {
        let mut r = request(s, &input);
        r["type"] = json!("response.create");
        if let Some(p) = &prev {
            r["previous_response_id"] = p.clone();
        }
        let text = r.to_string();
        stats.bytes_sent += text.len();
        let start = Instant::now();
        ws.send(Message::Text(text.into())).await.unwrap();
        let done = loop {
            let msg = ws.next().await.expect("connection closed").unwrap();
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            match v["type"].as_str() {
                Some("response.completed") => break v,
                Some("response.failed" | "response.incomplete" | "error") => {
                    panic!("turn failed: {v}")
                }
                _ => {}
            }
        };
        stats.latencies.push(start.elapsed());
        let response = &done["response"];
        account(&mut stats, response);
        prev = Some(response["id"].clone());
        match s.next_input(response["output"].as_array().unwrap()) {
            Some(next) => {
                stats.calls += next.len();
                input = next;
            }
            None => {
                stats.final_text = final_text(response);
                break;
            }
        }
    }
    let _ = ws.close(None).await;
    stats
}

/// HTTP mode: every turn resends the whole context with `stream: true`.
pub async fn run_http(client: &reqwest::Client, base_url: &str, s: &Scenario) -> RunStats {
    let mut stats = RunStats::default();
    let mut context = s.first_input();
    loop {
        let mut r = request(s, &context);
        r["stream"] = json!(true);
        let body = r.to_string();
        stats.bytes_sent += body.len();
        let start = Instant::now();
        let resp = client
            .post(format!("{base_url}/responses"))
            .bearer_auth("bench")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "HTTP {}", resp.status());
        let text = resp.text().await.unwrap();
        stats.latencies.push(start.elapsed());
        let done = SseParser::parse_all(&text)
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.data).unwrap())
            .find(|v| v["type"] == "response.completed")
            .expect("no response.completed in the SSE stream");
        let response = &done["response"];
        account(&mut stats, response);
        let output = response["output"].as_array().unwrap();
        context.extend(output.iter().cloned());
        match s.next_input(output) {
            Some(next) => {
                stats.calls += next.len();
                context.extend(next);
            }
            None => {
                stats.final_text = final_text(response);
                break;
            }
        }
    }
    stats
}
