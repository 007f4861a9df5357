//! WebSocket relay: the agent's upgrade is answered only once the upstream accepted its own,
//! then two pumps copy messages each way, forwarding first and recording after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_KEY};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use super::inflight::InFlight;
use super::recorder::{Body, meta_with_original};
use super::server::{ResBody, error_response, forwardable_request_header, full};
use super::{BreakpointDecision, ProxyError, Shared};
use crate::frame::Dir;

/// How long one upstream connect (DNS, TCP, TLS, upgrade) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// After one side closed, how long the other side may take to finish its close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Injection channels of the open connections: `[to upstream, to agent]`.
#[derive(Debug, Default)]
pub(crate) struct Injectors(Mutex<HashMap<u32, [mpsc::UnboundedSender<String>; 2]>>);

impl Injectors {
    pub fn inject(&self, conn: u32, dir: Dir, text: String) -> Result<(), ProxyError> {
        let slot = match dir {
            Dir::Sent => 0,
            Dir::Recv => 1,
            Dir::Meta => return Err(ProxyError::NoConnection { conn }),
        };
        let sender = self
            .0
            .lock()
            .ok()
            .and_then(|m| m.get(&conn).map(|s| s[slot].clone()));
        match sender {
            Some(tx) => tx.send(text).map_err(|_| ProxyError::NoConnection { conn }),
            None => Err(ProxyError::NoConnection { conn }),
        }
    }

    fn register(&self, conn: u32, senders: [mpsc::UnboundedSender<String>; 2]) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(conn, senders);
        }
    }

    fn unregister(&self, conn: u32) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&conn);
        }
    }
}

/// Bytes one socket read may fill. tungstenite zeroes the part of its read buffer a read may
/// fill before every read (128 KiB by default): on 200 B frames that `memset` was ~3% of the
/// proxy's CPU. A larger frame still arrives whole (the buffer grows to its length first), in
/// reads of up to this much.
const READ_BUFFER: usize = 32 << 10;

fn ws_config(shared: &Shared) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(shared.max_message_size))
        .max_frame_size(Some(shared.max_message_size))
}

