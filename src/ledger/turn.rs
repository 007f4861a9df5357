//! A turn: one `response.create` and everything the server sent for it.

use serde::Serialize;

use crate::protocol::Usage;

/// Bytes, items and tokens of a payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Size {
    /// Bytes on the wire.
    pub bytes: u64,
    /// Input items (only meaningful for requests).
    pub items: u64,
    /// o200k tokens.
    pub tokens: u64,
}

/// Where a turn stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TurnStatus {
    /// Sent, waiting behind another response on its lane (client-side queue or `response.queued`).
    Queued,
    /// Sent, response running.
    InFlight,
    /// `response.completed`.
    Completed,
    /// `response.failed`.
    Failed,
    /// `response.incomplete` (reason, e.g. `steered`, `max_output_tokens`).
    Incomplete {
        /// Why.
        reason: Option<String>,
    },
    /// An `error` event ended the turn.
    Error {
        /// The API error code (`previous_response_not_found`, …).
        code: Option<String>,
        /// The message.
        message: String,
    },
    /// The connection closed before a terminal event.
    Dropped,
    /// The request was dropped at a proxy breakpoint: the server never saw it.
    NotSent,
}

impl TurnStatus {
    /// Short label for tables.
    pub fn label(&self) -> &str {
        match self {
            TurnStatus::Queued => "queued",
            TurnStatus::InFlight => "running",
            TurnStatus::Completed => "done",
            TurnStatus::Failed => "failed",
            TurnStatus::Incomplete { .. } => "incomplete",
            TurnStatus::Error { .. } => "error",
            TurnStatus::Dropped => "dropped",
            TurnStatus::NotSent => "not sent",
        }
    }

    /// True once nothing more will arrive for the turn.
    pub fn is_final(&self) -> bool {
        !matches!(self, TurnStatus::Queued | TurnStatus::InFlight)
    }
}

/// How a turn reached the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// A `response.create` on a WebSocket connection.
    #[default]
    WebSocket,
    /// `POST /v1/responses` (HTTP mode), seen by the proxy.
    Http,
}

impl Transport {
    /// `websocket` or `http`: the one spelling of a mode in tables, bench runs and spans.
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Http => "http",
        }
    }
}

/// What sets a turn apart from an ordinary request of the agent's, one word each in the turn
/// list's legend, the `stats` table and `stats --json` (`marks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// A `generate: false` request: it prepares the context and produces no output.
    WarmUp,
    /// A steer was sent to it while it ran.
    Steered,
    /// The server started it after a steer (no request of its own).
    AfterSteer,
    /// Its request or one of its events was edited at a proxy breakpoint.
    Edited,
    /// Its request (or an event for it) was typed in the proxy, not sent by the agent.
    Injected,
    /// Its request or one of its events was dropped at a proxy breakpoint.
    Dropped,
}

impl Mark {
    /// Every mark, in the order they are listed.
    pub const ALL: [Mark; 6] = [
        Mark::WarmUp,
        Mark::Steered,
        Mark::AfterSteer,
        Mark::Edited,
        Mark::Injected,
        Mark::Dropped,
    ];

    /// The word for it.
    pub fn label(self) -> &'static str {
        match self {
            Mark::WarmUp => "warm-up",
            Mark::Steered => "steered",
            Mark::AfterSteer => "after-steer",
            Mark::Edited => "edited",
            Mark::Injected => "injected",
            Mark::Dropped => "dropped",
        }
    }

    /// One letter for the turn list (its title spells out the letters in use).
    pub fn letter(self) -> char {
        match self {
            Mark::WarmUp => 'W',
            Mark::Steered => 'S',
            Mark::AfterSteer => 'A',
            Mark::Edited => 'E',
            Mark::Injected => 'I',
            Mark::Dropped => 'D',
        }
    }
}

/// What the proxy's user did to a turn at a breakpoint or from the composer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Intervention {
    /// Its request or an event was forwarded edited.
    pub edited: bool,
    /// Its request or an event was injected.
    pub injected: bool,
    /// Its request or an event was dropped.
    pub dropped: bool,
}

/// A function call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCall {
    /// `call_id` to answer with a `function_call_output`.
    pub call_id: String,
    /// Tool name.
    pub name: String,
    /// JSON arguments as text.
    pub arguments: String,
}

