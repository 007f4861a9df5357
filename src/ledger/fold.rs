//! How each frame changes the ledger.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::read::{InputParts, Read, RecvRead, SentRead};
use super::{Connection, Ledger, Note, NoteCode, NoteLevel, Size, Transport, Turn, TurnStatus};
use crate::frame::{Dir, Frame, FrameRef, PayloadRef};
use crate::protocol::{ApiError, EventHead, RequestHead, ResponseHead, ServerEventKind};

/// A meta frame's body.
#[derive(Deserialize)]
struct MetaBody<'a> {
    /// `sent` or `recv`, on the proxy's `edited` / `injected` / `dropped` lines.
    #[serde(default)]
    dir: Option<String>,
    /// The frame as the agent or upstream sent it, on those lines.
    #[serde(default, borrow)]
    original: Option<&'a RawValue>,
    #[serde(default)]
    event: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    headers: Option<serde_json::Map<String, serde_json::Value>>,
    /// On `connect`: the version turnscope's emulator announced (`x-turnscope-emulator`). The
    /// name sorts after `event`, which readers expect first in a meta line.
    #[serde(default)]
    turnscope_emulator: Option<String>,
}

/// `,"previous_response_id":"…"`: what HTTP mode would not send.
const PREV_ID_FIELD_OVERHEAD: u64 = 26;

impl Ledger {
    /// Folds one frame; returns the 0-based index of the turn it touched, if any.
    pub fn push(&mut self, frame: &Frame) -> Option<usize> {
        self.push_ref(&frame.view())
    }

    /// Folds one borrowed frame (see [`Ledger::push`]).
    pub fn push_ref(&mut self, frame: &FrameRef<'_>) -> Option<usize> {
        self.push_read(frame, Read::of(frame))
    }

    /// Folds one frame whose JSON was already read (see [`Read`]).
    pub(super) fn push_read(&mut self, frame: &FrameRef<'_>, read: Read<'_>) -> Option<usize> {
        let index = self.frames;
        self.frames += 1;
        self.last_t_us = self.last_t_us.max(frame.t_us);
        // A connection exists once something proves it was open: a frame on it, or a meta line
        // other than an error or note (a failed connect records only an error; counting it showed
        // "1 conn" and an age gauge ticking for a connection that never was).
        if frame.dir != Dir::Meta {
            self.ensure_connection(frame.conn, frame.t_us);
        }
        let touched = self.fold_frame(frame, index, read);
        if frame.dir != Dir::Meta {
            self.apply_pending_mark(frame, touched);
        }
        touched
    }

    fn fold_frame(&mut self, frame: &FrameRef<'_>, index: u64, read: Read<'_>) -> Option<usize> {
        match read {
            Read::Sent(head) => return self.on_sent(frame, index, head),
            Read::Recv(head) => return self.on_recv(frame, index, head),
            Read::Unread => {}
        }
        match (&frame.dir, &frame.payload) {
            // Events are JSON objects; serde would read an array as a struct, so say no here.
            (Dir::Sent | Dir::Recv, PayloadRef::Json(text))
                if !text.trim_start().starts_with('{') =>
            {
                self.note(
                    frame,
                    "a JSON frame that is not an object (events are objects)".into(),
                );
                None
            }
            // Read above.
            (Dir::Sent | Dir::Recv, PayloadRef::Json(_)) => None,
            (Dir::Meta, PayloadRef::Json(text)) => self.on_meta(frame, index, text),
            (Dir::Recv, other) => {
                self.note(
                    frame,
                    format!("received a non-JSON frame ({} bytes)", other.len()),
                );
                self.attach_to_front(frame.conn, None, index)
            }
            (Dir::Sent, other) => {
                self.note(
                    frame,
                    format!("sent a non-JSON frame ({} bytes)", other.len()),
                );
                None
            }
            (Dir::Meta, _) => None,
        }
    }

    fn ensure_connection(&mut self, conn: u32, t_us: u64) {
        while self.connections.len() <= conn as usize {
            let index = u32::try_from(self.connections.len()).unwrap_or(u32::MAX);
            self.connections.push(Connection::new(index, t_us));
        }
    }

