//! A small tokio-tungstenite client for the emulator's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Message, http::HeaderValue};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Client {
    pub ws: Ws,
    /// The last `sequence_number` seen per lane (`None` = the unnamed lane).
    pub last_seq: HashMap<Option<String>, u64>,
}

pub async fn connect_with(
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    Ok(Client {
        ws,
        last_seq: HashMap::new(),
    })
}

pub async fn connect(url: &str) -> Client {
    connect_with(url, &[("authorization", "Bearer test-key")])
        .await
        .unwrap()
}

pub fn create(input: Value) -> Value {
    json!({"type": "response.create", "model": "gpt-4.1-mini", "input": input, "store": false})
}

impl Client {
    pub async fn send(&mut self, v: &Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, t: &str) {
        self.ws.send(Message::Text(t.into())).await.unwrap();
    }

    /// The next raw message (text, binary or close), failing the test after WAIT.
    pub async fn next_message(&mut self) -> Option<Message> {
        tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("timed out waiting for the emulator")
            .map(|r| r.unwrap())
    }

    /// The next JSON event; checks `sequence_number`: it counts per response from 0 (at
    /// `response.created`) and rises by one within its lane.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Some(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("event is JSON");
                    let kind = v["type"].as_str().unwrap_or_default();
                    let lane = v["stream_id"].as_str().map(str::to_owned);
                    if kind == "response.created" {
                        assert_eq!(v["sequence_number"], 0, "{v}");
                        self.last_seq.insert(lane, 0);
                    } else if kind.starts_with("response.steer.") {
                        // Numbered in the target response's counter (checked by the steer tests).
                    } else if let Some(seq) = v["sequence_number"].as_u64() {
                        let last = self.last_seq.get(&lane).copied();
                        let expected = last.map_or(0, |l| l + 1);
                        assert!(
                            seq == expected || last.is_some_and(|l| seq > l),
                            "sequence_number {seq} after {last:?}: {v}"
                        );
                        self.last_seq.insert(lane, seq);
                    }
                    return v;
                }
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Events until a terminal event or an `error`.
    pub async fn until_done(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.recv().await;
            let t = v["type"].as_str().unwrap_or_default().to_owned();
            out.push(v);
            if matches!(
                t.as_str(),
                "response.completed" | "response.failed" | "response.incomplete" | "error"
            ) {
                return out;
            }
        }
    }

    /// Sends a request and returns its events up to the terminal one.
    pub async fn turn(&mut self, v: &Value) -> Vec<Value> {
        self.send(v).await;
        self.until_done().await
    }
}

/// The terminal event of a list.
pub fn terminal(events: &[Value]) -> &Value {
    events.last().unwrap()
}

/// Checks one response's event stream: created first, items announced before deltas,
/// deltas add up to the done values, terminal last.
pub fn check_stream(events: &[Value]) {
    assert_eq!(events[0]["type"], "response.created", "{events:?}");
    let mut added: HashMap<String, bool> = HashMap::new();
    let mut text: HashMap<String, String> = HashMap::new();
    for e in events {
        let t = e["type"].as_str().unwrap();
        match t {
            "response.output_item.added" => {
                added.insert(e["item"]["id"].as_str().unwrap().to_owned(), true);
            }
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                let id = e["item_id"].as_str().unwrap();
                assert!(added.contains_key(id), "delta before output_item.added");
                text.entry(id.to_owned())
                    .or_default()
                    .push_str(e["delta"].as_str().unwrap());
            }
            "response.output_text.done" => {
                let id = e["item_id"].as_str().unwrap();
                assert_eq!(
                    text.get(id).cloned().unwrap_or_default(),
                    e["text"].as_str().unwrap()
                );
            }
            "response.function_call_arguments.done" => {
                let id = e["item_id"].as_str().unwrap();
                assert_eq!(
                    text.get(id).cloned().unwrap_or_default(),
                    e["arguments"].as_str().unwrap()
                );
            }
            _ => {}
        }
        if let Some(r) = e.get("response") {
            for f in [
                "id",
                "created_at",
                "model",
                "parallel_tool_calls",
                "tool_choice",
                "tools",
                "output",
            ] {
                assert!(r.get(f).is_some(), "response lacks {f}: {r}");
            }
            assert_eq!(r["object"], "response");
        }
    }
}

impl Client {
    /// Receives events until `pred` matches one; returns all received, the match last.
    pub async fn recv_until(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.recv().await;
            let hit = pred(&v);
            out.push(v);
            if hit {
                return out;
            }
        }
    }
}

/// Events of one lane (`None` = events without `stream_id`).
pub fn lane_events<'a>(events: &'a [Value], lane: Option<&str>) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["stream_id"].as_str() == lane)
        .collect()
}

/// True for terminal events.
pub fn is_terminal(e: &Value) -> bool {
    matches!(
        e["type"].as_str(),
        Some("response.completed" | "response.failed" | "response.incomplete")
    )
}

/// A latency profile where every response takes `ttft_ms` before its first output.
pub fn slow(ttft_ms: f64, output_tokens_per_s: f64) -> turnscope::emulator::LatencyProfile {
    turnscope::emulator::LatencyProfile {
        name: "test-slow".into(),
        ttft_ms,
        output_tokens_per_s,
        ..turnscope::emulator::LatencyProfile::zero()
    }
}
