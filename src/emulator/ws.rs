//! WebSocket mode: the upgrade on `/v1/responses`, one reader and one writer per
//! connection, request dispatch to lanes, steering, limits, max age and faults.

pub(crate) mod lane;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::context::Node;
use super::engine::{self, Out, SeqCounter, SteerFlag};
use super::scenario::FaultKind;
use super::{
    AgeLimitInFlight, ApiFailure, ConnectionSlot, FaultPlan, MAX_AGE_CLOSE_CODE,
    MAX_AGE_CLOSE_REASON, Shared, authorize, validate,
};
use lane::Job;

/// The error code of the emulator's per-key connection cap (refused at the upgrade).
pub const CONNECTION_CAP_CODE: &str = "websocket_connection_cap_reached";

/// `GET /v1/responses`: a WebSocket upgrade (authenticated, counted against the per-key
/// cap), or — without the upgrade headers — an API-shaped JSON error, as the real endpoint
/// answers a plain GET.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let key = match authorize(&shared, &headers) {
        Ok(k) => k,
        Err(f) => return f.into_response(),
    };
    let Ok(ws) = ws else {
        return ApiFailure {
            status: 405,
            kind: "invalid_request_error",
            code: None,
            message: "Invalid method for URL (GET /v1/responses)".into(),
            param: None,
        }
        .into_response();
    };
    // The real API's per-key connection cap is not public. The emulator refuses the upgrade
    // itself (HTTP 429, code `websocket_connection_cap_reached`): a different code from the
    // 60-minute age limit, which clients treat as "rotate" and would retry in a loop.
    let Some(slot) = shared.open_connection(&key) else {
        let cap = shared.config.max_connections_per_key.unwrap_or_default();
        return ApiFailure {
            status: 429,
            kind: "invalid_request_error",
            code: Some(CONNECTION_CAP_CODE.into()),
            message: format!(
                "Too many open WebSocket connections for this API key (limit {cap}, set by the emulator's --max-connections-per-key). Close one before opening another."
            ),
            param: None,
        }
        .into_response();
    };
    let timing = headers
        .get("x-responsesapi-include-timing-metrics")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let limit = shared.config.max_message_bytes.saturating_mul(2);
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(shared, socket, slot, timing))
}

/// A running response, as seen by `response.steer`.
struct Active {
    flag: Arc<SteerFlag>,
    lane: Option<String>,
    /// The response's sequence numbers (steering acknowledgements are numbered in it).
    seq: Arc<SeqCounter>,
    /// Accepted steering submissions: (steer id, input items).
    steers: Vec<(String, Vec<Value>)>,
}

/// Per-connection state; the mutex is never held across an await.
#[derive(Default)]
struct ConnState {
    /// The connection-local cache: response id → its context chain.
    cache: HashMap<String, Arc<Node>>,
    lanes: HashMap<Option<String>, mpsc::UnboundedSender<Job>>,
    named_lanes: usize,
    active: HashMap<String, Active>,
    /// Steering input waiting for the explicit continuation of a parent: parent id → items.
    pending_steers: HashMap<String, Vec<Value>>,
    tasks: Vec<JoinHandle<()>>,
    /// Requests accepted onto a lane and not finished yet (the age limit waits for them).
    pending: usize,
    /// Past `--max-connection-age`: new requests get the age-limit error.
    aged: bool,
}

/// One WebSocket connection.
pub(crate) struct Conn {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Out>,
    gate: Arc<Semaphore>,
    timing: bool,
    state: Mutex<ConnState>,
    /// Woken whenever a lane finishes a request (the age limit drains on it).
    idle: Notify,
}