    /// A malformed frame: a warning.
    fn note(&mut self, frame: &FrameRef<'_>, text: String) {
        self.note_as(frame, NoteLevel::Warn, NoteCode::MalformedFrame, None, text);
    }

    fn note_as(
        &mut self,
        frame: &FrameRef<'_>,
        level: NoteLevel,
        code: NoteCode,
        error_code: Option<String>,
        text: String,
    ) {
        self.notes.push(Note {
            t_us: frame.t_us,
            conn: frame.conn,
            level,
            code,
            error_code,
            text,
        });
    }

    fn on_sent(
        &mut self,
        frame: &FrameRef<'_>,
        index: u64,
        read: Option<SentRead<'_>>,
    ) -> Option<usize> {
        let Some(SentRead { head, input }) = read else {
            self.note(frame, "sent a frame that is not a client event".into());
            return None;
        };
        let lane = head.stream_id.as_deref().map(str::to_owned);
        let http = self.http_conns.contains(&frame.conn);
        match head.kind.as_deref() {
            Some("response.create") => Some(self.start_turn(frame, index, &head, &input, lane)),
            None if http => Some(self.start_turn(frame, index, &head, &input, lane)),
            Some("response.steer") => {
                let named = head.previous_response_id.as_deref();
                let target = match named.and_then(|id| {
                    self.turns
                        .rposition(|t| t.response_id.as_deref() == Some(id))
                }) {
                    Some(t) => Some(t),
                    // A turn that retired is not another lane's to count.
                    None if named.is_some_and(|id| self.names_retired(id)) => None,
                    None => self.front(frame.conn, &lane),
                };
                if let Some(t) = target {
                    self.turns[t].steers += 1;
                    if !self.summary_only {
                        self.turns[t].frames.push(index);
                    }
                }
                target
            }
            _ => None,
        }
    }

    /// A request: a new turn. `input` was read from the request's text (the frame's, or a
    /// dropped request's meta line's).
    pub(super) fn start_turn(
        &mut self,
        frame: &FrameRef<'_>,
        index: u64,
        head: &RequestHead<'_>,
        input: &InputParts<'_>,
        lane: Option<String>,
    ) -> usize {
        let measured = input.measure(&mut self.counter);
        let (items, items_bytes, items_tokens) = measured.totals();
        let incremental = Size {
            bytes: input.request_bytes(),
            items,
            tokens: items_tokens + measured.envelope_tokens,
        };
        let prev = head.previous_response_id.as_deref().map(str::to_owned);
        let parent = prev.as_deref().and_then(|id| self.chain.continued(id));
        let context_unknown = self.context_unknown(prev.as_deref(), parent.as_ref());
        let full_context = match (&prev, &parent) {
            (Some(id), Some(node)) => Size {
                bytes: (incremental.bytes + node.items_bytes + u64::from(node.items_count))
                    .saturating_sub(PREV_ID_FIELD_OVERHEAD + id.len() as u64),
                items: incremental.items + u64::from(node.items_count),
                tokens: incremental.tokens + node.tokens,
            },
            _ => incremental,
        };
        let chain_tokens = parent.as_ref().map_or(0, |n| n.tokens);
        let cache_estimate_tokens = parent
            .as_ref()
            .filter(|n| n.cached_on == Some(frame.conn))
            .map_or(0, |n| n.tokens);
        let gap_from = parent.as_ref().map(|n| n.done_us).or_else(|| {
            self.newest_on_lane(frame.conn, &lane)
                .and_then(|t| t.done_us)
        });
        let prefix = super::insight::Prefix::from_raw(
            head.model.as_deref().map(str::to_owned),
            head,
            &mut self.counter,
        );
        let transport = if self.http_conns.contains(&frame.conn) {
            Transport::Http
        } else {
            Transport::WebSocket
        };
        let (insight, reference) = self.judge_send(
            frame,
            &lane,
            prev.as_deref(),
            parent.as_ref(),
            &prefix,
            &measured,
            transport,
        );
        // Most turns repeat the prefix of the turn they were compared with: share its copy.
        let prefix = match reference {
            Some(r) if *r == prefix => r,
            _ => std::sync::Arc::new(prefix),
        };
        let turn_index = self.turns.len();
        let root = super::chain::root_of(parent.as_ref(), turn_index);
        for item in &measured.items {
            self.known_items.saw(item.key, item.unique, root);
        }
        let queue = self.lanes.entry((frame.conn, lane.clone())).or_default();
        let status = if queue.is_empty() {
            TurnStatus::InFlight
        } else {
            TurnStatus::Queued
        };
        queue.push_back(turn_index);
        self.turns.push(Turn {
            index: turn_index + 1,
            conn: frame.conn,
            lane,
            status,
            response_id: None,
            previous_response_id: prev,
            store: head.store,
            generate: head.generate != Some(false),
            steered_successor: false,
            intervention: super::Intervention::default(),
            model: head.model.as_deref().map(str::to_owned),
            request_frame: Some(index),
            frames: super::FrameRuns::default(),
            incremental,
            full_context,
            cache_estimate_tokens,
            context_tokens: chain_tokens + items_tokens,
            usage: None,
            sent_us: frame.t_us,
            created_us: None,
            first_output_us: None,
            first_item_us: None,
            done_us: None,
            gap_us: gap_from.map(|done| frame.t_us.saturating_sub(done)),
            tool_calls: Vec::new(),
            output_text: String::new(),
            steers: 0,
            timings: Vec::new(),
            transport,
            prefix,
            insight,
            context_unknown,
        });
        self.anchors.added(turn_index, &self.turns[turn_index]);
        // New input items join the chain when the response completes; remember them.
        self.pending_input
            .insert(turn_index, (items, items_bytes, items_tokens));
        if let Some(c) = self.connections.get_mut(frame.conn as usize) {
            c.turns += 1;
        }
        self.totals.turns += 1;
        add(&mut self.totals.incremental, incremental);
        add(&mut self.totals.full_context, full_context);
        turn_index
    }

