//! HTTP mode: `POST /v1/responses` (SSE when `stream: true`, else one JSON body) and
//! `GET /v1/responses/{id}` for stored responses, with prompt caching modelled honestly.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::context::Stored;
use super::engine::{self, Emitter, Ending, Out, Turn};
use super::scenario::FaultKind;
use super::ws::lane::{check_call_ids, preamble_tokens};
use super::{ApiFailure, FaultPlan, Shared, authorize, validate};
use crate::latency::Transport;

/// `GET /v1/responses/{id}`: a stored (`store=true`) response.
pub(crate) async fn retrieve(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(f) = authorize(&shared, &headers) {
        return f.into_response();
    }
    match shared.store.get(&id) {
        Some(stored) => axum::Json(stored.response).into_response(),
        None => ApiFailure {
            status: 404,
            kind: "invalid_request_error",
            code: Some("not_found".into()),
            message: format!(
                "No response with id '{id}' found (only store=true responses are kept)."
            ),
            param: None,
        }
        .into_response(),
    }
}

/// `POST /v1/responses`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match prepare(&shared, &headers, &body) {
        Ok((turn, stream)) => {
            if stream {
                sse(shared, turn)
            } else {
                json_body(shared, turn).await
            }
        }
        Err(f) => f.into_response(),
    }
}

