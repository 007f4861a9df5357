//! The mapping from the ledger to spans: a session span, one span per connection under it,
//! one span per turn under its connection, with GenAI, OpenInference and `turnscope.` attributes.
//!
//! Pure: no I/O and no clock. Times are the recording's (`t_us` placed on the wall clock of the
//! first frame), ids are derived from the trace id so the live exporter can name a parent
//! span before it is sent.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::frame::{Dir, Frame};
use crate::ledger::{CacheOutcome, ConnEvent, Connection, Ledger, SendMode, Turn, TurnStatus};
use crate::protocol::EventHead;

/// Where `t_us = 0` falls on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBase(SystemTime);

impl TimeBase {
    /// From a frame's wall time minus its `t_us` (`None` when the wall time does not parse).
    pub fn from_frame(frame: &Frame) -> Option<Self> {
        let wall = humantime::parse_rfc3339_weak(&frame.wall).ok()?;
        Some(TimeBase(
            wall.checked_sub(Duration::from_micros(frame.t_us))?,
        ))
    }

    /// From an RFC 3339 time (a transcript header's `created`).
    pub fn from_rfc3339(text: &str) -> Option<Self> {
        humantime::parse_rfc3339_weak(text).ok().map(TimeBase)
    }

    /// The wall time of `t_us`.
    pub fn at(&self, t_us: u64) -> SystemTime {
        self.0 + Duration::from_micros(t_us)
    }
}

/// One recorded session as one trace.
#[derive(Debug, Clone)]
pub struct SessionTrace {
    trace_id: TraceId,
    session: String,
    time: TimeBase,
    include_content: bool,
    scope: InstrumentationScope,
}

/// Which span an id names.
#[derive(Hash)]
enum Slot {
    Session,
    Connection(u32),
    Turn(usize),
}

impl SessionTrace {
    /// A new trace for session `session` (a file name or `proxy`), with a fresh random trace id.
    pub fn new(session: &str, time: TimeBase, include_content: bool) -> Self {
        use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
        Self::with_trace_id(
            RandomIdGenerator::default().new_trace_id(),
            session,
            time,
            include_content,
        )
    }

    /// A trace with a given id (tests, reproducible output).
    pub fn with_trace_id(
        trace_id: TraceId,
        session: &str,
        time: TimeBase,
        include_content: bool,
    ) -> Self {
        SessionTrace {
            trace_id,
            session: session.to_owned(),
            time,
            include_content,
            scope: InstrumentationScope::builder("turnscope")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }

    /// The trace id, as the backends show it (32 hex digits).
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// Every span of a finished session (or a snapshot of a running one at `ledger.last_t_us()`).
    /// `sent` finds a sent frame by push index (for steer times and, with content, the request).
    pub fn all<'a>(
        &self,
        ledger: &Ledger,
        sent: &dyn Fn(u64) -> Option<&'a Frame>,
    ) -> Vec<SpanData> {
        let mut out = vec![self.session_span(ledger)];
        out.extend(
            ledger
                .connections()
                .iter()
                .map(|c| self.connection_span(ledger, c)),
        );
        out.extend(
            ledger
                .turns()
                .iter()
                .map(|t| self.turn_span(ledger, t, sent)),
        );
        out
    }

    fn span_id(&self, slot: &Slot) -> SpanId {
        let mut h = DefaultHasher::new();
        self.trace_id.to_bytes().hash(&mut h);
        slot.hash(&mut h);
        // An all-zero span id is invalid.
        SpanId::from_bytes(h.finish().max(1).to_be_bytes())
    }

    fn context(&self, slot: &Slot) -> SpanContext {
        SpanContext::new(
            self.trace_id,
            self.span_id(slot),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        )
    }

    fn span(
        &self,
        slot: &Slot,
        parent: Option<&Slot>,
        name: String,
        (start_us, end_us): (u64, u64),
        attributes: Vec<KeyValue>,
    ) -> SpanData {
        SpanData {
            span_context: self.context(slot),
            parent_span_id: parent.map_or(SpanId::INVALID, |p| self.span_id(p)),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned(name),
            start_time: self.time.at(start_us),
            end_time: self.time.at(end_us.max(start_us)),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: self.scope.clone(),
        }
    }

