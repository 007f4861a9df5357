//! The proxy masks every credential it sees (the agent's bearer, key headers, query-string keys)
//! in frame bodies and meta lines — in the transcript and in the frames the TUI gets — while the
//! bytes it relays stay exact; and a key it was never told about is masked by shape even after a
//! JSON escape and split across the SSE chunks of an HTTP-mode stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;

use futures_util::{SinkExt, StreamExt};
use harness::{Collector, GUARD, Upstream, next_data};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use turnscope::frame::Frame;
use turnscope::proxy::Breakpoints;

/// Credentials with no key shape at all: only the proxy passing them on as secrets masks them.
const BEARER: &str = "opaque-bearer-CREDENTIAL-a1b2c3d4";
const HEADER_KEY: &str = "azurestyle0123456789abcdefABCDEF";
const QUERY_KEY: &str = "query-KEY-z9y8x7w6";
const ALL: [&str; 3] = [BEARER, HEADER_KEY, QUERY_KEY];

fn frames_text(frames: &[Frame]) -> String {
    frames
        .iter()
        .map(|f| String::from_utf8_lossy(f.payload.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn credentials_the_agent_sent_are_masked_in_bodies_and_meta_but_relayed_exactly() {
    let mut upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("p.tsjsonl");
    let mut proxy = harness::proxy(&upstream.base_url(), &record, Breakpoints::default()).await;
    let mut req = format!("ws://{}/v1/responses?api-key={QUERY_KEY}", proxy.addr())
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("authorization", format!("Bearer {BEARER}").parse().unwrap());
    h.insert("api-key", HEADER_KEY.parse().unwrap());
    let (mut agent, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut up, headers) = upstream.accept().await;
    assert_eq!(headers["api-key"], HEADER_KEY, "credentials are forwarded");

    // The agent quotes its credentials after JSON escapes; the upstream echoes them in an error,
    // a text frame that is not JSON and a binary frame.
    let sent = serde_json::json!({"type": "response.create",
        "input": format!("a\n{BEARER}\t{HEADER_KEY}\\{QUERY_KEY}")})
    .to_string();
    agent.send(Message::text(sent.clone())).await.unwrap();
    assert_eq!(next_data(&mut up).await, Some(Message::text(sent)));
    let error = serde_json::json!({"type": "error", "error": {"message":
        format!("Incorrect API key provided: {BEARER}")}})
    .to_string();
    for m in [
        Message::text(error.clone()),
        Message::text(format!("not json {HEADER_KEY}\n{QUERY_KEY}")),
        Message::binary(format!("bin {BEARER}").into_bytes()),
    ] {
        up.send(m.clone()).await.unwrap();
        assert_eq!(next_data(&mut agent).await, Some(m), "relayed exactly");
    }
    up.close(None).await.unwrap();
    let mut seen = Collector::new();
    seen.until_closed(&mut proxy, 0).await;
    proxy.shutdown().await;

    let shown = frames_text(&seen.frames);
    let written = std::fs::read_to_string(&record).unwrap();
    assert!(
        shown.contains("Incorrect API key provided: [REDACTED]"),
        "{shown}"
    );
    assert!(
        written.contains("api-key=[REDACTED]"),
        "the connect meta's URL: {written}"
    );
    for secret in ALL {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
        assert!(!written.contains(secret), "{secret} written: {written}");
    }
}

/// A raw HTTP upstream that answers one SSE stream in two writes, the second only after `go`.
async fn split_sse_upstream(
    first: String,
    second: String,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        // Read the request head and its (small) body.
        while !String::from_utf8_lossy(&got).contains("\"input\"") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the proxy closed before sending the request");
            got.extend_from_slice(&buf[..n]);
        }
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        tcp.write_all(format!("{head}{first}").as_bytes())
            .await
            .unwrap();
        tcp.flush().await.unwrap();
        wait.await.unwrap();
        tcp.write_all(second.as_bytes()).await.unwrap();
        tcp.shutdown().await.unwrap();
    });
    (format!("http://{addr}/v1"), go)
}

#[tokio::test]
async fn an_unannounced_key_split_across_sse_chunks_after_an_escape_is_masked() {
    // sk-shaped, and never given to the proxy: the shape rule must catch it after `\n`.
    let key = "sk-proj-SPLITACROSSCHUNKS0123456789";
    let event =
        serde_json::json!({"type": "response.output_text.delta", "delta": format!("here:\n{key}")})
            .to_string();
    let cut = event.find("CHUNKS").unwrap();
    let first = format!("event: response.output_text.delta\ndata: {}", &event[..cut]);
    let second = format!("{}\n\n", &event[cut..]);
    let (base, go) = split_sse_upstream(first, second).await;
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("h.tsjsonl");
    let mut proxy = harness::proxy(&base, &record, Breakpoints::default()).await;
    let resp = reqwest::Client::new()
        .post(format!(
            "http://{}/v1/responses?key={QUERY_KEY}",
            proxy.addr()
        ))
        .header("x-api-key", HEADER_KEY)
        .body(format!(
            r#"{{"model":"m","stream":true,"input":"{HEADER_KEY}"}}"#
        ))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut got = Vec::new();
    // The first half reached the agent: the proxy has read it as its own chunk.
    while !String::from_utf8_lossy(&got).contains("SPLIT") {
        let chunk = tokio::time::timeout(GUARD, body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.extend_from_slice(&chunk);
    }
    go.send(()).unwrap();
    while let Some(chunk) = tokio::time::timeout(GUARD, body.next()).await.unwrap() {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert!(
        String::from_utf8_lossy(&got).contains(&event),
        "relayed exactly"
    );
    let mut seen = Collector::new();
    seen.until_closed(&mut proxy, 0).await;
    proxy.shutdown().await;

    let shown = frames_text(&seen.frames);
    let written = std::fs::read_to_string(&record).unwrap();
    assert!(shown.contains("here:\\n[REDACTED]"), "{shown}");
    for secret in ["SPLITACROSSCHUNKS", HEADER_KEY, QUERY_KEY] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
        assert!(!written.contains(secret), "{secret} written: {written}");
    }
}