fn prepare(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(Turn, bool), ApiFailure> {
    let received = std::time::Instant::now();
    authorize(shared, headers)?;
    if body.len() > shared.config.max_message_bytes {
        return Err(ApiFailure::invalid(
            "message_too_large",
            format!(
                "The request body is {} bytes; the limit is {} bytes.",
                body.len(),
                shared.config.max_message_bytes
            ),
            None,
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        ApiFailure::invalid("invalid_json", "The request body is not UTF-8 JSON.", None)
    })?;
    let obj = validate::parse_object(text)?;
    let req = validate::create(obj, false, &|m| shared.model_ok(m))?;
    let parent = match &req.previous_response_id {
        None => None,
        Some(id) => Some(
            shared
                .store
                .get(id)
                .ok_or_else(|| {
                    ApiFailure::invalid(
                        "previous_response_not_found",
                        format!("Previous response with id '{id}' not found. Only store=true responses can be continued over HTTP."),
                        Some("previous_response_id"),
                    )
                })?
                .node,
        ),
    };
    let loaded_tokens = parent.as_ref().map_or(0, |p| p.total_tokens);
    let new_items = req.input_items();
    check_call_ids(parent.as_deref(), &new_items)?;
    let cached = engine::prompt_cached(shared, &req, parent.as_deref(), &new_items);
    let stream = req.stream == Some(true);
    let preamble = preamble_tokens(shared, &req);
    Ok((
        Turn {
            id: shared.ids.item("resp"),
            req: Arc::new(req),
            parent,
            new_items,
            cached_tokens: cached,
            request_bytes: body.len(),
            preamble_tokens: preamble,
            request_tokens: engine::request_tokens(shared, text),
            // No connection holds anything over HTTP: every chained parent is loaded.
            loaded_tokens,
            transport: Transport::Http,
            received,
        },
        stream,
    ))
}

fn keep(shared: &Shared, outcome: &engine::Outcome, id: &str, store: bool) {
    if let (true, Ending::Completed | Ending::Steered | Ending::Truncated, Some(node)) =
        (store, outcome.ending, &outcome.node)
    {
        shared.store.put(
            id.to_owned(),
            Stored {
                node: node.clone(),
                response: outcome.response.clone(),
            },
        );
    }
}

async fn json_body(shared: Arc<Shared>, turn: Turn) -> Response {
    let id = turn.id.clone();
    let store = turn.req.store != Some(false);
    let mut em = Emitter {
        tx: None,
        stream_id: None,
        sent: 0,
        seq: Arc::default(),
    };
    let outcome = engine::run(&shared, turn, &mut em, None, None).await;
    keep(&shared, &outcome, &id, store);
    axum::Json(outcome.response).into_response()
}

/// SSE stream state: the engine's events, numbered, with flag faults applied.
struct SseState {
    rx: mpsc::Receiver<Out>,
    /// Events written so far (flag faults count them).
    sent: u64,
    faults: FaultPlan,
    oversized: usize,
    stalled: bool,
    done: bool,
}

fn sse_event(kind: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

impl SseState {
    /// The bytes for a fault; `Err` cuts the connection.
    fn fault(&mut self, kind: FaultKind) -> Result<Option<Bytes>, std::io::Error> {
        match kind {
            FaultKind::Drop => Err(std::io::Error::other("injected drop fault")),
            FaultKind::Stall => {
                self.stalled = true;
                Ok(None)
            }
            FaultKind::Malformed => Ok(Some(sse_event(
                "response.output_text.delta",
                r#"{"type":"response.output_text.delta","delta":"trunc"#,
            ))),
            FaultKind::Oversized => {
                let data = super::oversized_event(self.sent, self.oversized);
                self.sent += 1;
                Ok(Some(sse_event("emulator.oversized", &data)))
            }
        }
    }

    fn flag_fault(&self) -> Option<FaultKind> {
        let n = Some(self.sent);
        if self.faults.drop_after == n {
            Some(FaultKind::Drop)
        } else if self.faults.stall_after == n {
            Some(FaultKind::Stall)
        } else if self.faults.malformed_after == n {
            Some(FaultKind::Malformed)
        } else if self.faults.oversized_after == n {
            Some(FaultKind::Oversized)
        } else {
            None
        }
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            if self.done {
                return None;
            }
            let out = self.rx.recv().await;
            if self.stalled {
                if out.is_none() {
                    // Keep the connection open without sending, like a hung server.
                    std::future::pending::<()>().await;
                }
                continue;
            }
            let out = match out {
                Some(o) => o,
                None => {
                    self.done = true;
                    return None;
                }
            };
            let fault = match out {
                Out::Event(mut ev, seq) => {
                    if let (Some(seq), Value::Object(obj)) = (seq, &mut ev) {
                        obj.insert("sequence_number".into(), json!(seq.next()));
                    }
                    self.sent += 1;
                    let kind = ev["type"].as_str().unwrap_or("message").to_owned();
                    let mut chunk = sse_event(&kind, &ev.to_string()).to_vec();
                    if let Some(f) = self.flag_fault() {
                        match self.fault(f) {
                            Ok(Some(extra)) => chunk.extend_from_slice(&extra),
                            Ok(None) => {}
                            Err(e) => {
                                self.done = true;
                                return Some(Err(e));
                            }
                        }
                    }
                    return Some(Ok(Bytes::from(chunk)));
                }
                Out::Fault(kind) => kind,
                Out::Close(..) => {
                    self.done = true;
                    return None;
                }
            };
            match self.fault(fault) {
                Ok(Some(b)) => return Some(Ok(b)),
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn sse(shared: Arc<Shared>, turn: Turn) -> Response {
    let (tx, rx) = mpsc::channel::<Out>(256);
    let id = turn.id.clone();
    let store = turn.req.store != Some(false);
    let state = SseState {
        rx,
        sent: 0,
        faults: shared.config.faults.clone(),
        oversized: shared.config.oversized_frame_bytes,
        stalled: false,
        done: false,
    };
    tokio::spawn(async move {
        let mut em = Emitter {
            tx: Some(tx),
            stream_id: None,
            sent: 0,
            seq: Arc::default(),
        };
        let outcome = engine::run(&shared, turn, &mut em, None, None).await;
        keep(&shared, &outcome, &id, store);
    });
    let body = Body::from_stream(stream::unfold(state, |mut st| async move {
        st.next_chunk().await.map(|c| (c, st))
    }));
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
