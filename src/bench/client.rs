//! The scripted agent client of one bench run, in WebSocket mode (one connection, incremental
//! input + `previous_response_id`) or HTTP mode (`POST /v1/responses` SSE, full input resent),
//! recording every frame with its time for the ledger to fold afterwards.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{BenchError, Transport};
use crate::frame::Dir;
use crate::protocol::SseParser;

/// Where the runs go.
#[derive(Debug, Clone)]
pub struct Target {
    /// `ws://…/v1/responses` or `wss://…`.
    pub ws_url: String,
    /// `http://…/v1/responses` or `https://…`.
    pub http_url: String,
    /// Sent as `Authorization: Bearer …`; never recorded.
    pub api_key: Option<String>,
}

impl Target {
    /// Both transports of an emulator started in this process, sending `api_key`.
    pub fn emulator(emu: &crate::emulator::RunningEmulator, api_key: &str) -> Target {
        Target {
            ws_url: emu.ws_url(),
            http_url: format!("{}/responses", emu.base_url()),
            api_key: Some(api_key.to_owned()),
        }
    }
}

/// The client side of the scripted agent: what it sends, and the tool outputs it answers with.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `model` of every request.
    pub model: String,
    /// `instructions` of every request.
    pub instructions: Option<String>,
    /// `tools` of every request.
    pub tools: Vec<Value>,
    /// The first turn's input.
    pub first_input: Vec<Value>,
    /// Scripted tool outputs, answered in call order (the k-th call gets the k-th output;
    /// calls beyond the list get `ok`).
    pub outputs: Vec<String>,
    /// Ask for `tool_choice: required` until `outputs` are used up, then `none` (for real
    /// models, which do not follow a script); the emulator follows its script either way.
    pub steer_tool_choice: bool,
    /// Stop after this many turns whatever the model does.
    pub max_turns: usize,
    /// HTTP mode chains turns by `previous_response_id` with `store: true` (the server loads
    /// the stored state every turn) instead of resending the conversation.
    pub http_chain: bool,
}

/// One recorded frame: time since the run started, direction, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// µs since the run started.
    pub t_us: u64,
    /// Sent, received or meta.
    pub dir: Dir,
    /// The JSON text.
    pub text: String,
}

/// What one run of one mode recorded.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// The frames, in order (the connection index is always 0).
    pub frames: Vec<Recorded>,
    /// Start → last terminal event, µs.
    pub e2e_us: u64,
}

struct Recorder {
    start: Instant,
    frames: Vec<Recorded>,
}

impl Recorder {
    fn t(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
    fn push(&mut self, dir: Dir, text: String) -> u64 {
        let t_us = self.t();
        self.frames.push(Recorded { t_us, dir, text });
        t_us
    }
}

/// Per-run client state: the conversation so far and the scripted outputs used.
struct Agent<'a> {
    work: &'a Workload,
    /// HTTP mode: every item so far (inputs and outputs).
    history: Vec<Value>,
    /// The next turn's new input.
    pending: Vec<Value>,
    previous: Option<String>,
    calls: usize,
}

impl<'a> Agent<'a> {
    fn new(work: &'a Workload) -> Self {
        Agent {
            work,
            history: Vec::new(),
            pending: work.first_input.clone(),
            previous: None,
            calls: 0,
        }
    }

    /// The next request body for `mode`.
    fn request(&mut self, mode: Transport) -> String {
        let mut body = Map::new();
        if mode == Transport::WebSocket {
            body.insert("type".into(), json!("response.create"));
        }
        body.insert("model".into(), json!(self.work.model));
        let chain = mode == Transport::WebSocket || self.work.http_chain;
        body.insert(
            "store".into(),
            json!(mode == Transport::Http && self.work.http_chain),
        );
        if let Some(i) = &self.work.instructions {
            body.insert("instructions".into(), json!(i));
        }
        if !self.work.tools.is_empty() {
            body.insert("tools".into(), Value::Array(self.work.tools.clone()));
            if self.work.steer_tool_choice {
                let more = self.calls < self.work.outputs.len();
                body.insert(
                    "tool_choice".into(),
                    json!(if more { "required" } else { "none" }),
                );
            }
        }
        let pending = std::mem::take(&mut self.pending);
        if mode == Transport::Http {
            body.insert("stream".into(), json!(true));
        }
        if chain {
            if let Some(p) = &self.previous {
                body.insert("previous_response_id".into(), json!(p));
            }
            body.insert("input".into(), Value::Array(pending));
        } else {
            self.history.extend(pending);
            body.insert("input".into(), Value::Array(self.history.clone()));
        }
        Value::Object(body).to_string()
    }

