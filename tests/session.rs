//! The session actor against a tiny scripted WebSocket server on 127.0.0.1: sends, receives,
//! lanes, pings, closes, drops, reconnects, connect failures and the transcript.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// tungstenite's accept callback fixes the error type.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderMap;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::session::{
    self, ConnState, SessionCommand, SessionConfig, SessionEvent, SessionHandle,
};

const KEY: &str = "sk-test-ABCDEF1234567890abcdef";
/// A guard against a hung test, never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

type ServerWs = WebSocketStream<TcpStream>;

/// A WebSocket server whose accepted connections (and their upgrade headers) the test drives.
struct TestServer {
    url: String,
    conns: mpsc::UnboundedReceiver<(ServerWs, HeaderMap)>,
}

impl TestServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/v1/responses", listener.local_addr().unwrap());
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (htx, hrx) = std::sync::mpsc::channel();
                    let callback = move |req: &Request, resp: Response| {
                        let _ = htx.send(req.headers().clone());
                        Ok(resp)
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                        let headers = hrx.recv().unwrap_or_default();
                        let _ = tx.send((ws, headers));
                    }
                });
            }
        });
        TestServer { url, conns }
    }

    async fn accept(&mut self) -> (ServerWs, HeaderMap) {
        tokio::time::timeout(GUARD, self.conns.recv())
            .await
            .expect("no connection arrived")
            .expect("server gone")
    }
}

fn config(url: &str) -> SessionConfig {
    SessionConfig {
        url: url.to_owned(),
        api_key: Some(KEY.to_owned()),
        ..SessionConfig::default()
    }
}

/// The next event from the session.
async fn next(h: &mut SessionHandle) -> SessionEvent {
    tokio::time::timeout(GUARD, h.events.recv())
        .await
        .expect("session went quiet")
        .expect("session ended")
}

/// Reads events until one matches; returns it.
async fn until(
    h: &mut SessionHandle,
    what: &str,
    f: impl Fn(&SessionEvent) -> bool,
) -> SessionEvent {
    loop {
        let event = tokio::time::timeout(GUARD, h.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("session ended before {what}"));
        if f(&event) {
            return event;
        }
    }
}

async fn connected(h: &mut SessionHandle, want: u32) {
    until(
        h,
        "connected",
        |e| matches!(e, SessionEvent::State(ConnState::Connected { conn, .. }) if *conn == want),
    )
    .await;
}

/// The next text message the server receives (pongs and other control frames skipped).
async fn server_text(ws: &mut ServerWs) -> String {
    loop {
        let msg = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("client went quiet")
            .expect("client closed")
            .unwrap();
        if let Message::Text(t) = msg {
            return t.as_str().to_owned();
        }
    }
}

async fn server_send(ws: &mut ServerWs, text: &str) {
    ws.send(Message::text(text.to_owned())).await.unwrap();
}

fn create(input: &str, lane: Option<&str>) -> String {
    let mut v = serde_json::json!({"type": "response.create", "model": "m", "input": input});
    if let Some(lane) = lane {
        v["stream_id"] = lane.into();
    }
    v.to_string()
}

fn completed(id: &str, lane: Option<&str>) -> String {
    let mut v = serde_json::json!({"type": "response.completed", "sequence_number": 9,
        "response": {"id": id, "status": "completed"}});
    if let Some(lane) = lane {
        v["stream_id"] = lane.into();
    }
    v.to_string()
}

/// Reads events until a frame of `dir` arrives; returns its text.
async fn frame(h: &mut SessionHandle, dir: Dir) -> Frame {
    match until(
        h,
        "a frame",
        |e| matches!(e, SessionEvent::Frame(f) if f.dir == dir),
    )
    .await
    {
        SessionEvent::Frame(f) => f,
        _ => unreachable!(),
    }
}

fn text_of(f: &Frame) -> &str {
    match &f.payload {
        Payload::Json(t) | Payload::Text(t) => t,
        Payload::Binary(_) => "",
    }
}

