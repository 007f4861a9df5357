//! WebSocket relay: the agent's upgrade is answered only once the upstream accepted its own,
//! then two pumps copy messages each way, forwarding first and recording after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_KEY};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tokio_util::sync::CancellationToken;

use super::inflight::InFlight;
use super::recorder::{Body, meta_with_original};
use super::server::{ResBody, error_response, forwardable_request_header, full};
use super::wire::{self, Scan, WireError};
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

/// Bytes one socket read may fill; a longer frame grows the buffer to its length first.
const READ_BUFFER: usize = 32 << 10;

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
    // tungstenite does the upstream's handshake; after it the relay reads and writes the socket
    // itself (frames pass as they are). A server speaks only once asked, so no frame can be
    // left in the handshake's buffer.
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        true,
        // `None`: verified TLS (webpki roots).
        shared
            .insecure_upstream
            .then(crate::endpoint::insecure_connector)
            .flatten(),
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
                relay(&shared, conn, TokioIo::new(upgraded), upstream.into_inner()).await;
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
async fn relay<A, U>(shared: &Shared, conn: u32, agent: A, upstream: U)
where
    A: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (agent_rx, agent_tx) = tokio::io::split(agent);
    let (upstream_rx, upstream_tx) = tokio::io::split(upstream);
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

/// Spare room a socket read gets at least (the buffer starts at [`READ_BUFFER`]).
const MIN_READ: usize = 4 << 10;
/// A buffer grown past this for a long frame is given back once that frame went out.
const KEEP_BUFFER: usize = 1 << 20;

/// Why a read's frames stop before the bytes do.
enum Stop {
    /// A close frame (forwarded with the frames before it).
    Closed(Option<CloseFrame>),
    /// A frame over the size limit (the frames before it are forwarded).
    Oversized(u64),
    /// Bytes that are no WebSocket frame.
    Invalid(String),
}