    /// The root span: the whole session, with the ledger's totals and its notes as events.
    pub fn session_span(&self, ledger: &Ledger) -> SpanData {
        let start = ledger
            .connections()
            .iter()
            .map(|c| c.opened_us)
            .chain(ledger.turns().iter().map(|t| t.sent_us))
            .min()
            .unwrap_or(0);
        let totals = ledger.totals();
        let mut a = Attrs::default();
        a.s("openinference.span.kind", "AGENT");
        a.s("session.id", &self.session);
        a.s("turnscope.session", &self.session);
        a.u("turnscope.turns", totals.turns as u64);
        a.u("turnscope.connections", ledger.connections().len() as u64);
        a.u("turnscope.incremental.bytes", totals.incremental.bytes);
        a.u("turnscope.incremental.tokens", totals.incremental.tokens);
        a.u("turnscope.full_context.bytes", totals.full_context.bytes);
        a.u("turnscope.full_context.tokens", totals.full_context.tokens);
        a.i("turnscope.saved.bytes", totals.saved_bytes());
        a.i("turnscope.saved.tokens", totals.saved_tokens());
        a.f("turnscope.saved.pct", totals.saved_pct());
        a.u("gen_ai.usage.input_tokens", totals.input_tokens);
        a.u("gen_ai.usage.output_tokens", totals.output_tokens);
        a.u("gen_ai.usage.cache_read.input_tokens", totals.cached_tokens);
        a.u("turnscope.tool_calls", totals.tool_calls as u64);
        a.u("turnscope.errors", totals.errors as u64);
        let mut span = self.span(
            &Slot::Session,
            None,
            format!("turnscope session {}", self.session),
            (start, ledger.last_t_us()),
            a.0,
        );
        span.events.events = ledger
            .notes()
            .iter()
            .map(|n| {
                event(
                    self.time.at(n.t_us),
                    "turnscope.note",
                    vec![
                        KeyValue::new("turnscope.conn", i64::from(n.conn)),
                        KeyValue::new("turnscope.note", n.text.clone()),
                    ],
                )
            })
            .collect();
        span
    }

    /// A connection's span: open to close (or to the ledger's last frame while still open).
    pub fn connection_span(&self, ledger: &Ledger, conn: &Connection) -> SpanData {
        let end = conn.closed_us.unwrap_or_else(|| ledger.last_t_us());
        let mut a = Attrs::default();
        a.s("openinference.span.kind", "CHAIN");
        a.s("session.id", &self.session);
        a.u("turnscope.conn", u64::from(conn.index));
        a.opt_s("turnscope.url", conn.url.as_deref());
        a.u("turnscope.turns", conn.turns as u64);
        a.u("turnscope.age_us", conn.age_us(ledger.last_t_us()));
        a.opt_u("turnscope.close.code", conn.close_code.map(u64::from));
        a.opt_s("turnscope.close.reason", conn.close_reason.as_deref());
        a.opt_s(
            "turnscope.reconnect_reason",
            conn.reconnect_reason.as_deref(),
        );
        let mut span = self.span(
            &Slot::Connection(conn.index),
            Some(&Slot::Session),
            format!("connection {}", conn.index),
            (conn.opened_us, end),
            a.0,
        );
        if let Some(reason) = &conn.reconnect_reason {
            span.events.events.push(event(
                self.time.at(conn.opened_us),
                "turnscope.reconnect",
                vec![KeyValue::new("turnscope.reason", reason.clone())],
            ));
        }
        if let Some(closed) = conn.closed_us {
            let mut attrs = Vec::new();
            if let Some(code) = conn.close_code {
                attrs.push(KeyValue::new("turnscope.close.code", i64::from(code)));
            }
            if let Some(reason) = &conn.close_reason {
                attrs.push(KeyValue::new("turnscope.close.reason", reason.clone()));
            }
            span.events
                .events
                .push(event(self.time.at(closed), "turnscope.close", attrs));
        }
        span
    }