/// Closes the session while the server side keeps reading, so the close handshake completes.
async fn finish(h: SessionHandle, server_side: Vec<ServerWs>) {
    for mut ws in server_side {
        tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    }
    h.commands.send(SessionCommand::Close).unwrap();
    tokio::time::timeout(GUARD, h.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn sends_receives_and_records_every_frame() {
    let mut server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s/one.tsjsonl");
    let mut cfg = config(&server.url);
    cfg.record = Some(path.clone());
    cfg.model = Some("m".into());
    cfg.source = "emulator".into();
    let mut h = session::spawn(cfg, CancellationToken::new());
    let SessionEvent::Recording(Ok(p)) = next(&mut h).await else {
        panic!("first event must be the recording path")
    };
    assert_eq!(p, path);
    let (mut ws, headers) = server.accept().await;
    assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(headers["openai-beta"], "responses_websockets=2026-02-06");
    connected(&mut h, 0).await;

    let req = create("hi", None);
    h.commands.send(SessionCommand::Send(req.clone())).unwrap();
    assert_eq!(server_text(&mut ws).await, req);
    let sent = frame(&mut h, Dir::Sent).await;
    assert_eq!(text_of(&sent), req);
    assert_eq!(sent.conn, 0);

    let replies = [
        r#"{"type":"response.created","sequence_number":0,"response":{"id":"r1"}}"#.to_owned(),
        r#"{"type":"response.output_text.delta","sequence_number":1,"delta":"yo"}"#.to_owned(),
        completed("r1", None),
    ];
    for r in &replies {
        server_send(&mut ws, r).await;
    }
    let mut last_t = sent.t_us;
    for r in &replies {
        let f = frame(&mut h, Dir::Recv).await;
        assert_eq!(text_of(&f), r);
        assert!(f.t_us >= last_t, "t_us is monotonic");
        last_t = f.t_us;
    }
    finish(h, vec![ws]).await;

    let (header, frames, errors) = turnscope::transcript::read_all(&path).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(header.source, "emulator");
    assert_eq!(header.url.as_deref(), Some(server.url.as_str()));
    let kinds: Vec<String> = frames
        .iter()
        .map(|f| match f.dir {
            Dir::Meta => {
                let v: serde_json::Value = serde_json::from_str(text_of(f)).unwrap();
                format!("meta:{}", v["event"].as_str().unwrap())
            }
            Dir::Sent => "sent".into(),
            Dir::Recv => "recv".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "meta:connect",
            "meta:client",
            "sent",
            "recv",
            "recv",
            "recv",
            "meta:close"
        ]
    );
    // The session names itself in its own recording (User-Agent), never with the key.
    assert!(text_of(&frames[1]).contains(r#""user-agent":"turnscope/"#));
    assert_eq!(text_of(&frames[2]), req);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains(KEY) && !raw.contains("ABCDEF1234567890"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn one_create_in_flight_per_lane_and_queued_ones_go_out_in_order() {
    let mut server = TestServer::start().await;
    let mut h = session::spawn(config(&server.url), CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;

    let (a, b, c, x) = (
        create("a", None),
        create("b", None),
        create("c", None),
        create("x", Some("lane-x")),
    );
    for e in [&a, &b, &c, &x] {
        h.commands.send(SessionCommand::Send(e.clone())).unwrap();
    }
    // a goes out, b and c wait, x has its own lane.
    assert_eq!(server_text(&mut ws).await, a);
    assert_eq!(server_text(&mut ws).await, x);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        match next(&mut h).await {
            SessionEvent::Frame(f) if f.dir == Dir::Sent => {
                seen.push(format!("sent {}", text_of(&f)))
            }
            SessionEvent::Queued { lane, depth } => seen.push(format!("queued {lane:?} {depth}")),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            format!("sent {a}"),
            "queued None 1".into(),
            "queued None 2".into(),
            format!("sent {x}"),
        ]
    );
    // The other lane finishing frees nothing here.
    server_send(&mut ws, &completed("rx", Some("lane-x"))).await;
    // A steered response is followed by its successor: the lane stays busy.
    server_send(
        &mut ws,
        r#"{"type":"response.incomplete","response":{"id":"ra","incomplete_details":{"reason":"steered"}}}"#,
    )
    .await;
    server_send(&mut ws, &completed("ra2", None)).await;
    assert_eq!(server_text(&mut ws).await, b);
    // An error on the lane frees it too.
    server_send(
        &mut ws,
        r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"x","message":"m"}}"#,
    )
    .await;
    assert_eq!(server_text(&mut ws).await, c);
    let mut order = Vec::new();
    while order.len() < 7 {
        match next(&mut h).await {
            SessionEvent::Frame(f) if f.dir != Dir::Meta => {
                let v: serde_json::Value = serde_json::from_str(text_of(&f)).unwrap();
                order.push(format!("{:?} {}", f.dir, v["type"].as_str().unwrap()));
            }
            SessionEvent::Queued { depth, .. } => order.push(format!("queued {depth}")),
            _ => {}
        }
    }
    assert_eq!(
        order,
        [
            "Recv response.completed",
            "Recv response.incomplete",
            "Recv response.completed",
            "queued 1",
            "Sent response.create",
            "Recv error",
            "queued 0",
        ]
    );
    // A steer is never queued, even while the lane is busy.
    let steer = r#"{"type":"response.steer","previous_response_id":"rc","input":"faster"}"#;
    h.commands.send(SessionCommand::Send(steer.into())).unwrap();
    assert_eq!(server_text(&mut ws).await, steer);
    finish(h, vec![ws]).await;
}

#[tokio::test]
async fn binary_and_non_json_frames_are_recorded_and_surfaced() {
    let mut server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tsjsonl");
    let mut cfg = config(&server.url);
    cfg.record = Some(path.clone());
    let mut h = session::spawn(cfg, CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    ws.send(Message::binary(vec![0u8, 1, 255])).await.unwrap();
    server_send(&mut ws, "not json {").await;
    server_send(&mut ws, "{\n\"type\":\"x\"}").await;
    server_send(&mut ws, "[1,2]").await;
    let f1 = frame(&mut h, Dir::Recv).await;
    assert_eq!(f1.payload, Payload::Binary(vec![0, 1, 255]));
    let f2 = frame(&mut h, Dir::Recv).await;
    assert_eq!(f2.payload, Payload::Text("not json {".into()));
    let f3 = frame(&mut h, Dir::Recv).await;
    assert_eq!(f3.payload, Payload::Text("{\n\"type\":\"x\"}".into()));
    let f4 = frame(&mut h, Dir::Recv).await;
    assert_eq!(f4.payload, Payload::Json("[1,2]".into()));
    finish(h, vec![ws]).await;
    let (_, frames, errors) = turnscope::transcript::read_all(&path).unwrap();
    assert!(errors.is_empty());
    let recv: Vec<_> = frames.iter().filter(|f| f.dir == Dir::Recv).collect();
    assert_eq!(recv.len(), 4);
    assert_eq!(recv[0].payload, f1.payload);
    assert_eq!(recv[1].payload, f2.payload);
    assert_eq!(recv[2].payload, f3.payload);
    assert_eq!(recv[3].payload, f4.payload);
}

#[tokio::test]
async fn pings_are_answered_at_once() {
    let mut server = TestServer::start().await;
    let mut h = session::spawn(config(&server.url), CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    for i in 0..3u8 {
        ws.send(Message::Ping(vec![i, 42].into())).await.unwrap();
        let reply = tokio::time::timeout(GUARD, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(reply, Message::Pong(vec![i, 42].into()));
    }
    finish(h, vec![ws]).await;
}

#[tokio::test]
async fn server_close_is_reported_and_reconnect_opens_the_next_connection() {
    let mut server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tsjsonl");
    let mut cfg = config(&server.url);
    cfg.record = Some(path.clone());
    let mut h = session::spawn(cfg, CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    ws.close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "connection age limit".into(),
    }))
    .await
    .unwrap();
    // The server reads on so it sees the client's close reply and hangs up.
    tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    let closed = until(&mut h, "closed", |e| {
        matches!(e, SessionEvent::State(ConnState::Closed { .. }))
    })
    .await;
    assert_eq!(
        closed,
        SessionEvent::State(ConnState::Closed {
            conn: 0,
            code: Some(1001),
            reason: "connection age limit".into()
        })
    );
    // Nothing is resent by itself; a send now is handed back.
    let req = create("late", None);
    h.commands.send(SessionCommand::Send(req.clone())).unwrap();
    let unsent = until(&mut h, "unsent", |e| {
        matches!(e, SessionEvent::Unsent { .. })
    })
    .await;
    let SessionEvent::Unsent { events, why } = unsent else {
        unreachable!()
    };
    assert_eq!(events, std::slice::from_ref(&req));
    assert!(why.contains("reconnect"), "{why}");

    h.commands.send(SessionCommand::Reconnect).unwrap();
    let (mut ws2, _) = server.accept().await;
    connected(&mut h, 1).await;
    h.commands.send(SessionCommand::Send(req.clone())).unwrap();
    assert_eq!(server_text(&mut ws2).await, req);
    let sent = frame(&mut h, Dir::Sent).await;
    assert_eq!(sent.conn, 1);
    finish(h, vec![ws2]).await;

    let (_, frames, _) = turnscope::transcript::read_all(&path).unwrap();
    let metas: Vec<serde_json::Value> = frames
        .iter()
        .filter(|f| f.dir == Dir::Meta)
        .map(|f| serde_json::from_str(text_of(f)).unwrap())
        .collect();
    let close = metas.iter().find(|m| m["event"] == "close").unwrap();
    assert_eq!(close["code"], 1001);
    assert_eq!(close["reason"], "connection age limit");
    let reconnect = metas.iter().find(|m| m["event"] == "reconnect").unwrap();
    assert_eq!(
        (reconnect["from"].as_u64(), reconnect["to"].as_u64()),
        (Some(0), Some(1))
    );
    let connects: Vec<u32> = frames
        .iter()
        .filter(|f| f.dir == Dir::Meta && text_of(f).contains("\"connect\""))
        .map(|f| f.conn)
        .collect();
    assert_eq!(connects, [0, 1]);
}

#[tokio::test]
async fn a_drop_reports_no_code_hands_back_queued_creates_and_resends_nothing() {
    let mut server = TestServer::start().await;
    let mut h = session::spawn(config(&server.url), CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    let (a, b) = (create("a", None), create("b", None));
    h.commands.send(SessionCommand::Send(a.clone())).unwrap();
    h.commands.send(SessionCommand::Send(b.clone())).unwrap();
    assert_eq!(server_text(&mut ws).await, a);
    until(&mut h, "queued", |e| {
        matches!(e, SessionEvent::Queued { depth: 1, .. })
    })
    .await;
    drop(ws); // TCP closes without a close frame.
    let closed = until(&mut h, "closed", |e| {
        matches!(e, SessionEvent::State(ConnState::Closed { .. }))
    })
    .await;
    let SessionEvent::State(ConnState::Closed { conn, code, .. }) = closed else {
        unreachable!()
    };
    assert_eq!((conn, code), (0, None));
    let mut got_zero = false;
    let events = loop {
        match next(&mut h).await {
            SessionEvent::Queued {
                lane: None,
                depth: 0,
            } => got_zero = true,
            SessionEvent::Unsent { events, .. } => break events,
            _ => {}
        }
    };
    assert!(got_zero, "the queue depth is reset");
    assert_eq!(events, [b]);

    h.commands.send(SessionCommand::Reconnect).unwrap();
    let (mut ws2, _) = server.accept().await;
    connected(&mut h, 1).await;
    let c = create("c", None);
    h.commands.send(SessionCommand::Send(c.clone())).unwrap();
    // The first thing the new connection sees is c: neither a nor b was resent.
    assert_eq!(server_text(&mut ws2).await, c);
    finish(h, vec![ws2]).await;
}

#[tokio::test]
async fn close_and_cancel_end_the_task_with_a_clean_close_frame() {
    let mut server = TestServer::start().await;
    let cancel = CancellationToken::new();
    let mut h = session::spawn(config(&server.url), cancel.clone());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    cancel.cancel();
    let msg = tokio::time::timeout(GUARD, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Close(Some(frame)) = msg else {
        panic!("expected a close frame, got {msg:?}")
    };
    assert_eq!(frame.code, CloseCode::Normal);
    // Reading on lets the server's close reply go out.
    assert!(ws.next().await.is_none_or(|m| m.is_err()));
    drop(ws);
    tokio::time::timeout(GUARD, h.task).await.unwrap().unwrap();
}

/// A raw HTTP server that answers every upgrade with `status` and `body`.
async fn http_refuser(status: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1/responses", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = s.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    url
}

async fn failure(url: &str) -> String {
    let mut h = session::spawn(config(url), CancellationToken::new());
    let failed = until(&mut h, "failed", |e| {
        matches!(e, SessionEvent::State(ConnState::Failed { .. }))
    })
    .await;
    let SessionEvent::State(ConnState::Failed { message }) = failed else {
        unreachable!()
    };
    // The task survives a failed connect and still obeys Close.
    finish(h, vec![]).await;
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(
        !message.contains("ABCDEF1234567890"),
        "key leaked: {message}"
    );
    message
}

#[tokio::test]
async fn connect_failures_are_one_line_naming_the_url_and_the_fix() {
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let url = http_refuser("401 Unauthorized", body).await;
    let m = failure(&url).await;
    assert!(
        m.starts_with(&format!(
            "401 Unauthorized from {url}: check OPENAI_API_KEY"
        )),
        "{m}"
    );

    let url = http_refuser("426 Upgrade Required", String::new()).await;
    let m = failure(&url).await;
    assert!(
        m.starts_with(&format!("426 Upgrade Required from {url}:")),
        "{m}"
    );

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("ws://{addr}/v1/responses");
    let m = failure(&url).await;
    assert!(m.contains("connection refused") && m.contains(&url), "{m}");

    // wss:// against a plain WebSocket server: the TLS handshake fails.
    let server = TestServer::start().await;
    let url = server.url.replace("ws://", "wss://");
    let m = failure(&url).await;
    assert!(
        m.starts_with(&format!("TLS handshake with {url} failed")),
        "{m}"
    );

    let m = failure("http://127.0.0.1:1/v1/responses").await;
    assert!(m.starts_with("bad URL"), "{m}");
}

#[tokio::test]
async fn a_failed_connect_can_be_retried_with_the_same_connection_index() {
    // A socket bound but not listening refuses connections and keeps the port ours, so the
    // retry below finds the same port listening (no window in which another test takes it).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let url = format!("ws://{addr}/v1/responses");
    let mut h = session::spawn(config(&url), CancellationToken::new());
    until(&mut h, "failed", |e| {
        matches!(e, SessionEvent::State(ConnState::Failed { .. }))
    })
    .await;
    // Now something listens there.
    let listener = socket.listen(16).unwrap();
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        }
    });
    h.commands.send(SessionCommand::Reconnect).unwrap();
    connected(&mut h, 0).await;
    finish(h, vec![]).await;
}

#[tokio::test]
async fn sends_made_while_connecting_go_out_once_connected() {
    // The listener accepts TCP (kernel backlog) but the upgrade waits until the test accepts.
    let mut server = TestServer::start().await;
    let h = session::spawn(config(&server.url), CancellationToken::new());
    let (a, steer) = (
        create("early", None),
        r#"{"type":"response.steer","previous_response_id":"r0","input":"x"}"#.to_owned(),
    );
    h.commands.send(SessionCommand::Send(a.clone())).unwrap();
    h.commands
        .send(SessionCommand::Send(steer.clone()))
        .unwrap();
    let (mut ws, _) = server.accept().await;
    assert_eq!(server_text(&mut ws).await, a);
    assert_eq!(server_text(&mut ws).await, steer);
    finish(h, vec![ws]).await;
}

#[tokio::test]
async fn an_event_over_the_size_limit_is_handed_back_not_sent() {
    let mut server = TestServer::start().await;
    let mut cfg = config(&server.url);
    cfg.max_message_size = 1024;
    let mut h = session::spawn(cfg, CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    let big = create(&"x".repeat(2000), None);
    h.commands.send(SessionCommand::Send(big.clone())).unwrap();
    let SessionEvent::Unsent { events, why } = until(&mut h, "unsent", |e| {
        matches!(e, SessionEvent::Unsent { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(events, std::slice::from_ref(&big));
    assert!(why.contains("1024 byte"), "{why}");
    // The lane was not taken: a small create goes straight out.
    let small = create("small", None);
    h.commands
        .send(SessionCommand::Send(small.clone()))
        .unwrap();
    assert_eq!(server_text(&mut ws).await, small);
    finish(h, vec![ws]).await;
}

#[tokio::test]
async fn a_quiet_connection_is_pinged_and_a_dead_one_is_reported() {
    let mut server = TestServer::start().await;
    let mut cfg = config(&server.url);
    cfg.keepalive = Some(Duration::from_millis(50));
    let mut h = session::spawn(cfg.clone(), CancellationToken::new());
    let (mut ws, _) = server.accept().await;
    connected(&mut h, 0).await;
    // A live server sees pings and answers them (tungstenite pongs while reading).
    for _ in 0..2 {
        let msg = tokio::time::timeout(GUARD, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(matches!(msg, Message::Ping(_)), "{msg:?}");
    }
    finish(h, vec![ws]).await;

    // A server that never reads never answers: the session calls the connection dead.
    let mut h = session::spawn(cfg, CancellationToken::new());
    let (_silent, _) = server.accept().await;
    connected(&mut h, 0).await;
    let closed = until(&mut h, "closed", |e| {
        matches!(e, SessionEvent::State(ConnState::Closed { .. }))
    })
    .await;
    let SessionEvent::State(ConnState::Closed { code, reason, .. }) = closed else {
        unreachable!()
    };
    assert_eq!(code, None);
    assert!(reason.contains("keepalive ping"), "{reason}");
    finish(h, vec![]).await;
}