    /// Whether a turn continuing `prev` (found as `parent`) has a context the ledger cannot
    /// sum: its parent, or a response before it, was forgotten to keep the chain bounded. A
    /// parent never seen (a recording that starts mid-chain) reads as before while nothing
    /// was forgotten.
    fn context_unknown(
        &self,
        prev: Option<&str>,
        parent: Option<&super::chain::ChainNode>,
    ) -> bool {
        match parent {
            Some(p) => p.unknown,
            None => prev.is_some() && self.chain.evicted > 0,
        }
    }

    pub(super) fn front(&self, conn: u32, lane: &Option<String>) -> Option<usize> {
        self.lanes
            .get(&(conn, lane.clone()))
            .and_then(|q| q.front().copied())
    }

    fn attach_to_front(&mut self, conn: u32, lane: Option<String>, index: u64) -> Option<usize> {
        let front = self.front(conn, &lane);
        match front {
            Some(_) if self.summary_only => {}
            Some(t) => self.turns[t].frames.push(index),
            None => self.unattributed += 1,
        }
        front
    }

    fn on_recv(
        &mut self,
        frame: &FrameRef<'_>,
        index: u64,
        read: Option<RecvRead<'_>>,
    ) -> Option<usize> {
        let text = frame.payload.json().unwrap_or_default();
        if self.http_conns.contains(&frame.conn)
            && let Some(t) = self.on_http_body(frame, index, text)
        {
            return Some(t);
        }
        let Some(RecvRead {
            head,
            kind,
            response,
        }) = read
        else {
            self.note(
                frame,
                "received a JSON frame that is not a server event".into(),
            );
            return self.attach_to_front(frame.conn, None, index);
        };
        let lane = head.stream_id.as_deref().map(str::to_owned);
        if kind == ServerEventKind::Created {
            self.on_created(frame, response.as_ref(), lane.clone());
        }
        let Some(t) = self.attach_to_front(frame.conn, lane.clone(), index) else {
            if let (ServerEventKind::Error, Some(err)) = (kind, head.api_error()) {
                self.note_as(
                    frame,
                    NoteLevel::Error,
                    NoteCode::ServerError,
                    err.code.clone(),
                    format!("server error: {}", describe(&err)),
                );
            }
            return None;
        };
        let turn = &mut self.turns[t];
        match kind {
            ServerEventKind::Queued => turn.status = TurnStatus::Queued,
            ServerEventKind::InProgress => turn.status = TurnStatus::InFlight,
            ServerEventKind::Timing if self.summary_only => {}
            ServerEventKind::Timing => {
                if let Ok(v) = serde_json::from_str(text) {
                    turn.timings.push(v);
                }
            }
            ServerEventKind::OutputItemDone => {
                if let Some(item) = head.item {
                    self.pending_output
                        .entry(t)
                        .or_default()
                        .push(item.get().to_owned());
                }
            }
            ServerEventKind::Error => {
                // WebSocket errors nest `error`; HTTP SSE `error` events are flat.
                let err = head.api_error().unwrap_or_else(|| flat_error(text));
                self.finish_error(t, frame, err);
                return Some(t);
            }
            k if k.is_terminal() => {
                self.finish(t, frame, k, response);
                return Some(t);
            }
            _ => {}
        }
        let turn = &mut self.turns[t];
        let tokens = super::carries_generated_tokens(head.kind());
        if turn.first_output_us.is_none() && tokens {
            turn.first_output_us = Some(frame.t_us);
        }
        if turn.first_item_us.is_none() && (tokens || kind == ServerEventKind::OutputItemAdded) {
            turn.first_item_us = Some(frame.t_us);
        }
        if matches!(
            kind,
            ServerEventKind::OutputTextDelta | ServerEventKind::RefusalDelta
        ) && !self.summary_only
            && !self.no_text
            && let Some(delta) = head.delta()
        {
            turn.output_text.push_str(&delta);
        }
        Some(t)
    }

