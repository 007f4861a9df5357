//! How a turn ends: a terminal event, an error event, or its connection closing.

use std::borrow::Cow;
use std::sync::Arc;

use super::chain::ChainNode;
use super::insight::item_key;
use super::{Ledger, ToolCall, TurnStatus};
use crate::frame::FrameRef;
use crate::protocol::{ApiError, ItemHead, ResponseHead, ServerEventKind};

impl Ledger {
    pub(super) fn finish(
        &mut self,
        t: usize,
        frame: &FrameRef<'_>,
        kind: ServerEventKind,
        response: Option<ResponseHead<'_>>,
    ) {
        let response = response.unwrap_or_default();
        let pending = self.pending_output.remove(&t).unwrap_or_default();
        // The terminal response's output is authoritative; WebSocket servers may leave it
        // empty, then the `output_item.done` items stand in.
        let outputs: Vec<&str> = if response.output.is_empty() {
            pending.iter().map(String::as_str).collect()
        } else {
            response.output.iter().map(|v| v.get()).collect()
        };
        let (out_bytes, out_tokens) = outputs.iter().fold((0, 0), |(b, k), item| {
            (b + item.len() as u64, k + self.counter.count(item))
        });
        // The parent it continued, looked up once: the chain its output joins (the parent's, as
        // when it was sent, or its own) and the sums its chain entry builds on.
        let found = self.turns[t]
            .previous_response_id
            .as_deref()
            .and_then(|p| self.chain.get(p))
            .cloned();
        let root = super::chain::root_of(found.as_ref(), t);
        for item in &outputs {
            // Model output can only reappear in an input as a resend.
            self.known_items.saw(item_key(item).0, true, root);
        }
        let mut tool_calls: Vec<ToolCall> = outputs
            .iter()
            .filter_map(|item| ItemHead::scan(item))
            .filter(|i| i.kind() == "function_call")
            .map(|i| ToolCall {
                arguments: i.arguments().map(Cow::into_owned).unwrap_or_default(),
                call_id: i.call_id.map(Cow::into_owned).unwrap_or_default(),
                name: i.name.map(Cow::into_owned).unwrap_or_default(),
            })
            .collect();
        // Kept for the report until the end: no spare capacity (a filtered collect reserves some).
        tool_calls.shrink_to_fit();
        let (in_items, in_bytes, in_tokens) = self.pending_input.remove(&t).unwrap_or_default();
        let turn = &mut self.turns[t];
        turn.status = match kind {
            ServerEventKind::Completed => TurnStatus::Completed,
            ServerEventKind::Failed => TurnStatus::Failed,
            _ => TurnStatus::Incomplete {
                reason: response
                    .incomplete_details
                    .as_ref()
                    .and_then(|d: &serde_json::Value| d.get("reason"))
                    .and_then(|r| r.as_str())
                    .map(str::to_owned),
            },
        };
        turn.done_us = Some(frame.t_us);
        if turn.response_id.is_none() && !response.id.is_empty() {
            turn.response_id = Some(response.id.clone());
        }
        self.totals.tool_calls += tool_calls.len();
        turn.tool_calls = tool_calls;
        if let Some(usage) = &response.usage {
            self.totals.cached_tokens += usage.input_tokens_details.cached_tokens;
            self.totals.input_tokens += usage.input_tokens;
            self.totals.output_tokens += usage.output_tokens;
        }
        turn.usage = response.usage;
        if kind != ServerEventKind::Failed
            && let Some(id) = turn.response_id.clone()
        {
            let (conn, done_us, prefix) = (turn.conn, frame.t_us, Arc::clone(&turn.prefix));
            let named = turn.previous_response_id.as_deref();
            // A parent forgotten while this turn ran leaves its sums unknown too.
            let unknown = turn.context_unknown
                || (named.is_some() && found.is_none() && self.chain.evicted > 0);
            let parent = found.unwrap_or_default();
            self.chain.insert(
                &id,
                ChainNode {
                    items_bytes: parent.items_bytes + in_bytes + out_bytes,
                    items_count: u32::try_from(
                        u64::from(parent.items_count) + in_items + outputs.len() as u64,
                    )
                    .unwrap_or(u32::MAX),
                    tokens: parent.tokens + in_tokens + out_tokens,
                    cached_on: Some(frame.conn),
                    turn: u32::try_from(t).unwrap_or(u32::MAX),
                    root,
                    conn,
                    done_us,
                    prefix,
                    used: 0,
                    unknown,
                },
            );
        }
        self.judge_end(t);
        self.release(t);
    }

    pub(super) fn finish_error(&mut self, t: usize, frame: &FrameRef<'_>, err: ApiError) {
        self.pending_output.remove(&t);
        self.pending_input.remove(&t);
        self.totals.errors += 1;
        let turn = &mut self.turns[t];
        turn.done_us = Some(frame.t_us);
        turn.status = TurnStatus::Error {
            code: err.code.clone(),
            message: err.message.clone(),
        };
        // A failed continuation evicts the parent it referenced from the connection cache.
        if let Some(parent) = turn.previous_response_id.clone()
            && let Some(node) = self.chain.get_mut(&parent)
            && node.cached_on == Some(frame.conn)
        {
            node.cached_on = None;
        }
        self.judge_end(t);
        self.release(t);
    }

    /// Removes a finished turn from its lane queue; the next queued one starts running.
    pub(super) fn release(&mut self, t: usize) {
        let key = (self.turns[t].conn, self.turns[t].lane.clone());
        if let Some(queue) = self.lanes.get_mut(&key) {
            queue.retain(|&i| i != t);
            if let Some(&next) = queue.front()
                && self.turns[next].status == TurnStatus::Queued
            {
                self.turns[next].status = TurnStatus::InFlight;
            }
        }
    }

    pub(super) fn on_close(
        &mut self,
        frame: &FrameRef<'_>,
        code: Option<u16>,
        reason: Option<String>,
    ) {
        if let Some(c) = self.connections.get_mut(frame.conn as usize) {
            c.closed_us = Some(frame.t_us);
            c.close_code = code;
            c.close_reason = reason;
        }
        // Everything running on it is lost, and so is its cache.
        let keys: Vec<_> = self
            .lanes
            .keys()
            .filter(|(c, _)| *c == frame.conn)
            .cloned()
            .collect();
        for key in keys {
            for t in self.lanes.remove(&key).unwrap_or_default() {
                self.pending_output.remove(&t);
                self.pending_input.remove(&t);
                self.turns[t].status = TurnStatus::Dropped;
                self.turns[t].done_us = Some(frame.t_us);
                self.judge_end(t);
            }
        }
        for node in self.chain.values_mut() {
            if node.cached_on == Some(frame.conn) {
                node.cached_on = None;
            }
        }
    }
}
