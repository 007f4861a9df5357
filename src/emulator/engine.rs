//! Streams one response: the event sequence the SDK expects, with modelled latency, usage,
//! steering boundaries and scenario faults. Shared by WebSocket and HTTP mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::Shared;
use super::context::Node;
use super::items::{self, Stop};
use super::model::{Plan, PlanInput, Planned, plan};
use super::response;
use super::scenario::FaultKind;
use crate::latency::{Transport, TurnLoad, predict_turn};
use crate::protocol::CreateRequest;

/// One response's `sequence_number` counter. Real streams number events per response from 0
/// (`response.created` is 0) on WebSocket and HTTP alike; lanes never share a counter. The
/// writer draws the number when it writes the frame, so numbers follow the wire order even
/// when a steering acknowledgement joins the response's events from another task.
#[derive(Debug, Default)]
pub(crate) struct SeqCounter(AtomicU64);

impl SeqCounter {
    /// The next number (0 first).
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// What the connection writer sends.
#[derive(Debug)]
pub(crate) enum Out {
    /// A server event; the writer adds `sequence_number` from the counter when there is one
    /// (events outside a response stream, like request errors, carry none).
    Event(Value, Option<Arc<SeqCounter>>),
    /// Inject a fault now.
    Fault(FaultKind),
    /// Close the connection with this code and reason.
    Close(u16, String),
}

/// Where a response's events go.
pub(crate) struct Emitter {
    /// `None` discards events (non-streaming HTTP).
    pub tx: Option<mpsc::Sender<Out>>,
    /// The lane, echoed on every event.
    pub stream_id: Option<String>,
    /// Events sent for this response.
    pub sent: u64,
    /// This response's sequence numbers.
    pub seq: Arc<SeqCounter>,
}

impl Emitter {
    /// Sends one event; false when the receiver is gone.
    pub async fn emit(&mut self, mut ev: Value) -> bool {
        let Some(tx) = &self.tx else { return true };
        if let (Some(sid), Value::Object(obj)) = (&self.stream_id, &mut ev) {
            obj.insert("stream_id".into(), Value::String(sid.clone()));
        }
        self.sent += 1;
        tx.send(Out::Event(ev, Some(self.seq.clone())))
            .await
            .is_ok()
    }