    /// A turn's span: send to terminal event, under its connection, linked to its parent turn.
    pub fn turn_span<'a>(
        &self,
        ledger: &Ledger,
        turn: &Turn,
        sent: &dyn Fn(u64) -> Option<&'a Frame>,
    ) -> SpanData {
        let end = turn.done_us.unwrap_or_else(|| ledger.last_t_us());
        let model = turn.model.as_deref().unwrap_or("unknown");
        let mut span = self.span(
            &Slot::Turn(turn.index),
            Some(&Slot::Connection(turn.conn)),
            format!("chat {model}"),
            (turn.sent_us, end),
            self.turn_attributes(turn, sent),
        );
        span.span_kind = SpanKind::Client;
        span.status = match &turn.status {
            TurnStatus::Completed | TurnStatus::Incomplete { .. } => Status::Ok,
            TurnStatus::Error { code, message } => Status::error(match code {
                Some(code) => format!("{code}: {message}"),
                None => message.clone(),
            }),
            TurnStatus::Failed => Status::error("response.failed"),
            TurnStatus::Dropped => Status::error("the connection closed before the terminal event"),
            TurnStatus::NotSent => Status::error("dropped at a proxy breakpoint: never sent"),
            TurnStatus::Queued | TurnStatus::InFlight => Status::Unset,
        };
        span.events.events = self.turn_events(turn, sent);
        if let Some(parent) = turn
            .previous_response_id
            .as_deref()
            .and_then(|id| ledger.turn_by_response(id))
        {
            span.links.links.push(Link::new(
                self.context(&Slot::Turn(parent.index)),
                vec![KeyValue::new("turnscope.link", "previous_response_id")],
                0,
            ));
        }
        span
    }

    fn turn_attributes<'a>(
        &self,
        turn: &Turn,
        sent: &dyn Fn(u64) -> Option<&'a Frame>,
    ) -> Vec<KeyValue> {
        let mut a = Attrs::default();
        // OpenTelemetry GenAI semantic conventions.
        a.s("gen_ai.operation.name", "chat");
        a.s("gen_ai.provider.name", "openai");
        a.opt_s("gen_ai.request.model", turn.model.as_deref());
        a.opt_s("gen_ai.response.id", turn.response_id.as_deref());
        if let Some(reason) = finish_reason(&turn.status) {
            a.list("gen_ai.response.finish_reasons", [reason]);
        }
        // OpenInference, which Phoenix renders (model, token counts, kind).
        a.s("openinference.span.kind", "LLM");
        a.s("session.id", &self.session);
        a.s("llm.provider", "openai");
        a.s("llm.system", "openai");
        a.opt_s("llm.model_name", turn.model.as_deref());
        if let Some(u) = &turn.usage {
            let cached = u.input_tokens_details.cached_tokens;
            a.u("gen_ai.usage.input_tokens", u.input_tokens);
            a.u("gen_ai.usage.output_tokens", u.output_tokens);
            a.u("gen_ai.usage.cache_read.input_tokens", cached);
            a.opt_u(
                "gen_ai.usage.cache_creation.input_tokens",
                u.input_tokens_details.cache_write_tokens,
            );
            a.u("llm.token_count.prompt", u.input_tokens);
            a.u("llm.token_count.completion", u.output_tokens);
            a.u("llm.token_count.total", u.total_tokens);
            a.u("llm.token_count.prompt_details.cache_read", cached);
            a.u(
                "llm.token_count.completion_details.reasoning",
                u.output_tokens_details.reasoning_tokens,
            );
        }
        // turnscope's own figures, all from the ledger.
        a.u("turnscope.turn", turn.index as u64);
        a.u("turnscope.conn", u64::from(turn.conn));
        a.s("turnscope.lane", turn.lane.as_deref().unwrap_or("default"));
        a.s("turnscope.transport", transport(turn));
        a.s("turnscope.status", turn.status.label());
        if let TurnStatus::Incomplete { reason: Some(r) } = &turn.status {
            a.s("turnscope.incomplete_reason", r);
        }
        a.opt_s(
            "turnscope.previous_response_id",
            turn.previous_response_id.as_deref(),
        );
        a.opt_b("turnscope.store", turn.store);
        a.b("turnscope.generate", turn.generate);
        a.b("turnscope.steered_successor", turn.steered_successor);
        a.u("turnscope.incremental.bytes", turn.incremental.bytes);
        a.u("turnscope.incremental.items", turn.incremental.items);
        a.u("turnscope.incremental.tokens", turn.incremental.tokens);
        a.u("turnscope.full_context.bytes", turn.full_context.bytes);
        a.u("turnscope.full_context.items", turn.full_context.items);
        a.u("turnscope.full_context.tokens", turn.full_context.tokens);
        a.i("turnscope.saved.bytes", turn.saved_bytes());
        a.i("turnscope.saved.tokens", turn.saved_tokens());
        a.f("turnscope.saved.pct", turn.saved_pct());
        a.u("turnscope.context_tokens", turn.context_tokens);
        a.u(
            "turnscope.cache_estimate_tokens",
            turn.cache_estimate_tokens,
        );
        a.opt_u("turnscope.latency.created_us", turn.latency_created_us());
        a.opt_u("turnscope.ttft_us", turn.ttft_us());
        a.opt_u("turnscope.latency.total_us", turn.latency_total_us());
        a.opt_u("turnscope.gap_us", turn.gap_us);
        a.u("turnscope.steers", u64::from(turn.steers));
        a.u("turnscope.tool_calls", turn.tool_calls.len() as u64);
        if !turn.tool_calls.is_empty() {
            a.list(
                "turnscope.tool_names",
                turn.tool_calls.iter().map(|c| c.name.clone()),
            );
        }
        let insight = &turn.insight;
        a.s("turnscope.send_mode", send_mode(&insight.mode));
        if let SendMode::FullResend {
            reason,
            known_items,
            known_bytes,
            known_tokens,
        } = &insight.mode
        {
            a.s("turnscope.full_resend.reason", reason);
            a.u("turnscope.full_resend.known_items", *known_items);
            a.u("turnscope.full_resend.known_bytes", *known_bytes);
            a.u("turnscope.full_resend.known_tokens", *known_tokens);
        }
        a.s("turnscope.cache", cache(insight.cache));
        a.u(
            "turnscope.expected_cached_tokens",
            insight.expected_cached_tokens,
        );
        if !insight.causes.is_empty() {
            a.list(
                "turnscope.causes",
                insight.causes.iter().map(|c| tag(c, "cause")),
            );
            a.s(
                "turnscope.causes.json",
                &serde_json::to_string(&insight.causes).unwrap_or_default(),
            );
        }
        a.opt_b("turnscope.retry_safe", insight.retry_safe);
        if self.include_content {
            if let Some(request) = turn
                .request_frame
                .and_then(sent)
                .and_then(|f| f.payload.json())
            {
                a.s("input.value", &crate::transcript::redact(request, &[]));
                a.s("input.mime_type", "application/json");
            }
            let mut output = turn.output_text.clone();
            for call in &turn.tool_calls {
                output.push_str(&format!("\n{}({})", call.name, call.arguments));
            }
            a.s(
                "output.value",
                &crate::transcript::redact(output.trim(), &[]),
            );
            a.s("output.mime_type", "text/plain");
        }
        a.0
    }

    fn turn_events<'a>(&self, turn: &Turn, sent: &dyn Fn(u64) -> Option<&'a Frame>) -> Vec<Event> {
        let mut out = Vec::new();
        for e in &turn.insight.events {
            let name = match e {
                ConnEvent::AgeLimit => "turnscope.rotation",
                ConnEvent::Reconnect { .. } => "turnscope.reconnect",
                ConnEvent::ResendAfterNotFound { .. } => "turnscope.resend_after_not_found",
                ConnEvent::HttpFallback => "turnscope.http_fallback",
            };
            let json = serde_json::to_string(e).unwrap_or_default();
            out.push(event(
                self.time.at(turn.sent_us),
                name,
                vec![KeyValue::new("turnscope.event", json)],
            ));
        }
        for frame in turn.frames.iter().filter_map(sent) {
            if frame.dir == Dir::Sent && frame.payload.json().is_some_and(is_steer) {
                out.push(event(
                    self.time.at(frame.t_us),
                    "turnscope.steer",
                    Vec::new(),
                ));
            }
        }
        let at = self.time.at(turn.done_us.unwrap_or(turn.sent_us));
        match &turn.status {
            TurnStatus::Error { code, message } => {
                let mut attrs = vec![
                    KeyValue::new(
                        "exception.type",
                        code.clone().unwrap_or_else(|| "error".into()),
                    ),
                    KeyValue::new("exception.message", message.clone()),
                ];
                if let Some(safe) = turn.insight.retry_safe {
                    attrs.push(KeyValue::new("turnscope.retry_safe", safe));
                }
                out.push(event(at, "exception", attrs));
            }
            TurnStatus::Failed => out.push(event(
                at,
                "exception",
                vec![KeyValue::new("exception.type", "response.failed")],
            )),
            TurnStatus::Dropped => out.push(event(at, "turnscope.dropped", Vec::new())),
            _ => {}
        }
        out.sort_by_key(|e| e.timestamp);
        out
    }
}