    /// A non-streaming HTTP-mode reply: the whole response object, no events, or an API
    /// error body (`{"error":{…}}`, e.g. an HTTP 400). It both starts and ends the turn.
    fn on_http_body(&mut self, frame: &FrameRef<'_>, index: u64, text: &str) -> Option<usize> {
        let body = EventHead::parse(text)?;
        if body.kind.is_none()
            && let Some(err) = body.api_error()
        {
            let t = self.attach_to_front(frame.conn, None, index)?;
            self.finish_error(t, frame, err);
            return Some(t);
        }
        if !body.is_response_body() {
            return None;
        }
        let response: ResponseHead<'_> = serde_json::from_str(text).ok()?;
        let t = self.attach_to_front(frame.conn, None, index)?;
        self.turns[t].created_us.get_or_insert(frame.t_us);
        let kind = match body.status().as_deref() {
            Some("failed") => ServerEventKind::Failed,
            Some("incomplete") => ServerEventKind::Incomplete,
            _ => ServerEventKind::Completed,
        };
        self.finish(t, frame, kind, Some(response));
        Some(t)
    }

    /// `response.created`: binds the id to the lane's front turn, or starts a steered successor.
    fn on_created(
        &mut self,
        frame: &FrameRef<'_>,
        response: Option<&ResponseHead<'_>>,
        lane: Option<String>,
    ) {
        let id = response
            .as_ref()
            .map(|r| r.id.clone())
            .filter(|id| !id.is_empty());
        let front = self.front(frame.conn, &lane);
        let target = match front {
            Some(t) if self.turns[t].response_id.is_none() => t,
            _ => self.start_successor(frame, lane, response),
        };
        let turn = &mut self.turns[target];
        turn.response_id = id;
        turn.created_us = Some(frame.t_us);
        if turn.status == TurnStatus::Queued {
            turn.status = TurnStatus::InFlight;
        }
    }