    /// Takes a terminal response; true when the agent has more to send.
    fn on_response(&mut self, response: &Value) -> bool {
        self.previous = response["id"].as_str().map(str::to_owned);
        let output = response["output"].as_array().cloned().unwrap_or_default();
        let mut answers = Vec::new();
        for item in &output {
            if item["type"] != "function_call" {
                continue;
            }
            let out = self
                .work
                .outputs
                .get(self.calls)
                .map_or("ok", String::as_str);
            self.calls += 1;
            answers.push(
                json!({"type": "function_call_output", "call_id": item["call_id"], "output": out}),
            );
        }
        self.history.extend(output);
        let more = !answers.is_empty();
        self.pending = answers;
        more
    }
}

/// How a response stream ended.
enum End {
    /// A terminal event with its response.
    Done(Value),
    /// An `error` event or failed/incomplete response; the message.
    Failed(String),
}

/// Classifies a received event: `Some` when it ends the turn.
fn terminal(text: &str) -> Option<End> {
    let v: Value = serde_json::from_str(text).ok()?;
    match v["type"].as_str()? {
        "response.completed" => Some(End::Done(v["response"].clone())),
        "response.failed" | "response.incomplete" => Some(End::Failed(format!(
            "{}: {}",
            v["type"].as_str().unwrap_or_default(),
            v["response"]["error"]["message"]
                .as_str()
                .or(v["response"]["incomplete_details"]["reason"].as_str())
                .unwrap_or("no details")
        ))),
        "error" => Some(End::Failed(format!(
            "error {}: {}",
            v["error"]["code"].as_str().unwrap_or("-"),
            v["error"]["message"].as_str().unwrap_or("no message")
        ))),
        _ => None,
    }
}

/// The longest a run waits for the server's next bytes before giving up.
const IDLE: std::time::Duration = std::time::Duration::from_secs(120);

fn idle() -> String {
    format!("no answer from the server for {} s", IDLE.as_secs())
}

fn failed(mode: Transport, url: &str, detail: impl std::fmt::Display) -> BenchError {
    BenchError::Run {
        mode: mode.name(),
        url: crate::endpoint::display_url(url),
        detail: detail.to_string(),
    }
}

/// Runs the workload once in `mode`; `turn_done` hears of every finished turn.
pub async fn run(
    target: &Target,
    work: &Workload,
    mode: Transport,
    turn_done: &mpsc::UnboundedSender<()>,
) -> Result<Recording, BenchError> {
    match mode {
        Transport::WebSocket => run_ws(target, work, turn_done).await,
        Transport::Http => run_http(target, work, turn_done).await,
    }
}

async fn run_ws(
    target: &Target,
    work: &Workload,
    turn_done: &mpsc::UnboundedSender<()>,
) -> Result<Recording, BenchError> {
    let url = &target.ws_url;
    let err = |d: &dyn std::fmt::Display| failed(Transport::WebSocket, url, d);
    crate::endpoint::install_crypto_provider();
    let mut request = url.as_str().into_client_request().map_err(|e| err(&e))?;
    let headers = request.headers_mut();
    let beta = crate::endpoint::BETA_HEADER;
    headers.insert(beta.0, HeaderValue::from_static(beta.1));
    if let Some(key) = &target.api_key {
        let value = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| err(&"the API key is not a valid header value"))?;
        headers.insert("authorization", value);
    }
    let mut rec = Recorder {
        start: Instant::now(),
        frames: Vec::new(),
    };
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map_err(|e| err(&e))?;
    let display = crate::endpoint::display_url(url);
    rec.push(
        Dir::Meta,
        json!({"event": "connect", "url": display, "store": false}).to_string(),
    );
    let mut agent = Agent::new(work);
    let mut end_us = 0;
    for _ in 0..work.max_turns {
        let body = agent.request(Transport::WebSocket);
        rec.push(Dir::Sent, body.clone());
        ws.send(Message::text(body)).await.map_err(|e| err(&e))?;
        let response = loop {
            let next = tokio::time::timeout(IDLE, ws.next()).await;
            let msg = match next.map_err(|_| err(&idle()))? {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(err(&e)),
                None => return Err(err(&"the server closed the connection mid-turn")),
            };
            let Message::Text(text) = msg else { continue };
            let text = text.as_str().to_owned();
            let end = terminal(&text);
            let t = rec.push(Dir::Recv, text);
            match end {
                Some(End::Done(r)) => {
                    end_us = t;
                    break r;
                }
                Some(End::Failed(m)) => return Err(err(&m)),
                None => {}
            }
        };
        let _ = turn_done.send(());
        if !agent.on_response(&response) {
            break;
        }
    }
    let _ = ws.close(None).await;
    rec.push(
        Dir::Meta,
        json!({"event": "close", "code": 1000, "reason": "bench run done"}).to_string(),
    );
    Ok(Recording {
        frames: rec.frames,
        e2e_us: end_us,
    })
}