/// Whether a sent frame's text is a `response.steer`.
pub(crate) fn is_steer(text: &str) -> bool {
    EventHead::parse(text).is_some_and(|h| h.kind() == "response.steer")
}

fn event(at: SystemTime, name: &'static str, attributes: Vec<KeyValue>) -> Event {
    Event::new(name, at, attributes, 0)
}

/// The GenAI `finish_reasons` value for a final status.
fn finish_reason(status: &TurnStatus) -> Option<String> {
    match status {
        TurnStatus::Completed => Some("completed".into()),
        TurnStatus::Incomplete { reason } => {
            Some(reason.clone().unwrap_or_else(|| "incomplete".into()))
        }
        TurnStatus::Failed | TurnStatus::Error { .. } => Some("error".into()),
        TurnStatus::Dropped => Some("dropped".into()),
        TurnStatus::NotSent => Some("not_sent".into()),
        TurnStatus::Queued | TurnStatus::InFlight => None,
    }
}

fn transport(turn: &Turn) -> &'static str {
    turn.transport.name()
}

fn send_mode(mode: &SendMode) -> &'static str {
    match mode {
        SendMode::Fresh => "fresh",
        SendMode::Incremental => "incremental",
        SendMode::FullResend { .. } => "full_resend",
    }
}

fn cache(outcome: CacheOutcome) -> &'static str {
    match outcome {
        CacheOutcome::NotApplicable => "not_applicable",
        CacheOutcome::Unknown => "unknown",
        CacheOutcome::Hit => "hit",
        CacheOutcome::Miss => "miss",
    }
}