/// Copies one direction: `Sent` reads the agent and writes upstream, `Recv` the reverse.
///
/// The bytes a read brings are forwarded as they came, every complete frame in one write, before
/// anything else is done with them; the frames are read beside them (tungstenite's header
/// parser) to record their messages. A frame cut by the read waits in the buffer for its rest,
/// so between reads the sink is at a frame boundary, where the proxy may write a frame of its own
/// (an injected text, a close).
async fn pump<R, W>(
    side: Side<'_>,
    mut source: R,
    mut sink: W,
    mut inject: mpsc::UnboundedReceiver<String>,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
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
    // Frames the proxy writes toward the upstream are masked, as a client's must be.
    let masked = dir == Dir::Sent;
    let gone = |e: std::io::Error| End::Dropped {
        by: to,
        why: e.to_string(),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BUFFER);
    // Bytes the frame at the front of `buf` needs in all (0: unknown yet).
    let mut needs = 0;
    // A fragmented data message being put together: its kind and its payload so far.
    let mut message: Option<(Data, Vec<u8>)> = None;
    loop {
        let want = needs.max(buf.len() + MIN_READ);
        if buf.capacity() < want {
            buf.reserve(want - buf.len());
        }
        let read = tokio::select! {
            biased;
            Some(text) = inject.recv() => {
                let t_us = shared.now_us();
                running.observe(dir, &text);
                if let Err(e) = send(&mut sink, &wire::text_frame(&text, masked)).await {
                    return gone(e);
                }
                shared.recorder.meta(t_us, conn, meta_with_original("injected", dir, &text));
                shared.recorder.frame(t_us, conn, dir, Body::Text(text)).await;
                continue;
            }
            () = going_away.cancelled() => {
                let close = CloseFrame { code: CloseCode::Away, reason: GOING_AWAY.into() };
                let _ = send(&mut sink, &wire::close_frame(close.clone(), masked)).await;
                return End::Closed(Some(close));
            }
            read = source.read_buf(&mut buf) => read,
        };
        match read {
            Ok(0) => {
                return End::Dropped {
                    by: from,
                    why: "the socket ended".into(),
                };
            }
            Err(e) => {
                return End::Dropped {
                    by: from,
                    why: e.to_string(),
                };
            }
            Ok(_) => {}
        }
        let t_us = shared.now_us();
        // `buf[out..at]` is read and not forwarded yet; `bodies` are its messages, to record.
        let (mut out, mut at) = (0, 0);
        let mut bodies = Vec::new();
        let stop = loop {
            let frame = match wire::frame_at(&buf, at, shared.max_message_size) {
                Ok(Scan::Frame(frame)) => frame,
                Ok(Scan::Partial { needs: n }) => {
                    needs = n;
                    break None;
                }
                Err(WireError::Oversized { size }) => break Some(Stop::Oversized(size)),
                Err(WireError::Invalid(why)) => break Some(Stop::Invalid(why)),
            };
            at = frame.bytes.end;
            // A whole message: its kind, its payload, and whether it came in this one frame.
            let (kind, bytes, one_frame) = match frame.opcode {
                OpCode::Data(kind @ (Data::Text | Data::Binary)) if frame.is_final => {
                    (kind, wire::payload(&buf, &frame), true)
                }
                OpCode::Data(kind @ (Data::Text | Data::Binary)) => {
                    message = Some((kind, wire::payload(&buf, &frame)));
                    continue;
                }
                OpCode::Data(Data::Continue) => {
                    let Some((kind, mut so_far)) = message.take() else {
                        break Some(Stop::Invalid(
                            "a continuation frame outside a message".into(),
                        ));
                    };
                    wire::append_payload(&buf, &frame, &mut so_far);
                    if so_far.len() > shared.max_message_size {
                        break Some(Stop::Oversized(so_far.len() as u64));
                    }
                    if !frame.is_final {
                        message = Some((kind, so_far));
                        continue;
                    }
                    (kind, so_far, false)
                }
                OpCode::Control(Control::Close) => {
                    let payload = wire::payload(&buf, &frame);
                    break Some(Stop::Closed(wire::close_of(&payload)));
                }
                // Pings and pongs pass as they are: each end answers the other's.
                _ => continue,
            };
            let body = body_of(kind, bytes);
            let Body::Text(text) = &body else {
                bodies.push((t_us, body));
                continue;
            };
            // A message in fragments is not held: its first fragments went out already.
            if !(one_frame && shared.gate.should_hold(dir, text)) {
                // Counted before it goes out, so its answer cannot arrive first.
                running.observe(dir, text);
                bodies.push((t_us, body));
                continue;
            }
            // Held: what came before it goes out first, then the decision is carried out.
            if let Err(e) = forward(
                &mut sink,
                &buf[out..frame.bytes.start],
                shared,
                conn,
                dir,
                &mut bodies,
            )
            .await
            {
                return gone(e);
            }
            out = frame.bytes.start;
            let Body::Text(text) = body else { continue };
            match shared.gate.hold(conn, dir, &text).await {
                BreakpointDecision::Forward => {
                    running.observe(dir, &text);
                    bodies.push((t_us, Body::Text(text)));
                }
                BreakpointDecision::Edit(edited) => {
                    let t_us = shared.now_us();
                    running.observe(dir, &edited);
                    if let Err(e) = send(&mut sink, &wire::text_frame(&edited, masked)).await {
                        return gone(e);
                    }
                    out = frame.bytes.end;
                    shared
                        .recorder
                        .meta(t_us, conn, meta_with_original("edited", dir, &text));
                    shared
                        .recorder
                        .frame(t_us, conn, dir, Body::Text(edited))
                        .await;
                }
                BreakpointDecision::Drop => {
                    out = frame.bytes.end;
                    let meta = meta_with_original("dropped", dir, &text);
                    shared.recorder.meta(shared.now_us(), conn, meta);
                }
            }
        };
        if let Err(e) = forward(&mut sink, &buf[out..at], shared, conn, dir, &mut bodies).await {
            return gone(e);
        }
        match stop {
            None => {}
            Some(Stop::Closed(close)) => return End::Closed(close),
            Some(Stop::Oversized(size)) => {
                let max_size = shared.max_message_size;
                // Tell the other side why (1009 = message too big) instead of just vanishing.
                let why = crate::endpoint::oversized_message(
                    &format!("a message from the {from}"),
                    usize::try_from(size).unwrap_or(usize::MAX),
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
                let _ = send(&mut sink, &wire::close_frame(close, masked)).await;
                return End::Oversized { why };
            }
            Some(Stop::Invalid(why)) => return End::Dropped { by: from, why },
        }
        buf.drain(..at);
        if buf.capacity() > KEEP_BUFFER && buf.len() < READ_BUFFER {
            buf.shrink_to(READ_BUFFER);
        }
    }
}

/// A data message's body to record (a text that is not UTF-8 is kept as bytes).
fn body_of(kind: Data, bytes: Vec<u8>) -> Body {
    match kind {
        Data::Text => {
            String::from_utf8(bytes).map_or_else(|e| Body::Binary(e.into_bytes()), Body::Text)
        }
        _ => Body::Binary(bytes),
    }
}

/// Writes `bytes` (whole frames as they came), then hands their messages to the recorder.
async fn forward<W: AsyncWrite + Unpin>(
    sink: &mut W,
    bytes: &[u8],
    shared: &Shared,
    conn: u32,
    dir: Dir,
    bodies: &mut Vec<(u64, Body)>,
) -> std::io::Result<()> {
    if !bytes.is_empty() {
        send(sink, bytes).await?;
    }
    if !bodies.is_empty() {
        // One handoff for the read: the recorder is woken once, not once per frame.
        shared
            .recorder
            .frames(conn, dir, std::mem::take(bodies))
            .await;
    }
    Ok(())
}

/// Writes and flushes (`AsyncWrite` lets a stream, TLS among them, hold what it was given until
/// flushed).
async fn send<W: AsyncWrite + Unpin>(sink: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    sink.write_all(bytes).await?;
    sink.flush().await
}