/// One turn of a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    /// 1-based turn number.
    pub index: usize,
    /// Connection index.
    pub conn: u32,
    /// Lane (`stream_id`), `None` for the default lane.
    pub lane: Option<String>,
    /// Status.
    #[serde(flatten)]
    pub status: TurnStatus,
    /// `resp_…` once `response.created` arrived.
    pub response_id: Option<String>,
    /// The parent this turn continues.
    pub previous_response_id: Option<String>,
    /// `store` as sent.
    pub store: Option<bool>,
    /// False for a `generate: false` warm-up.
    pub generate: bool,
    /// True when the server started this turn itself (the successor of a steered response).
    pub steered_successor: bool,
    /// Edits, injections and drops made in the proxy (see [`Turn::marks`]).
    pub intervention: Intervention,
    /// Model requested.
    pub model: Option<String>,
    /// Index (in push order) of the `response.create` frame; `None` for steered successors.
    pub request_frame: Option<u64>,
    /// Indices of the frames received for this turn.
    pub frames: FrameRuns,
    /// The request as sent.
    pub incremental: Size,
    /// What HTTP mode would have sent: the request plus every item along the chain.
    pub full_context: Size,
    /// The ledger's estimate of context tokens the server held for the parent on this connection.
    pub cache_estimate_tokens: u64,
    /// Context tokens after this turn's input (chain + new input).
    pub context_tokens: u64,
    /// Server-reported usage from the terminal event.
    pub usage: Option<Usage>,
    /// Send time, µs.
    pub sent_us: u64,
    /// `response.created` time, µs.
    pub created_us: Option<u64>,
    /// Time of the first event that carries generated tokens ([`carries_generated_tokens`]), µs.
    pub first_output_us: Option<u64>,
    /// Time of the first output event of any kind (`output_item.added` or a token-carrying
    /// delta), µs: the server announced output. Not TTFT; retry safety uses it.
    pub first_item_us: Option<u64>,
    /// Terminal event time, µs.
    pub done_us: Option<u64>,
    /// Time from the previous turn's end to this send (tool or human time), µs.
    pub gap_us: Option<u64>,
    /// Function calls in the output.
    pub tool_calls: Vec<ToolCall>,
    /// Output text (deltas concatenated).
    pub output_text: String,
    /// Steer requests sent while running.
    pub steers: u32,
    /// Server timing metrics events, raw JSON.
    pub timings: Vec<serde_json::Value>,
    /// WebSocket or HTTP mode.
    pub transport: Transport,
    /// The request's stable prefix, a hash per part; shared with the turn it was compared with
    /// when the two are equal (a chain's turns mostly are), so a long session keeps one copy.
    pub prefix: std::sync::Arc<super::insight::Prefix>,
    /// The ledger's verdict: send mode, cache outcome, causes, events, retry safety.
    pub insight: super::insight::Insight,
    /// Its chain goes back to a response older than the ledger keeps (it keeps the 16,384
    /// most recently used): its full context and savings count only what the ledger still
    /// knows, so screens show them as unknown rather than as a number.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub context_unknown: bool,
}

impl Turn {
    /// Bytes saved versus HTTP full resend.
    pub fn saved_bytes(&self) -> i64 {
        signed(self.full_context.bytes) - signed(self.incremental.bytes)
    }

    /// Tokens saved versus HTTP full resend.
    pub fn saved_tokens(&self) -> i64 {
        signed(self.full_context.tokens) - signed(self.incremental.tokens)
    }

    /// Saved bytes as a percentage of the full-context bytes.
    pub fn saved_pct(&self) -> f64 {
        pct(self.saved_bytes(), self.full_context.bytes)
    }

    /// send → `response.created`, µs.
    pub fn latency_created_us(&self) -> Option<u64> {
        self.created_us.map(|t| t.saturating_sub(self.sent_us))
    }

    /// TTFT: send → the first event that carries generated tokens
    /// ([`carries_generated_tokens`]), µs. `None` when no such event arrived.
    pub fn ttft_us(&self) -> Option<u64> {
        self.first_output_us.map(|t| t.saturating_sub(self.sent_us))
    }

    /// send → first output event of any kind (`output_item.added` included), µs.
    pub fn first_item_latency_us(&self) -> Option<u64> {
        self.first_item_us.map(|t| t.saturating_sub(self.sent_us))
    }

    /// send → terminal event, µs.
    pub fn latency_total_us(&self) -> Option<u64> {
        self.done_us.map(|t| t.saturating_sub(self.sent_us))
    }

    /// What sets this turn apart, in [`Mark::ALL`] order: the one list every screen and report
    /// shows.
    pub fn marks(&self) -> Vec<Mark> {
        Mark::ALL
            .into_iter()
            .filter(|m| self.has_mark(*m))
            .collect()
    }