/// Answers an agent's upgrade: connects upstream with the agent's headers first, then
/// either switches protocols and relays, or passes the upstream's refusal back unchanged.
pub(crate) async fn upgrade(mut req: Request<Incoming>, shared: Arc<Shared>) -> Response<ResBody> {
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).cloned() else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "WebSocket upgrade without Sec-WebSocket-Key",
        );
    };
    // A refused upgrade is no connection: it is recorded under the number the next connection
    // will take, which is claimed only once the upstream accepted.
    let conn = shared.peek_conn();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // Before anything about this connection is recorded: its credentials become secrets.
    shared.recorder.secrets_of(req.headers(), &path);
    let url = shared.upstream.ws_url(&path);
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            let message = format!("cannot build the upstream request for {url}: {e}");
            return refuse(&shared, conn, StatusCode::BAD_GATEWAY, &message);
        }
    };
    for (name, value) in req.headers() {
        if forwardable_request_header(name.as_str()) {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config(&shared)),
        true,
        None,
    );
    let (upstream, upstream_response) = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(WsError::Http(response))) => {
            let status = response.status();
            let t_us = shared.now_us();
            let meta = serde_json::json!({
                "event": "error",
                "message": format!("upstream {url} refused the WebSocket upgrade with HTTP {}", status.as_u16()),
            });
            shared.recorder.meta(t_us, conn, meta.to_string());
            return passthrough_refusal(*response);
        }
        Ok(Err(e)) => {
            let message = format!("cannot open the upstream WebSocket {url}: {e}");
            return refuse(&shared, conn, StatusCode::BAD_GATEWAY, &message);
        }
        Err(_) => {
            let message = format!(
                "timed out after {} s opening the upstream WebSocket {url}",
                CONNECT_TIMEOUT.as_secs()
            );
            return refuse(&shared, conn, StatusCode::GATEWAY_TIMEOUT, &message);
        }
    };

    let conn = shared.next_conn();
    // Upstream is turnscope's emulator: recorded on the connect, as the live session does.
    let emulator = upstream_response
        .headers()
        .get(crate::endpoint::EMULATOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Who the agent is (User-Agent, OpenAI-Beta, x-… headers), recorded beside the connect.
    let client = crate::ledger::client::meta_body(
        req.headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))),
    );
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task_shared = shared.clone();
    shared.tracker.spawn(async move {
        let shared = task_shared;
        match on_upgrade.await {
            Ok(upgraded) => {
                let agent = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config(&shared)),
                )
                .await;
                let mut meta = serde_json::json!({"event": "connect", "url": url, "store": null});
                if let Some(version) = emulator {
                    meta["turnscope_emulator"] = serde_json::Value::String(version);
                }
                shared
                    .recorder
                    .meta(shared.now_us(), conn, meta.to_string());
                if let Some(client) = client {
                    shared
                        .recorder
                        .meta(shared.now_us(), conn, client.to_string());
                }
                relay(&shared, conn, agent, upstream).await;
            }
            Err(e) => {
                let meta = serde_json::json!({
                    "event": "error",
                    "message": format!("the agent's connection failed during the upgrade: {e}"),
                });
                shared
                    .recorder
                    .meta(shared.now_us(), conn, meta.to_string());
            }
        }
    });

    let mut response = Response::new(full(bytes::Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    for (name, value) in upstream_response.headers() {
        if super::server::forwardable_response_header(name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        hyper::header::UPGRADE,
        HeaderValue::from_static("websocket"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(hyper::header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

fn refuse(shared: &Shared, conn: u32, status: StatusCode, message: &str) -> Response<ResBody> {
    let meta = serde_json::json!({"event": "error", "message": message});
    shared
        .recorder
        .meta(shared.now_us(), conn, meta.to_string());
    error_response(status, &format!("turnscope proxy: {message}"))
}

/// The upstream's HTTP answer to the upgrade (401, 426, …), passed to the agent as it was.
fn passthrough_refusal(
    upstream: tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>,
) -> Response<ResBody> {
    let (parts, body) = upstream.into_parts();
    let mut response = Response::new(full(body.unwrap_or_default()));
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if super::server::forwardable_response_header(name.as_str()) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// How one direction ended.
enum End {
    /// A close frame came (and was passed on).
    Closed(Option<CloseFrame>),
    /// A side went away without a close frame.
    Dropped { by: &'static str, why: String },
    /// A message over the size limit arrived; the other side got close 1009.
    Oversized { why: String },
}

/// Relays until both sides closed, one side dropped, or the proxy shuts down.
async fn relay<A, U>(
    shared: &Shared,
    conn: u32,
    agent: WebSocketStream<A>,
    upstream: WebSocketStream<U>,
) where
    A: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (agent_tx, agent_rx) = agent.split();
    let (upstream_tx, upstream_rx) = upstream.split();
    let (to_upstream, to_upstream_rx) = mpsc::unbounded_channel();
    let (to_agent, to_agent_rx) = mpsc::unbounded_channel();
    shared.injectors.register(conn, [to_upstream, to_agent]);
    let running = InFlight::default();
    let going_away = CancellationToken::new();
    let c2s = pump(
        Side::new(shared, conn, Dir::Sent, &running, &going_away),
        agent_rx,
        upstream_tx,
        to_upstream_rx,
    );
    let s2c = pump(
        Side::new(shared, conn, Dir::Recv, &running, &going_away),
        upstream_rx,
        agent_tx,
        to_agent_rx,
    );
    tokio::pin!(c2s, s2c);
    // A graceful shutdown waits for the turn boundary: no request unanswered, no response running.
    let drained = async {
        shared.drain.cancelled().await;
        running.idle().await;
    };
    let first = tokio::select! {
        () = drained => None,
        () = shared.cancel.cancelled() => None,
        end = &mut c2s => Some((end, "agent")),
        end = &mut s2c => Some((end, "upstream")),
    };
    if first.is_none() {
        // Both pumps send 1001 "going away" (after what they already forwarded) and end.
        going_away.cancel();
        let _ =
            tokio::time::timeout(CLOSE_GRACE, futures_util::future::join(&mut c2s, &mut s2c)).await;
    }
    let t_us = shared.now_us();
    let meta = match &first {
        None => {
            serde_json::json!({"event": "close", "code": 1001, "reason": GOING_AWAY, "by": "proxy"})
        }
        Some((End::Closed(frame), by)) => serde_json::json!({
            "event": "close",
            "code": frame.as_ref().map(|f| u16::from(f.code)),
            "reason": frame.as_ref().map_or("", |f| f.reason.as_str()),
            "by": by,
        }),
        Some((End::Oversized { why }, _)) => {
            shared.recorder.event(super::ProxyEvent::Error(format!(
                "connection {conn} closed: {why}"
            )));
            serde_json::json!({"event": "close", "code": 1009, "reason": why, "by": "proxy"})
        }
        Some((End::Dropped { by, why }, _)) => serde_json::json!({
            "event": "close",
            "code": null,
            "reason": format!("the {by} dropped the connection without a close frame: {why}"),
            "by": by,
        }),
    };
    shared.recorder.meta(t_us, conn, meta.to_string());
    if let Some((End::Closed(_), by)) = first {
        // Let the other side finish its close handshake (and deliver what it still sends).
        let rest = async {
            if by == "agent" {
                let _ = (&mut s2c).await;
            } else {
                let _ = (&mut c2s).await;
            }
        };
        tokio::select! {
            () = shared.cancel.cancelled() => {}
            _ = tokio::time::timeout(CLOSE_GRACE, rest) => {}
        }
    }
    shared.injectors.unregister(conn);
}

/// At most this many frames, or bytes, are fed before a flush, so records never lag far behind
/// and a burst's share of the proxy's byte budget stays well under the whole of it.
const MAX_UNFLUSHED: usize = 64;
const MAX_UNFLUSHED_BYTES: usize = super::BUDGET_BYTES / 4;

/// Data frames fed to the sink but not flushed yet, with what to record once they are.
#[derive(Default)]
struct Burst {
    frames: Vec<(u64, Body)>,
    bytes: usize,
}

impl Burst {
    fn push(&mut self, t_us: u64, body: Body) {
        self.bytes += body.len();
        self.frames.push((t_us, body));
    }

    fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    fn is_full(&self) -> bool {
        self.frames.len() >= MAX_UNFLUSHED || self.bytes >= MAX_UNFLUSHED_BYTES
    }
}

/// Flushes the sink, then records what it delivered (forward first, record after).
async fn flush<K>(
    sink: &mut K,
    unflushed: &mut Burst,
    shared: &Shared,
    conn: u32,
    dir: Dir,
) -> Result<(), WsError>
where
    K: Sink<Message, Error = WsError> + Unpin,
{
    if unflushed.is_empty() {
        return Ok(());
    }
    sink.flush().await?;
    // The texts are copied out of the socket's read buffer (one copy, which the recorder would
    // make anyway): a slice of that buffer held while the frame waits for the recorder and the
    // reader would pin the whole buffer, several times the frame, for that long.
    unflushed.bytes = 0;
    let burst = unflushed
        .frames
        .drain(..)
        .map(|(t_us, body)| match body {
            Body::Ws(text) => (t_us, Body::Text(text.as_str().to_owned())),
            other => (t_us, other),
        })
        .collect();
    // One handoff for the burst: the recorder is woken once, not once per frame.
    shared.recorder.frames(conn, dir, burst).await;
    Ok(())
}

/// The close reason the proxy gives both sides when it shuts down (code 1001, going away).
const GOING_AWAY: &str = "the proxy shut down";

/// What one pump needs besides its streams.
struct Side<'a> {
    shared: &'a Shared,
    conn: u32,
    dir: Dir,
    /// The connection's running responses, fed every text frame forwarded.
    running: &'a InFlight,
    /// Cancelled when the proxy shuts down: send 1001 and end.
    going_away: &'a CancellationToken,
}

impl<'a> Side<'a> {
    fn new(
        shared: &'a Shared,
        conn: u32,
        dir: Dir,
        running: &'a InFlight,
        going_away: &'a CancellationToken,
    ) -> Self {
        Side {
            shared,
            conn,
            dir,
            running,
            going_away,
        }
    }
}

/// Copies one direction: `Sent` reads the agent and writes upstream, `Recv` the reverse.
async fn pump<S, K>(
    side: Side<'_>,
    mut source: S,
    mut sink: K,
    mut inject: mpsc::UnboundedReceiver<String>,
) -> End
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    K: Sink<Message, Error = WsError> + Unpin,
{
    let Side {
        shared,
        conn,
        dir,
        running,
        going_away,
    } = side;
    let (from, to) = match dir {
        Dir::Sent => ("agent", "upstream"),
        _ => ("upstream", "agent"),
    };
    let gone = |e: WsError| End::Dropped {
        by: to,
        why: e.to_string(),
    };
    // Data frames already fed to the sink but not flushed, with what to record once they are.
    // A burst is flushed once (one write) instead of once per frame; a lone frame still goes out
    // at once, because the flush happens as soon as no further frame is ready.
    let mut unflushed = Burst::default();
    loop {
        let ready = if unflushed.is_empty() || unflushed.is_full() {
            None
        } else {
            source.next().now_or_never()
        };
        if ready.is_none()
            && let Err(e) = flush(&mut sink, &mut unflushed, shared, conn, dir).await
        {
            return gone(e);
        }
        let next = if let Some(next) = ready {
            next
        } else {
            tokio::select! {
                biased;
                Some(text) = inject.recv() => {
                    let t_us = shared.now_us();
                    running.observe(dir, &text);
                    if let Err(e) = sink.send(Message::text(text.clone())).await {
                        return gone(e);
                    }
                    shared.recorder.meta(t_us, conn, meta_with_original("injected", dir, &text));
                    shared.recorder.frame(t_us, conn, dir, Body::Text(text)).await;
                    continue;
                }
                () = going_away.cancelled() => {
                    let close = CloseFrame { code: CloseCode::Away, reason: GOING_AWAY.into() };
                    let _ = sink.send(Message::Close(Some(close.clone()))).await;
                    return End::Closed(Some(close));
                }
                next = source.next() => next,
            }
        };
        let data = matches!(next, Some(Ok(Message::Text(_) | Message::Binary(_))));
        if !data || shared.gate.armed() {
            // Fed frames go out before control frames, closes, ends and held frames.
            if let Err(e) = flush(&mut sink, &mut unflushed, shared, conn, dir).await {
                return gone(e);
            }
        }
        let message = match next {
            None => {
                return End::Dropped {
                    by: from,
                    why: "the socket ended".into(),
                };
            }
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                // Tell the other side why (1009 = message too big) instead of just vanishing.
                let why = crate::endpoint::oversized_message(
                    &format!("a message from the {from}"),
                    size,
                    max_size,
                );
                let reason = format!(
                    "message of {size} bytes over the proxy's {max_size} byte limit; raise {}",
                    crate::endpoint::MAX_MESSAGE_SIZE_FLAG
                );
                let close = CloseFrame {
                    code: CloseCode::Size,
                    reason: reason.into(),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
                return End::Oversized { why };
            }
            Some(Err(e)) => {
                return End::Dropped {
                    by: from,
                    why: e.to_string(),
                };
            }
            Some(Ok(m)) => m,
        };
        match message {
            Message::Text(text) => {
                if shared.gate.should_hold(dir, text.as_str()) {
                    match shared.gate.hold(conn, dir, text.as_str()).await {
                        BreakpointDecision::Forward => {}
                        BreakpointDecision::Edit(edited) => {
                            let t_us = shared.now_us();
                            running.observe(dir, &edited);
                            if let Err(e) = sink.send(Message::text(edited.clone())).await {
                                return gone(e);
                            }
                            let meta = meta_with_original("edited", dir, text.as_str());
                            shared.recorder.meta(t_us, conn, meta);
                            shared
                                .recorder
                                .frame(t_us, conn, dir, Body::Text(edited))
                                .await;
                            continue;
                        }
                        BreakpointDecision::Drop => {
                            let meta = meta_with_original("dropped", dir, text.as_str());
                            shared.recorder.meta(shared.now_us(), conn, meta);
                            continue;
                        }
                    }
                }
                let t_us = shared.now_us();
                // Counted before it goes out, so its answer cannot arrive first.
                running.observe(dir, text.as_str());
                if let Err(e) = sink.feed(Message::Text(text.clone())).await {
                    return gone(e);
                }
                unflushed.push(t_us, Body::Ws(text));
            }
            Message::Binary(bytes) => {
                let t_us = shared.now_us();
                if let Err(e) = sink.feed(Message::Binary(bytes.clone())).await {
                    return gone(e);
                }
                unflushed.push(t_us, Body::Binary(bytes));
            }
            Message::Ping(data) => {
                if let Err(e) = sink.send(Message::Ping(data)).await {
                    return gone(e);
                }
            }
            Message::Pong(data) => {
                if let Err(e) = sink.send(Message::Pong(data)).await {
                    return gone(e);
                }
            }
            Message::Close(frame) => {
                // The other side may already be gone; the close is recorded either way.
                let _ = sink.send(Message::Close(frame.clone())).await;
                return End::Closed(frame);
            }
            Message::Frame(_) => {}
        }
    }
}