    /// A response the server started by itself (after a steer): a turn with no request.
    fn start_successor(
        &mut self,
        frame: &FrameRef<'_>,
        lane: Option<String>,
        response: Option<&ResponseHead<'_>>,
    ) -> usize {
        let prev = response.and_then(|r| r.previous_response_id.clone());
        let parent = prev.as_deref().and_then(|id| self.chain.continued(id));
        let context_unknown = self.context_unknown(prev.as_deref(), parent.as_ref());
        let tokens = parent.as_ref().map_or(0, |n| n.tokens);
        let turn_index = self.turns.len();
        self.turns.push(Turn {
            index: turn_index + 1,
            conn: frame.conn,
            lane: lane.clone(),
            status: TurnStatus::InFlight,
            response_id: None,
            previous_response_id: prev,
            store: None,
            generate: true,
            steered_successor: true,
            intervention: super::Intervention::default(),
            model: response.and_then(|r| r.model.clone()),
            request_frame: None,
            frames: super::FrameRuns::default(),
            incremental: Size::default(),
            full_context: Size::default(),
            cache_estimate_tokens: parent
                .as_ref()
                .filter(|n| n.cached_on == Some(frame.conn))
                .map_or(0, |n| n.tokens),
            context_tokens: tokens,
            usage: None,
            sent_us: frame.t_us,
            created_us: None,
            first_output_us: None,
            first_item_us: None,
            done_us: None,
            gap_us: None,
            tool_calls: Vec::new(),
            output_text: String::new(),
            steers: 0,
            timings: Vec::new(),
            transport: Transport::WebSocket,
            prefix: std::sync::Arc::default(),
            insight: super::insight::Insight::default(),
            context_unknown,
        });
        self.anchors.added(turn_index, &self.turns[turn_index]);
        self.lanes
            .entry((frame.conn, lane))
            .or_default()
            .push_front(turn_index);
        // A steered successor is a turn on this connection too (stats --json counted it in
        // the totals but not on its connection).
        if let Some(c) = self.connections.get_mut(frame.conn as usize) {
            c.turns += 1;
        }
        self.totals.turns += 1;
        turn_index
    }

    fn on_meta(&mut self, frame: &FrameRef<'_>, index: u64, text: &str) -> Option<usize> {
        let Ok(meta) = serde_json::from_str::<MetaBody<'_>>(text) else {
            return None;
        };
        let conn = frame.conn as usize;
        if !matches!(meta.event.as_str(), "error" | "note") {
            self.ensure_connection(frame.conn, frame.t_us);
        }
        match meta.event.as_str() {
            "connect" => {
                if let Some(c) = self.connections.get_mut(conn) {
                    c.url = meta.url;
                    c.opened_us = frame.t_us;
                    c.emulator = meta.turnscope_emulator;
                }
            }
            "close" => self.on_close(frame, meta.code, meta.reason),
            "http_request" => {
                self.http_conns.insert(frame.conn);
            }
            "reconnect" => {
                if let Some(c) = self.connections.get_mut(conn) {
                    c.reconnect_reason = meta.why.or(meta.reason);
                }
            }
            "error" => self.note_as(
                frame,
                NoteLevel::Error,
                NoteCode::ClientError,
                None,
                meta.message.unwrap_or_default(),
            ),
            "note" => self.note_as(
                frame,
                NoteLevel::Warn,
                NoteCode::Recorded,
                None,
                meta.text.unwrap_or_default(),
            ),
            "client" => {
                if let Some(headers) = &meta.headers {
                    self.clients
                        .insert(frame.conn, super::client::identify(headers));
                }
            }
            "edited" | "injected" | "dropped" => {
                let sent = meta.dir.as_deref() == Some("sent");
                return self.on_intervention(frame, index, &meta.event, sent, meta.original);
            }
            _ => {}
        }
        None
    }
}

pub(super) fn add(total: &mut Size, s: Size) {
    total.bytes += s.bytes;
    total.items += s.items;
    total.tokens += s.tokens;
}

/// An HTTP SSE `error` event: `code`, `message`, `param` at the top level.
fn flat_error(text: &str) -> ApiError {
    let mut err: ApiError = serde_json::from_str(text).unwrap_or_default();
    // Its `type` is the event's ("error"), not an error class.
    err.kind.clear();
    err
}

fn describe(err: &ApiError) -> String {
    match &err.code {
        Some(code) => format!("{code}: {}", err.message),
        None => err.message.clone(),
    }
}
