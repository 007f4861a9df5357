//! HTTP through the proxy, over real sockets: `POST /v1/responses` SSE relayed chunk by chunk
//! and recorded as an HTTP-mode turn (against the emulator); other paths forwarded unrecorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use harness::{Collector, GUARD, proxy, temp_transcript, transcript_frames};
use tokio::sync::mpsc;
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::frame::Dir;
use turnscope::ledger::{Ledger, Transport, TurnStatus};
use turnscope::protocol::SseParser;
use turnscope::proxy::Breakpoints;

const KEY: &str = "sk-httptest-SECRET0123456789abcdefXYZ";

/// The `data:` payloads of an SSE body.
fn sse_data(body: &str) -> Vec<String> {
    SseParser::parse_all(body)
        .into_iter()
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn an_http_mode_turn_is_streamed_and_recorded_as_a_turn() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&emu.base_url(), &path, Breakpoints::default()).await;
    let request = r#"{"model":"gpt-5.1","input":"Say hi.","stream":true,"store":false}"#;
    let response = reqwest::Client::new()
        .post(format!("{}/responses", px.base_url()))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = response.text().await.unwrap();
    let events = sse_data(&body);
    assert!(events.len() >= 3, "{body}");

    let mut seen = Collector::new();
    seen.until_closed(&mut px, 0).await;
    let metas = seen.metas(0);
    assert_eq!(metas[0]["event"], "http_request");
    assert_eq!(metas[0]["path"], "/v1/responses");
    assert_eq!(seen.wire(0, Dir::Sent), vec![request.as_bytes().to_vec()]);
    let recorded: Vec<Vec<u8>> = events.iter().map(|e| e.as_bytes().to_vec()).collect();
    assert_eq!(
        seen.wire(0, Dir::Recv),
        recorded,
        "recorded events differ from the SSE stream"
    );

    let frames = transcript_frames(&path);
    let ledger = Ledger::from_frames(&frames);
    assert_eq!(ledger.turns().len(), 1);
    let turn = &ledger.turns()[0];
    assert_eq!(turn.status, TurnStatus::Completed);
    assert_eq!(turn.transport, Transport::Http);
    assert!(turn.usage.is_some());
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        !raw.contains("SECRET0123456789"),
        "the key leaked into the transcript"
    );
    px.shutdown().await;
    emu.shutdown().await;
}

/// An upstream whose SSE stream the test releases event by event, and a plain JSON route.
struct GatedUpstream {
    base: String,
    events: mpsc::UnboundedSender<String>,
    seen_headers: Arc<Mutex<Vec<HeaderMap>>>,
}

async fn gated_upstream() -> GatedUpstream {
    type Gate = Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>>;
    let (events, rx) = mpsc::unbounded_channel::<String>();
    let gate: Gate = Arc::new(Mutex::new(Some(rx)));
    let seen_headers = Arc::new(Mutex::new(Vec::new()));
    let sse = |State((gate, _)): State<(Gate, Arc<Mutex<Vec<HeaderMap>>>)>| async move {
        let rx = gate.lock().unwrap().take().unwrap();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            let data = rx.recv().await?;
            Some((
                Ok::<_, std::convert::Infallible>(Event::default().data(data)),
                rx,
            ))
        });
        Sse::new(stream)
    };
    let models = |State((_, seen)): State<(Gate, Arc<Mutex<Vec<HeaderMap>>>)>,
                  headers: HeaderMap,
                  uri: axum::http::Uri| async move {
        seen.lock().unwrap().push(headers);
        (
            axum::http::StatusCode::IM_A_TEAPOT,
            [("x-request-id", "req_123")],
            format!(r#"{{"query":"{}"}}"#, uri.query().unwrap_or("")),
        )
            .into_response()
    };
    let app = Router::new()
        .route("/v1/responses", post(sse))
        .route("/v1/models", get(models))
        .with_state((gate, seen_headers.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    GatedUpstream {
        base,
        events,
        seen_headers,
    }
}

#[tokio::test]
async fn sse_is_relayed_chunk_by_chunk_without_buffering() {
    let up = gated_upstream().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base, &path, Breakpoints::default()).await;
    up.events
        .send(r#"{"type":"response.created","sequence_number":0}"#.into())
        .unwrap();
    let mut response = reqwest::Client::new()
        .post(format!("{}/responses", px.base_url()))
        .body(r#"{"model":"m","input":"hi","stream":true}"#)
        .send()
        .await
        .unwrap();
    // The first event arrives while the upstream still holds the rest: nothing is buffered.
    let first = tokio::time::timeout(GUARD, response.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("response.created"));
    let mut seen = Collector::new();
    seen.until(&mut px, "the first event recorded", |c| {
        c.wire(0, Dir::Recv).len() == 1
    })
    .await;
    up.events
        .send(r#"{"type":"response.completed","sequence_number":1,"response":{"id":"r","status":"completed","output":[]}}"#.into())
        .unwrap();
    let second = tokio::time::timeout(GUARD, response.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&second).contains("response.completed"));
    drop(up.events);
    while tokio::time::timeout(GUARD, response.chunk())
        .await
        .unwrap()
        .unwrap()
        .is_some()
    {}
    seen.until_closed(&mut px, 0).await;
    let ledger = Ledger::from_frames(&seen.frames);
    assert_eq!(ledger.turns()[0].status, TurnStatus::Completed);
    px.shutdown().await;
}

#[tokio::test]
async fn other_paths_are_forwarded_with_status_headers_and_query_but_not_recorded() {
    let up = gated_upstream().await;
    let (_dir, path) = temp_transcript();
    let px = proxy(&up.base, &path, Breakpoints::default()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/models?limit=2", px.base_url()))
        .bearer_auth(KEY)
        .header("OpenAI-Project", "proj-test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 418);
    assert_eq!(response.headers()["x-request-id"], "req_123");
    assert_eq!(response.text().await.unwrap(), r#"{"query":"limit=2"}"#);
    let headers = up.seen_headers.lock().unwrap()[0].clone();
    assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(headers["openai-project"], "proj-test");
    px.shutdown().await;
    // Shut down and flushed: the transcript holds only its header.
    assert!(transcript_frames(&path).is_empty());
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_clear_502() {
    // A port nothing listens on: bind one, note it, close it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/v1", free.local_addr().unwrap());
    drop(free);
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&dead, &path, Breakpoints::default()).await;
    let response = reqwest::Client::new()
        .post(format!("{}/responses", px.base_url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    let body = response.text().await.unwrap();
    assert!(body.contains("cannot reach the upstream"), "{body}");
    let url = format!("ws://{}/v1/responses", px.addr());
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 502);
        }
        other => panic!("expected HTTP 502, got {other:?}"),
    }
    let mut seen = Collector::new();
    seen.until(&mut px, "both errors", |c| {
        c.metas(0).iter().any(|m| m["event"] == "error")
            && c.metas(1).iter().any(|m| m["event"] == "error")
    })
    .await;
    px.shutdown().await;
}