/// The serde tag of a ledger enum (`tools_changed`, …), the same name `stats --json` uses.
fn tag(value: &impl serde::Serialize, key: &str) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.get(key).and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Attributes under construction; integers are OTLP int64.
#[derive(Default)]
struct Attrs(Vec<KeyValue>);

impl Attrs {
    fn s(&mut self, k: &'static str, v: &str) {
        self.0.push(KeyValue::new(k, v.to_owned()));
    }
    fn opt_s(&mut self, k: &'static str, v: Option<&str>) {
        if let Some(v) = v {
            self.s(k, v);
        }
    }
    fn u(&mut self, k: &'static str, v: u64) {
        self.0
            .push(KeyValue::new(k, i64::try_from(v).unwrap_or(i64::MAX)));
    }
    fn opt_u(&mut self, k: &'static str, v: Option<u64>) {
        if let Some(v) = v {
            self.u(k, v);
        }
    }
    fn i(&mut self, k: &'static str, v: i64) {
        self.0.push(KeyValue::new(k, v));
    }
    fn f(&mut self, k: &'static str, v: f64) {
        self.0.push(KeyValue::new(k, (v * 10.0).round() / 10.0));
    }
    fn list(&mut self, k: &'static str, v: impl IntoIterator<Item = String>) {
        let items: Vec<StringValue> = v.into_iter().map(StringValue::from).collect();
        self.0.push(KeyValue::new(k, Value::Array(items.into())));
    }
    fn b(&mut self, k: &'static str, v: bool) {
        self.0.push(KeyValue::new(k, v));
    }
    fn opt_b(&mut self, k: &'static str, v: Option<bool>) {
        if let Some(v) = v {
            self.b(k, v);
        }
    }
}