async fn run_http(
    target: &Target,
    work: &Workload,
    turn_done: &mpsc::UnboundedSender<()>,
) -> Result<Recording, BenchError> {
    let url = &target.http_url;
    let err = |d: &dyn std::fmt::Display| failed(Transport::Http, url, d);
    crate::endpoint::install_crypto_provider();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| err(&e))?;
    let mut rec = Recorder {
        start: Instant::now(),
        frames: Vec::new(),
    };
    let mut agent = Agent::new(work);
    let mut end_us = 0;
    let meta = json!({"event": "http_request", "path": "/v1/responses"}).to_string();
    for _ in 0..work.max_turns {
        let body = agent.request(Transport::Http);
        rec.push(Dir::Meta, meta.clone());
        rec.push(Dir::Sent, body.clone());
        let mut req = client
            .post(url.as_str())
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(body);
        if let Some(key) = &target.api_key {
            req = req.bearer_auth(key);
        }
        let resp = tokio::time::timeout(IDLE, req.send())
            .await
            .map_err(|_| err(&idle()))?
            .map_err(|e| err(&e))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            let short: String = text.chars().take(300).collect();
            return Err(err(&format!("HTTP {status}: {short}")));
        }
        let mut stream = resp.bytes_stream();
        let mut events = SseParser::default();
        let mut response = None;
        'read: loop {
            let next = tokio::time::timeout(IDLE, stream.next()).await;
            let Some(chunk) = next.map_err(|_| err(&idle()))? else {
                break;
            };
            let chunk = chunk.map_err(|e| err(&e))?;
            for event in events.push(&chunk) {
                let end = terminal(&event.data);
                let t = rec.push(Dir::Recv, event.data);
                match end {
                    Some(End::Done(r)) => {
                        end_us = t;
                        response = Some(r);
                        break 'read;
                    }
                    Some(End::Failed(m)) => return Err(err(&m)),
                    None => {}
                }
            }
        }
        let Some(response) = response else {
            return Err(err(&"the event stream ended before response.completed"));
        };
        // Read the body to its end so the connection goes back to the pool for the next turn.
        let drain = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout(IDLE, drain).await;
        let _ = turn_done.send(());
        if !agent.on_response(&response) {
            break;
        }
    }
    Ok(Recording {
        frames: rec.frames,
        e2e_us: end_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work() -> Workload {
        Workload {
            model: "m".into(),
            instructions: Some("be brief".into()),
            tools: vec![json!({"type": "function", "name": "f"})],
            first_input: vec![json!({"type": "message", "role": "user", "content": "hi"})],
            outputs: vec!["out0".into(), "out1".into()],
            steer_tool_choice: true,
            max_turns: 10,
            http_chain: false,
        }
    }

    fn call(id: &str) -> Value {
        json!({"id": format!("fc_{id}"), "type": "function_call", "call_id": id, "name": "f", "arguments": "{}"})
    }

    #[test]
    fn websocket_sends_only_new_items_and_http_resends_everything() {
        let w = work();
        let mut ws = Agent::new(&w);
        let mut http = Agent::new(&w);
        let first: Value = serde_json::from_str(&ws.request(Transport::WebSocket)).unwrap();
        assert_eq!(first["type"], "response.create");
        assert_eq!(first["tool_choice"], "required");
        assert!(first.get("previous_response_id").is_none());
        let h1: Value = serde_json::from_str(&http.request(Transport::Http)).unwrap();
        assert_eq!(h1["stream"], true);
        assert!(h1.get("type").is_none());
        let resp = json!({"id": "resp_1", "output": [call("c1"), call("c2")]});
        assert!(ws.on_response(&resp));
        assert!(http.on_response(&resp));
        let second: Value = serde_json::from_str(&ws.request(Transport::WebSocket)).unwrap();
        assert_eq!(second["previous_response_id"], "resp_1");
        let input = second["input"].as_array().unwrap();
        assert_eq!(input.len(), 2);
        assert_eq!(input[0]["output"], "out0");
        assert_eq!(input[1]["output"], "out1");
        // Both scripted outputs are used: the model may stop calling tools now.
        assert_eq!(second["tool_choice"], "none");
        let h2: Value = serde_json::from_str(&http.request(Transport::Http)).unwrap();
        // user message, two calls, two outputs.
        assert_eq!(h2["input"].as_array().unwrap().len(), 5);
        assert!(h2.get("previous_response_id").is_none());
        let done = json!({"id": "resp_2", "output": [{"type": "message", "role": "assistant", "content": []}]});
        assert!(!ws.on_response(&done));
    }

    #[test]
    fn terminal_events_end_the_turn() {
        assert!(matches!(
            terminal(r#"{"type":"response.completed","response":{"id":"r"}}"#),
            Some(End::Done(_))
        ));
        let Some(End::Failed(m)) = terminal(
            r#"{"type":"error","error":{"code":"previous_response_not_found","message":"gone"}}"#,
        ) else {
            panic!("not a failure")
        };
        assert!(m.contains("previous_response_not_found") && m.contains("gone"));
        assert!(terminal(r#"{"type":"response.output_text.delta"}"#).is_none());
        assert!(terminal("not json").is_none());
    }
}