    async fn fault(&mut self, kind: FaultKind) -> bool {
        match &self.tx {
            Some(tx) => tx.send(Out::Fault(kind)).await.is_ok(),
            None => true,
        }
    }
}

/// Set by `response.steer` while a response runs.
#[derive(Debug, Default)]
pub(crate) struct SteerFlag {
    requested: AtomicBool,
}

impl SteerFlag {
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// Everything one response needs.
pub(crate) struct Turn {
    pub id: String,
    pub req: Arc<CreateRequest>,
    pub parent: Option<Arc<Node>>,
    /// The request's input items (after steering input was prepended).
    pub new_items: Vec<Value>,
    /// Input tokens served from the prompt cache (the same rule on both transports).
    pub cached_tokens: usize,
    /// Bytes of the request as received.
    pub request_bytes: usize,
    /// Tokens of instructions plus tool definitions.
    pub preamble_tokens: usize,
    /// o200k tokens of the request body (counted only when the profile charges for them).
    pub request_tokens: usize,
    /// Tokens of the parent chain loaded because the connection did not hold it.
    pub loaded_tokens: usize,
    /// WebSocket or HTTP mode.
    pub transport: Transport,
    /// When the server started on this request (arrival, or when its lane became free): the
    /// modelled waits count from here, so the emulator's own CPU work hides inside them
    /// instead of adding to them.
    pub received: Instant,
}

/// The request tokens the profile charges validation for: counted only when it does, so a
/// free profile never tokenizes whole HTTP bodies on the measured path.
pub(crate) fn request_tokens(shared: &Shared, body: &str) -> usize {
    if shared.config.latency.request_validation_token_us > 0.0 {
        crate::tokens::count(body)
    } else {
        0
    }
}

/// `modelled` µs moved by the profile's noise (uniform in ±`jitter_ms`), never below zero.
fn jittered(shared: &Shared, modelled_us: f64) -> Duration {
    let j = shared.config.latency.jitter_ms * 1e3;
    let noise = if j > 0.0 {
        (shared.jitter.unit() * 2.0 - 1.0) * j
    } else {
        0.0
    };
    crate::latency::wait_of_us(modelled_us + noise)
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Completed,
    Failed,
    /// Stopped at a safe boundary by steering.
    Steered,
    /// Stopped at `max_output_tokens` (`response.incomplete`).
    Truncated,
    /// The client went away or a drop fault cut it.
    Aborted,
}

/// Server-side timing of one response.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timing {
    pub queued: Duration,
    pub first_output: Duration,
    pub total: Duration,
}

/// The result of one response.
pub(crate) struct Outcome {
    pub ending: Ending,
    /// The chain including this response (none when aborted/failed).
    pub node: Option<Arc<Node>>,
    /// The final response object.
    pub response: Value,
    /// Function calls the client must answer: (call_id, name).
    pub required: Vec<(String, String)>,
    pub timing: Timing,
}

/// Prompt caching, the same on WebSocket and HTTP (the real API reports `cached_tokens` from
/// it whatever the transport): the prompt is instructions, tools, then every context item in
/// order; the longest prefix an earlier request (any connection, either transport) already
/// sent counts, if at least 1024 tokens, in 128-token steps. Records this prompt too.
pub(crate) fn prompt_cached(
    shared: &Shared,
    req: &CreateRequest,
    parent: Option<&Node>,
    new_items: &[Value],
) -> usize {
    let mut segments = Vec::new();
    if let Some(i) = &req.instructions {
        segments.push(shared.tokens.measure_str(i));
    }
    if let Some(t) = req.tools.as_ref().filter(|t| !t.is_empty()) {
        segments.push(shared.tokens.measure(&Value::Array(t.clone())));
    }
    if let Some(p) = parent {
        segments.extend(p.chain_sizes());
    }
    segments.extend(new_items.iter().map(|i| shared.tokens.measure(i)));
    shared.prefix.lookup_and_insert(&segments)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Splits text into several deltas (about three words each) that concatenate to it.
pub(crate) fn text_deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut words = 0;
    for piece in text.split_inclusive(' ') {
        cur.push_str(piece);
        words += 1;
        if words == 3 {
            out.push(std::mem::take(&mut cur));
            words = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits arguments into chunks of about 24 bytes on char boundaries.
pub(crate) fn arg_deltas(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in args.chars() {
        cur.push(c);
        if cur.len() >= 24 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

async fn pause_until(t: Instant) {
    if t > Instant::now() {
        tokio::time::sleep_until(t.into()).await;
    }
}

/// `t + d`, or a moment decades away when a huge profile value would overflow the clock.
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .unwrap_or_else(|| t + Duration::from_secs(86_400 * 365 * 30))
}

/// One response being streamed.
pub(crate) struct Run<'a> {
    pub shared: &'a Shared,
    pub turn: &'a Turn,
    pub em: &'a mut Emitter,
    pub plan: Plan,
    pub model: String,
    pub created_at: u64,
    pub alive: bool,
    /// Pad delta events with `obfuscation` (`stream_options.include_obfuscation`, default on).
    pub obfuscate: bool,
    /// `max_output_tokens`.
    pub budget: Option<usize>,
    pub output_tokens: usize,
    pub reasoning_tokens: usize,
    pub steer: Option<Arc<SteerFlag>>,
    /// False when the response ends waiting for tool outputs (steering then waits for them).
    pub interruptible: bool,
    /// Where the output pacing clock stands (set at the first token).
    pub paced_until: Option<Instant>,
}

impl Run<'_> {
    pub(crate) async fn send(&mut self, ev: Value) {
        if !self.alive {
            return;
        }
        self.alive = self.em.emit(ev).await;
        if let Some(f) = self.plan.fault
            && self.em.sent == f.after_events
            && self.alive
        {
            self.alive = self.em.fault(f.kind).await;
            if matches!(f.kind, FaultKind::Drop) {
                self.alive = false;
            }
        }
    }

    fn response(&self, status: &str, output: &[Value]) -> Value {
        response::object(
            &self.turn.id,
            &self.turn.req,
            &self.model,
            self.created_at,
            status,
            output,
        )
    }
}

/// Streams one response and returns how it ended.
pub(crate) async fn run(
    shared: &Shared,
    turn: Turn,
    em: &mut Emitter,
    gate: Option<Arc<Semaphore>>,
    steer: Option<Arc<SteerFlag>>,
) -> Outcome {
    let start = Instant::now();
    let memo = &shared.tokens;
    let new_tokens: usize = turn.new_items.iter().map(|i| memo.measure(i).0).sum();
    let parent_tokens = turn.parent.as_ref().map_or(0, |p| p.total_tokens);
    let input_tokens = turn.preamble_tokens + parent_tokens + new_tokens;
    let cached = turn.cached_tokens.min(input_tokens);
    let generate = turn.req.generate != Some(false);
    let mut plan = if generate {
        plan(&PlanInput {
            parent: turn.parent.as_deref(),
            new_items: &turn.new_items,
            tools: turn.req.tools.as_deref().unwrap_or(&[]),
            previous_response_id: turn.req.previous_response_id.as_deref(),
            new_tokens,
            context_tokens: input_tokens,
            cached_tokens: cached,
            scenario: shared.config.scenario.as_ref(),
            tool_choice: turn.req.tool_choice.as_ref(),
            ids: &shared.ids,
        })
    } else {
        Plan::default()
    };
    // `max_tool_calls` is honoured: calls past it are not made.
    if let Some(max) = turn.req.extra.get("max_tool_calls").and_then(Value::as_u64) {
        let mut calls = 0;
        plan.items.retain(|i| {
            let call = matches!(i, Planned::Call { .. });
            calls += usize::from(call);
            !call || calls as u64 <= max
        });
    }
    let model = turn
        .req
        .model
        .clone()
        .unwrap_or_else(|| "emulator".to_owned());
    let thinking = generate
        .then(|| {
            items::thinking(
                &response::reasoning(&turn.req, &model),
                turn.req.extra.get("include"),
                turn.new_items.len(),
            )
        })
        .flatten();
    let latency = &shared.config.latency;
    let interruptible = !plan.requires_input();
    let obfuscate = turn
        .req
        .extra
        .get("stream_options")
        .and_then(|o| o.get("include_obfuscation"))
        .and_then(Value::as_bool)
        != Some(false);
    let budget = turn
        .req
        .extra
        .get("max_output_tokens")
        .and_then(Value::as_u64)
        .map(|b| usize::try_from(b).unwrap_or(usize::MAX));
    let mut run = Run {
        shared,
        turn: &turn,
        em,
        plan,
        model,
        created_at: now_secs(),
        alive: true,
        obfuscate,
        budget,
        output_tokens: 0,
        reasoning_tokens: 0,
        steer,
        interruptible,
        paced_until: None,
    };
    // The profile's own model of this turn; output is paced per delta as it streams.
    let modelled = predict_turn(
        latency,
        turn.transport,
        &TurnLoad {
            request_bytes: turn.request_bytes as f64,
            request_tokens: turn.request_tokens as f64,
            loaded_tokens: turn.loaded_tokens as f64,
            uncached_tokens: (input_tokens - cached) as f64,
            output_tokens: 0.0,
            generates: generate,
        },
    );
    pause_until(later(
        turn.received,
        jittered(shared, modelled.created_us()),
    ))
    .await;

    // Admission: up to N active responses per connection; the rest are queued.
    let mut timing = Timing::default();
    let mut _permit: Option<OwnedSemaphorePermit> = None;
    match gate {
        Some(sem) => match sem.clone().try_acquire_owned() {
            Ok(p) => {
                _permit = Some(p);
                let created = run.response("in_progress", &[]);
                run.send(json!({"type": "response.created", "response": created}))
                    .await;
            }
            Err(_) => {
                let queued = run.response("queued", &[]);
                run.send(json!({"type": "response.created", "response": queued.clone()}))
                    .await;
                run.send(json!({"type": "response.queued", "response": queued}))
                    .await;
                _permit = sem.acquire_owned().await.ok();
                timing.queued = start.elapsed();
            }
        },
        None => {
            let created = run.response("in_progress", &[]);
            run.send(json!({"type": "response.created", "response": created}))
                .await;
        }
    }
    let in_progress = run.response("in_progress", &[]);
    run.send(json!({"type": "response.in_progress", "response": in_progress}))
        .await;

    let mut output: Vec<Value> = Vec::new();
    let mut stop = None;
    if generate {
        let first = later(
            Instant::now(),
            jittered(shared, modelled.first_token_after_created_us()),
        );
        pause_until(first).await;
        // Output is paced against one clock from here, so timer rounding never accumulates.
        run.paced_until = Some(first);
    }
    timing.first_output = start.elapsed();
    if let Some(t) = &thinking {
        let (item, s) = run.reasoning_item(0, t).await;
        output.push(item);
        stop = s;
    }
    let planned = run.plan.items.clone();
    for p in &planned {
        if !run.alive || stop.is_some() {
            break;
        }
        if run.interruptible && run.steer.as_ref().is_some_and(|f| f.is_requested()) {
            stop = Some(Stop::Steered);
            break;
        }
        let idx = output.len();
        let (item, s) = match p {
            Planned::Text(text) => run.text_item(idx, text).await,
            Planned::Call {
                call_id,
                name,
                arguments,
            } => run.call_item(idx, call_id, name, arguments).await,
        };
        output.push(item);
        stop = s;
    }
    let steered_now = run.interruptible && run.steer.as_ref().is_some_and(|f| f.is_requested());
    let mut ending = match stop {
        Some(Stop::Steered) => Ending::Steered,
        Some(Stop::Budget) => Ending::Truncated,
        None if generate && steered_now && planned.is_empty() => Ending::Steered,
        None => Ending::Completed,
    };
    if !run.alive {
        ending = Ending::Aborted;
    } else if run.plan.fail {
        ending = Ending::Failed;
    }

    let (output_tokens, reasoning_tokens) = (run.output_tokens, run.reasoning_tokens);
    let usage = json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    });
    let (status, kind) = match ending {
        Ending::Completed | Ending::Aborted => ("completed", "response.completed"),
        Ending::Failed => ("failed", "response.failed"),
        Ending::Steered | Ending::Truncated => ("incomplete", "response.incomplete"),
    };
    let mut response = run.response(status, &output);
    response["usage"] = usage;
    match ending {
        Ending::Failed => {
            response["error"] = json!({"code": "server_error", "message": "The emulated model failed as the scenario scripted (fail = true)."});
        }
        Ending::Steered => {
            response["incomplete_details"] = json!({"reason": "steered"});
        }
        Ending::Truncated => {
            response["incomplete_details"] = json!({"reason": "max_output_tokens"});
        }
        _ => {
            response["completed_at"] = json!(now_secs());
        }
    }
    run.send(json!({"type": kind, "response": response.clone()}))
        .await;
    if !run.alive {
        ending = Ending::Aborted;
    }
    timing.total = start.elapsed();

    // Only complete calls wait for the client's outputs.
    let required: Vec<(String, String)> = output
        .iter()
        .filter(|i| i["type"] == "function_call" && i["status"] == "completed")
        .map(|i| {
            (
                i["call_id"].as_str().unwrap_or_default().to_owned(),
                i["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let node = matches!(
        ending,
        Ending::Completed | Ending::Steered | Ending::Truncated
    )
    .then(|| {
        let mut items = turn.new_items.clone();
        items.extend(output.iter().cloned());
        Node::new(turn.parent.clone(), items, memo)
    });
    Outcome {
        ending,
        node,
        response,
        required,
        timing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_concatenate_to_the_whole() {
        let t = "one two three four five six seven";
        let d = text_deltas(t);
        assert!(d.len() >= 2);
        assert_eq!(d.concat(), t);
        let a = r#"{"path":"src/parser.rs","old":"é…","new":"x"}"#;
        assert_eq!(arg_deltas(a).concat(), a);
    }
}