    /// Whether the turn carries `mark` (no allocation: the turn list's title asks this of
    /// every turn it holds on each draw).
    pub fn has_mark(&self, mark: Mark) -> bool {
        let i = &self.intervention;
        match mark {
            Mark::WarmUp => !self.generate,
            Mark::Steered => self.steers > 0,
            Mark::AfterSteer => self.steered_successor,
            Mark::Edited => i.edited,
            Mark::Injected => i.injected,
            Mark::Dropped => i.dropped,
        }
    }

    /// Server-reported cached input tokens.
    pub fn cached_tokens(&self) -> Option<u64> {
        self.usage
            .as_ref()
            .map(|u| u.input_tokens_details.cached_tokens)
    }
}

/// The one definition of "first token" for TTFT, used by the ledger and so by every screen,
/// `stats` and `bench`: an event whose payload is generated tokens — a text, refusal,
/// function-call-arguments, custom-tool-input or reasoning (text or summary) delta.
/// `output_item.added` and `content_part.added` announce an item but carry no token, so a
/// server that announces early would otherwise look faster than it is (shared/DESIGN.md).
pub fn carries_generated_tokens(event_type: &str) -> bool {
    match event_type {
        "response.output_text.delta"
        | "response.refusal.delta"
        | "response.function_call_arguments.delta"
        | "response.custom_tool_call_input.delta" => true,
        // reasoning_text.delta, reasoning_summary_text.delta (and any future reasoning delta).
        t => t.starts_with("response.reasoning") && t.ends_with(".delta"),
    }
}

pub(crate) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
pub fn pct(part: i64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        #[allow(clippy::cast_precision_loss)]
        let v = part as f64 * 100.0 / whole as f64;
        v
    }
}

/// A turn's frame numbers as runs of consecutive numbers: a turn's frames mostly follow one
/// another (16 bytes a run, where one number a frame took 8 bytes each: a screen that lists
/// 1,000 turns of 2,000 deltas kept 16 MB of them). Frames of lanes streaming at once
/// interleave into runs of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameRuns {
    /// (first frame, frames in the run), in order.
    runs: Vec<(u64, u32)>,
}

impl FrameRuns {
    /// Adds frame `k`, later than every frame already in.
    pub fn push(&mut self, k: u64) {
        if let Some((start, len)) = self.runs.last_mut()
            && *start + u64::from(*len) == k
            && *len < u32::MAX
        {
            *len += 1;
            return;
        }
        self.runs.push((k, 1));
    }

    /// Every frame number, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.runs
            .iter()
            .flat_map(|&(start, len)| start..start + u64::from(len))
    }

    /// The first frame.
    pub fn first(&self) -> Option<u64> {
        self.runs.first().map(|&(start, _)| start)
    }

    /// The latest frame.
    pub fn last(&self) -> Option<u64> {
        self.runs
            .last()
            .map(|&(start, len)| start + u64::from(len) - 1)
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|&(_, len)| len as usize).sum()
    }

    /// No frame.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Whether frame `k` is one of them.
    pub fn contains(&self, k: u64) -> bool {
        let i = self.runs.partition_point(|&(start, _)| start <= k);
        i > 0 && {
            let (start, len) = self.runs[i - 1];
            k < start + u64::from(len)
        }
    }

    /// Forgets them all (and their memory).
    pub fn clear(&mut self) {
        self.runs = Vec::new();
    }
}

/// Serialized as the list of frame numbers, as when it was one.
impl Serialize for FrameRuns {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod frame_runs_tests {
    use super::FrameRuns;

    /// Runs hold exactly the numbers pushed, whatever the gaps.
    #[test]
    fn runs_hold_the_numbers_pushed() {
        let pushed = [3u64, 4, 5, 9, 10, 12, 20, 21, 22, 23];
        let mut runs = FrameRuns::default();
        for &k in &pushed {
            runs.push(k);
        }
        assert_eq!(runs.iter().collect::<Vec<_>>(), pushed);
        assert_eq!(runs.len(), pushed.len());
        assert_eq!((runs.first(), runs.last()), (Some(3), Some(23)));
        for k in 0..30 {
            assert_eq!(runs.contains(k), pushed.contains(&k), "{k}");
        }
        assert_eq!(runs.runs.len(), 4);
        assert_eq!(
            serde_json::to_string(&runs).unwrap(),
            serde_json::to_string(&pushed).unwrap()
        );
        runs.clear();
        assert!(runs.is_empty() && runs.last().is_none());
    }
}