impl Conn {
    fn state(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends an event outside any response stream (request errors, timing), on `lane` if
    /// named; it carries no `sequence_number`, like the real server's request errors.
    async fn send(&self, ev: Value, lane: Option<&str>) {
        self.send_numbered(ev, lane, None).await;
    }

    /// Sends an event numbered in `seq` (a response's counter), on `lane` if named.
    async fn send_numbered(&self, mut ev: Value, lane: Option<&str>, seq: Option<Arc<SeqCounter>>) {
        if let (Some(l), Value::Object(obj)) = (lane, &mut ev) {
            obj.insert("stream_id".into(), json!(l));
        }
        let _ = self.tx.send(Out::Event(ev, seq)).await;
    }

    /// The age-limit error, exactly as the real server words it.
    async fn age_error(&self, lane: Option<&str>) {
        self.fail(&super::age_limit_failure(), lane).await;
    }

    async fn fail(&self, f: &ApiFailure, lane: Option<&str>) {
        self.send(f.ws_event(), lane).await;
    }

    /// Handles one text frame.
    async fn on_text(self: &Arc<Self>, text: &str) {
        let received = std::time::Instant::now();
        if text.len() > self.shared.config.max_message_bytes {
            let f = ApiFailure::invalid(
                "message_too_large",
                format!(
                    "The message is {} bytes; the limit is {} bytes. Send less input per turn.",
                    text.len(),
                    self.shared.config.max_message_bytes
                ),
                None,
            );
            return self.fail(&f, None).await;
        }
        let obj = match validate::parse_object(text) {
            Ok(o) => o,
            Err(f) => return self.fail(&f, None).await,
        };
        let kind = match obj.get("type") {
            Some(Value::String(s)) => s.clone(),
            other => {
                let f = ApiFailure::invalid(
                    if other.is_some() {
                        "invalid_type"
                    } else {
                        "missing_required_parameter"
                    },
                    "Every event needs a string 'type' (response.create or response.steer).",
                    Some("type"),
                );
                return self.fail(&f, None).await;
            }
        };
        match kind.as_str() {
            "response.create" => {
                let tokens = engine::request_tokens(&self.shared, text);
                self.on_create(obj, text.len(), tokens, received).await;
            }
            "response.steer" => self.on_steer(&obj).await,
            other => {
                let f = ApiFailure::invalid(
                    "unknown_event_type",
                    format!(
                        "Unknown event type '{other}'. Supported: response.create, response.steer."
                    ),
                    Some("type"),
                );
                self.fail(&f, None).await;
            }
        }
    }

    async fn on_create(
        self: &Arc<Self>,
        obj: serde_json::Map<String, Value>,
        bytes: usize,
        request_tokens: usize,
        received: std::time::Instant,
    ) {
        let prev = obj
            .get("previous_response_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let lane_name = obj
            .get("stream_id")
            .and_then(Value::as_str)
            .filter(|s| validate::valid_stream_id(s))
            .map(str::to_owned);
        let req = match validate::create(obj, true, &|m| self.shared.model_ok(m)) {
            Ok(r) => r,
            Err(f) => {
                // A continuation that fails evicts the parent it referenced.
                if let Some(p) = &prev {
                    self.state().cache.remove(p);
                }
                return self.fail(&f, lane_name.as_deref()).await;
            }
        };
        let job = Job {
            req,
            request_bytes: bytes,
            request_tokens,
            received,
        };
        let lane = job.req.stream_id.clone();
        if self.state().aged {
            return self.age_error(lane.as_deref()).await;
        }
        let refused = {
            let mut st = self.state();
            let st = &mut *st;
            st.pending += 1;
            if let Some(tx) = st.lanes.get(&lane) {
                tx.send(job).err().map(|_| None)
            } else if lane.is_some() && st.named_lanes >= self.shared.config.max_lanes {
                Some(Some(ApiFailure::invalid(
                    "websocket_stream_limit_reached",
                    format!(
                        "This connection already uses {} lanes (the limit); reuse a stream_id or open another connection.",
                        st.named_lanes
                    ),
                    Some("stream_id"),
                )))
            } else {
                let (tx, rx) = mpsc::unbounded_channel();
                let _ = tx.send(job);
                if lane.is_some() {
                    st.named_lanes += 1;
                }
                st.lanes.insert(lane.clone(), tx);
                let conn = self.clone();
                let name = lane.clone();
                st.tasks.push(tokio::spawn(
                    async move { conn.lane_worker(name, rx).await },
                ));
                None
            }
        };
        if refused.is_some() {
            self.job_done();
        }
        if let Some(Some(f)) = refused {
            self.fail(&f, lane.as_deref()).await;
        }
    }

    async fn on_steer(&self, obj: &serde_json::Map<String, Value>) {
        let parts = match validate::steer(obj) {
            Ok(p) => p,
            Err(Err(f)) => return self.fail(&f, None).await,
            Err(Ok((p, message))) => {
                let ev = json!({
                    "type": "response.steer.failed",
                    "error": {"type": "invalid_request_error", "code": "invalid_input", "message": message},
                    "steer": {"previous_response_id": p.previous_response_id, "input": p.input},
                });
                // Not part of a running response: numbered on its own (the SDK requires one).
                return self.send_numbered(ev, None, Some(Arc::default())).await;
            }
        };
        let items = lane::steer_items(&parts.input);
        let accepted = {
            let mut guard = self.state();
            let st = &mut *guard;
            match st.active.get_mut(&parts.previous_response_id) {
                Some(active) => {
                    let id = self.shared.next_id("steer");
                    active.steers.push((id.clone(), items));
                    active.flag.request();
                    Ok((id, active.lane.clone(), active.seq.clone()))
                }
                None if st.cache.contains_key(&parts.previous_response_id) => Err((
                    "response_already_completed",
                    "The response completed and no longer accepts steering input; send a response.create continuing it.",
                )),
                None => Err((
                    "response_not_found",
                    "The target response is not running on this connection.",
                )),
            }
        };
        match accepted {
            Ok((id, lane, seq)) => {
                let ev = json!({
                    "type": "response.steer.accepted",
                    "steer": {"id": id, "previous_response_id": parts.previous_response_id},
                });
                self.send_numbered(ev, lane.as_deref(), Some(seq)).await;
            }
            Err((code, message)) => {
                let ev = json!({
                    "type": "response.steer.failed",
                    "error": {"type": "invalid_request_error", "code": code, "message": message},
                    "steer": {"previous_response_id": parts.previous_response_id, "input": parts.input},
                });
                self.send_numbered(ev, None, Some(Arc::default())).await;
            }
        }
    }
}

/// How the writer ended.
enum WriterEnd {
    /// A close frame was sent.
    Closed,
    /// The TCP connection must be cut (drop fault) or the socket failed.
    Cut,
}

struct Writer {
    sink: SplitSink<WebSocket, Message>,
    faults: FaultPlan,
    oversized: usize,
    sent: u64,
    stalled: bool,
}

impl Writer {
    /// Applies a fault; `Some` when the writer must stop.
    async fn fault(&mut self, kind: FaultKind) -> Option<WriterEnd> {
        match kind {
            FaultKind::Drop => return Some(WriterEnd::Cut),
            FaultKind::Stall => self.stalled = true,
            FaultKind::Malformed => {
                let text = r#"{"type":"response.output_text.delta","delta":"trunc"#;
                if self.sink.send(Message::Text(text.into())).await.is_err() {
                    return Some(WriterEnd::Cut);
                }
            }
            FaultKind::Oversized => {
                let text = super::oversized_event(self.sent, self.oversized);
                if self.sink.send(Message::Text(text.into())).await.is_err() {
                    return Some(WriterEnd::Cut);
                }
            }
        }
        None
    }

    async fn flag_faults(&mut self) -> Option<WriterEnd> {
        let n = Some(self.sent);
        let f = self.faults.clone();
        if f.malformed_after == n
            && let Some(end) = self.fault(FaultKind::Malformed).await
        {
            return Some(end);
        }
        if f.oversized_after == n
            && let Some(end) = self.fault(FaultKind::Oversized).await
        {
            return Some(end);
        }
        if f.stall_after == n {
            self.stalled = true;
        }
        if f.drop_after == n {
            return Some(WriterEnd::Cut);
        }
        None
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Out>) -> WriterEnd {
        if let Some(end) = self.flag_faults().await {
            return end;
        }
        while let Some(out) = rx.recv().await {
            match out {
                Out::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = self.sink.send(Message::Close(Some(frame))).await;
                    return WriterEnd::Closed;
                }
                _ if self.stalled => {}
                Out::Fault(kind) => {
                    if let Some(end) = self.fault(kind).await {
                        return end;
                    }
                }
                Out::Event(mut ev, seq) => {
                    if let (Some(seq), Value::Object(obj)) = (seq, &mut ev) {
                        obj.insert("sequence_number".into(), json!(seq.next()));
                    }
                    if self
                        .sink
                        .send(Message::Text(ev.to_string().into()))
                        .await
                        .is_err()
                    {
                        return WriterEnd::Cut;
                    }
                    self.sent += 1;
                    if let Some(end) = self.flag_faults().await {
                        return end;
                    }
                }
            }
        }
        WriterEnd::Cut
    }
}

impl Conn {
    /// A lane finished (or refused) one request.
    pub(super) fn job_done(&self) {
        let mut st = self.state();
        st.pending = st.pending.saturating_sub(1);
        drop(st);
        self.idle.notify_one();
    }
}

/// The close reason when the emulator stops (code 1001, going away).
const SHUTTING_DOWN: &str = "server shutting down";

async fn connection(shared: Arc<Shared>, socket: WebSocket, slot: ConnectionSlot, timing: bool) {
    let _slot = slot;
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel::<Out>(256);
    let writer = Writer {
        sink,
        faults: shared.config.faults.clone(),
        oversized: shared.config.oversized_frame_bytes,
        sent: 0,
        stalled: false,
    };
    let mut writer = tokio::spawn(writer.run(rx));
    let conn = Arc::new(Conn {
        gate: Arc::new(Semaphore::new(shared.config.max_active_responses.max(1))),
        shared: shared.clone(),
        tx: tx.clone(),
        timing,
        state: Mutex::new(ConnState::default()),
        idle: Notify::new(),
    });
    let age = tokio::time::sleep(shared.config.max_connection_age);
    tokio::pin!(age);
    let mut closing = None;
    // Past the age limit with responses still running (`--age-limit-inflight finish`).
    let mut draining = false;
    // The emulator is stopping gracefully: close once the lanes are idle.
    let mut stopping = false;
    loop {
        tokio::select! {
            end = &mut writer => {
                if matches!(end, Ok(WriterEnd::Closed)) { closing = Some(()); }
                break;
            }
            _ = shared.cancel.cancelled(), if closing.is_none() => {
                let _ = tx.send(Out::Close(1001, SHUTTING_DOWN.into())).await;
                closing = Some(());
            }
            _ = shared.drain.cancelled(), if closing.is_none() && !stopping => {
                stopping = true;
                if conn.state().pending == 0 {
                    let _ = tx.send(Out::Close(1001, SHUTTING_DOWN.into())).await;
                    closing = Some(());
                }
            }
            _ = &mut age, if closing.is_none() && !draining => {
                let busy = {
                    let mut st = conn.state();
                    st.aged = true;
                    st.pending > 0
                };
                if busy && shared.config.age_limit_inflight == AgeLimitInFlight::Finish {
                    draining = true;
                } else {
                    // Idle, or `cut`: running responses stop where they are (no terminal event).
                    stop_lanes(&conn);
                    conn.age_error(None).await;
                    let _ = tx.send(Out::Close(MAX_AGE_CLOSE_CODE, MAX_AGE_CLOSE_REASON.into())).await;
                    closing = Some(());
                }
            }
            () = conn.idle.notified(), if (draining || stopping) && closing.is_none() => {
                if conn.state().pending == 0 {
                    if draining {
                        conn.age_error(None).await;
                        let _ = tx.send(Out::Close(MAX_AGE_CLOSE_CODE, MAX_AGE_CLOSE_REASON.into())).await;
                    } else {
                        let _ = tx.send(Out::Close(1001, SHUTTING_DOWN.into())).await;
                    }
                    closing = Some(());
                }
            }
            msg = stream.next() => match msg {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Close(frame))) => {
                    // Answer the client's close handshake (clients wait for it), then end.
                    if closing.is_none() {
                        let code = frame.map_or(1000, |f| f.code);
                        let _ = tx.send(Out::Close(code, String::new())).await;
                        closing = Some(());
                    } else {
                        break;
                    }
                }
                Some(Ok(Message::Text(t))) => if closing.is_none() { conn.on_text(t.as_str()).await },
                Some(Ok(Message::Binary(_))) => {
                    let f = ApiFailure::invalid(
                        "invalid_message",
                        "Binary frames are not supported; send each event as a JSON text frame.",
                        None,
                    );
                    conn.fail(&f, None).await;
                }
                Some(Ok(_)) => {}
            }
        }
    }
    // Stop this connection's lanes; everything cached on it is gone with it.
    stop_lanes(&conn);
    drop(tx);
    if closing.is_some() {
        // Give the client a moment to answer the close frame before the socket drops.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    writer.abort();
}

/// Aborts every lane task of the connection.
fn stop_lanes(conn: &Conn) {
    let tasks = std::mem::take(&mut conn.state().tasks);
    for t in tasks {
        t.abort();
    }
}
