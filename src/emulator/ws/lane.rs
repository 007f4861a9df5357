//! One lane of a WebSocket connection: runs its requests FIFO, resolves
//! `previous_response_id` against the connection cache and the store, and turns accepted
//! steering into automatic successors or `response.steer.pending`.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::super::ApiFailure;
use super::super::context::{Node, Stored};
use super::super::engine::{self, Emitter, Ending, SeqCounter, SteerFlag, Turn};
use super::{Active, Conn};
use crate::latency::Transport;
use crate::protocol::CreateRequest;

/// A `response.create` waiting on its lane.
pub(crate) struct Job {
    pub req: CreateRequest,
    pub request_bytes: usize,
    /// See [`Turn::request_tokens`].
    pub request_tokens: usize,
    /// When the request arrived.
    pub received: std::time::Instant,
}

/// Steering input as input items (a string becomes one user message).
pub(crate) fn steer_items(input: &Value) -> Vec<Value> {
    match input {
        Value::String(s) => vec![json!({"type": "message", "role": "user", "content": s})],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if i.get("type").is_none() {
                    i["type"] = json!("message");
                }
                i
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Tokens of the instructions and tool definitions a request carries.
pub(crate) fn preamble_tokens(shared: &super::Shared, req: &CreateRequest) -> usize {
    let it = req
        .instructions
        .as_deref()
        .map_or(0, |i| shared.tokens.measure_str(i).0);
    let tt = req
        .tools
        .as_ref()
        .filter(|t| !t.is_empty())
        .map_or(0, |t| shared.tokens.measure(&Value::Array(t.clone())).0);
    it + tt
}

/// Checks that every `function_call_output` answers a call in the context.
pub(crate) fn check_call_ids(parent: Option<&Node>, items: &[Value]) -> Result<(), ApiFailure> {
    for (i, item) in items.iter().enumerate() {
        if item["type"] != "function_call_output" {
            continue;
        }
        let call_id = item["call_id"].as_str().unwrap_or_default();
        let earlier = items[..i]
            .iter()
            .any(|e| e["type"] == "function_call" && e["call_id"] == call_id);
        if !earlier && !parent.is_some_and(|p| p.has_call(call_id)) {
            return Err(ApiFailure::invalid(
                "invalid_value",
                format!("No tool call found for function call output with call_id {call_id}."),
                Some(&format!("input[{i}].call_id")),
            ));
        }
    }
    Ok(())
}

impl Conn {
    pub(super) async fn lane_worker(
        self: Arc<Self>,
        lane: Option<String>,
        mut rx: mpsc::UnboundedReceiver<Job>,
    ) {
        // A request that waited behind another starts when the lane frees.
        let mut free_since = std::time::Instant::now();
        while let Some(job) = rx.recv().await {
            let mut next = Some(job);
            while let Some(mut job) = next.take() {
                job.received = job.received.max(free_since);
                next = self.run_job(&lane, job).await;
                free_since = std::time::Instant::now();
            }
            self.job_done();
        }
    }

    /// Runs one request; returns an automatic successor (accepted steering) if any.
    async fn run_job(&self, lane: &Option<String>, job: Job) -> Option<Job> {
        let shared = &self.shared;
        let req = job.req;
        let prev = req.previous_response_id.clone();
        let preamble_tokens = preamble_tokens(shared, &req);
        let mut loaded_tokens = 0;
        let parent = match &prev {
            None => None,
            Some(id) => {
                // The connection cache continues the chain without loading anything; it is
                // state continuation, not prompt caching, and never shows up in cached_tokens.
                let hit = self.state().cache.get(id).cloned();
                match hit {
                    Some(node) => Some(node),
                    None => match shared.store.get(id) {
                        Some(stored) => {
                            loaded_tokens = stored.node.total_tokens;
                            Some(stored.node)
                        }
                        None => {
                            let f = ApiFailure::invalid(
                                "previous_response_not_found",
                                format!(
                                    "Previous response with id '{id}' not found. It is not in this connection's cache and was not stored (store=false); resend the full context."
                                ),
                                Some("previous_response_id"),
                            );
                            self.fail(&f, lane.as_deref()).await;
                            return None;
                        }
                    },
                }
            }
        };
        let mut new_items = req.input_items();
        if let Err(f) = check_call_ids(parent.as_deref(), &new_items) {
            if let Some(p) = &prev {
                self.state().cache.remove(p);
            }
            self.fail(&f, lane.as_deref()).await;
            return None;
        }
        if let Some(p) = &prev {
            let queued = self.state().pending_steers.remove(p);
            if let Some(mut steer) = queued {
                steer.append(&mut new_items);
                new_items = steer;
            }
        }
        let cached = engine::prompt_cached(shared, &req, parent.as_deref(), &new_items);
        let id = shared.ids.item("resp");
        let flag = Arc::new(SteerFlag::default());
        let seq = Arc::new(SeqCounter::default());
        self.state().active.insert(
            id.clone(),
            Active {
                flag: flag.clone(),
                lane: lane.clone(),
                seq: seq.clone(),
                steers: Vec::new(),
            },
        );
        let store = req.store != Some(false);
        let req = Arc::new(req);
        let turn = Turn {
            id: id.clone(),
            req: req.clone(),
            parent: parent.clone(),
            new_items,
            cached_tokens: cached,
            request_bytes: job.request_bytes,
            preamble_tokens,
            request_tokens: job.request_tokens,
            loaded_tokens,
            transport: Transport::WebSocket,
            received: job.received,
        };
        let mut em = Emitter {
            tx: Some(self.tx.clone()),
            stream_id: lane.clone(),
            sent: 0,
            seq: seq.clone(),
        };
        let outcome = engine::run(shared, turn, &mut em, Some(self.gate.clone()), Some(flag)).await;
        let steers = self
            .state()
            .active
            .remove(&id)
            .map(|a| a.steers)
            .unwrap_or_default();
        match (&outcome.ending, &outcome.node) {
            (Ending::Completed | Ending::Steered | Ending::Truncated, Some(node)) => {
                self.state().cache.insert(id.clone(), node.clone());
                if store {
                    shared.store.put(
                        id.clone(),
                        Stored {
                            node: node.clone(),
                            response: outcome.response.clone(),
                        },
                    );
                }
            }
            (Ending::Failed, _) => {
                if let Some(p) = &prev {
                    self.state().cache.remove(p);
                }
            }
            _ => {}
        }
        if outcome.ending == Ending::Aborted {
            return None;
        }
        if self.timing {
            let usage = &outcome.response["usage"];
            let ev = json!({
                "type": "responsesapi.websocket_timing",
                "response_id": id,
                "timing_metrics": {
                    "queue_ms": outcome.timing.queued.as_secs_f64() * 1000.0,
                    "time_to_first_output_ms": outcome.timing.first_output.as_secs_f64() * 1000.0,
                    "total_ms": outcome.timing.total.as_secs_f64() * 1000.0,
                    "input_tokens": usage["input_tokens"],
                    "cached_tokens": usage["input_tokens_details"]["cached_tokens"],
                },
            });
            self.send(ev, lane.as_deref()).await;
        }
        if steers.is_empty() {
            return None;
        }
        if outcome.ending == Ending::Failed {
            for (sid, items) in steers {
                let ev = json!({
                    "type": "response.steer.failed",
                    "error": {"type": "invalid_request_error", "code": "response_not_active", "message": "The steered response failed; its input was not committed."},
                    "steer": {"id": sid, "previous_response_id": id, "input": items},
                });
                self.send_numbered(ev, lane.as_deref(), Some(seq.clone()))
                    .await;
            }
            return None;
        }
        if !outcome.required.is_empty() {
            let stubs: Vec<Value> = outcome
                .required
                .iter()
                .map(|(call_id, name)| json!({"type": "function_call_output", "call_id": call_id, "name": name}))
                .collect();
            let mut queued = Vec::new();
            for (sid, mut items) in steers {
                let ev = json!({
                    "type": "response.steer.pending",
                    "reason": "waiting_for_required_input",
                    "required_input": stubs,
                    "steer": {"id": sid, "previous_response_id": id},
                });
                self.send_numbered(ev, lane.as_deref(), Some(seq.clone()))
                    .await;
                queued.append(&mut items);
            }
            self.state().pending_steers.insert(id, queued);
            return None;
        }
        // Automatic successor: inherits the settings, continues with the queued input.
        let mut next = (*req).clone();
        next.previous_response_id = Some(id);
        next.input = Some(Value::Array(
            steers.into_iter().flat_map(|(_, items)| items).collect(),
        ));
        next.generate = None;
        Some(Job {
            req: next,
            request_bytes: 0,
            request_tokens: 0,
            received: std::time::Instant::now(),
        })
    }
}
