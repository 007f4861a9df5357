//! The ledger: a pure fold from frames to connections, turns and metrics. No I/O.
//!
//! Definitions (DESIGN.md): a turn's *incremental* size is its `response.create` frame as
//! sent; its *full-context* size is what HTTP mode would send for the same turn — that
//! request with every item along the `previous_response_id` chain inlined (and without the
//! `previous_response_id` field). Tokens are o200k counts of each input/output item's
//! compact JSON plus the request envelope around the input. Everything is a running sum:
//! each byte is parsed and tokenized once, so the fold is O(frames).

mod batch;
mod chain;
pub mod client;
mod connection;
pub mod context;
pub mod cost;
mod ending;
mod fold;
pub mod insight;
mod intervene;
mod known;
mod read;
mod turn;
mod verdict;
mod window;

pub use batch::Prepared;
pub use chain::CHAIN_KEEP;
pub use client::{Client, Remedy};
pub use connection::{AgeLevel, Connection, MAX_AGE_US, ROTATE_AGE_US, WARN_AGE_US, age_level};
pub use insight::{CacheOutcome, Cause, ConnEvent, Insight, Prefix, SendMode};
pub use turn::{
    FrameRuns, Intervention, Mark, Size, ToolCall, Transport, Turn, TurnStatus,
    carries_generated_tokens, pct,
};
pub use verdict::PROMPT_CACHE_MIN_TOKENS;

use std::collections::{HashMap, HashSet, VecDeque};

/// The maps the fold touches per frame (lanes, running turns, item identities): foldhash, not
/// std's SipHash, whose hashing of a lane key was ~290 instructions per received frame
/// (callgrind). Seeded per process, so keys a recording chooses (lane names) still cannot aim
/// at one bucket across runs; the tokens' memo uses the same crate.
type FoldMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FoldSet<K> = HashSet<K, foldhash::fast::RandomState>;

use serde::Serialize;

/// A note the ledger keeps beside the turns: client-side errors, unattributed server errors.
/// Typed, so screens and reports read its level and code instead of parsing its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// When, µs.
    pub t_us: u64,
    /// Connection.
    pub conn: u32,
    /// How serious it is.
    pub level: NoteLevel,
    /// What kind of note it is.
    pub code: NoteCode,
    /// The API's error code for a server error (`previous_response_not_found`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What happened, for people.
    pub text: String,
}

/// How serious a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteLevel {
    /// Worth a look; the session goes on.
    Warn,
    /// Something failed.
    Error,
}

/// What kind of [`Note`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteCode {
    /// A frame that is not what its direction carries (not JSON, not an object, not an event).
    MalformedFrame,
    /// A server `error` event with no turn to attach to.
    ServerError,
    /// A client-side error the source recorded (a `meta` `error` line).
    ClientError,
    /// A remark the source recorded (a `meta` `note` line).
    Recorded,
}

/// Cumulative figures over all turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Turns: every request sent, plus responses the server started itself (steered successors).
    pub turns: usize,
    /// Sum of incremental sizes.
    pub incremental: Size,
    /// Sum of full-context sizes.
    pub full_context: Size,
    /// Server-reported cached input tokens, summed.
    pub cached_tokens: u64,
    /// Server-reported input tokens, summed.
    pub input_tokens: u64,
    /// Server-reported output tokens, summed.
    pub output_tokens: u64,
    /// Tool calls the model made.
    pub tool_calls: usize,
    /// Turns that ended in an error event.
    pub errors: usize,
}

impl Totals {
    /// Adds another ledger's totals (for summaries over many recordings).
    pub fn add(&mut self, other: &Totals) {
        self.turns += other.turns;
        fold::add(&mut self.incremental, other.incremental);
        fold::add(&mut self.full_context, other.full_context);
        self.cached_tokens += other.cached_tokens;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.tool_calls += other.tool_calls;
        self.errors += other.errors;
    }

    /// Adds one finished turn's figures: what the fold added to its running totals for it, so
    /// the totals of turns that left a screen's list read as the header's (tested on every
    /// fixture: the sum over all turns is [`Ledger::totals`]).
    pub fn add_turn(&mut self, turn: &Turn) {
        self.turns += 1;
        fold::add(&mut self.incremental, turn.incremental);
        fold::add(&mut self.full_context, turn.full_context);
        if let Some(usage) = &turn.usage {
            self.cached_tokens += usage.input_tokens_details.cached_tokens;
            self.input_tokens += usage.input_tokens;
            self.output_tokens += usage.output_tokens;
        }
        self.tool_calls += turn.tool_calls.len();
        self.errors += usize::from(matches!(turn.status, TurnStatus::Error { .. }));
    }

    /// Bytes saved versus HTTP full resend.
    pub fn saved_bytes(&self) -> i64 {
        turn::signed(self.full_context.bytes) - turn::signed(self.incremental.bytes)
    }

    /// Tokens saved versus HTTP full resend.
    pub fn saved_tokens(&self) -> i64 {
        turn::signed(self.full_context.tokens) - turn::signed(self.incremental.tokens)
    }

    /// Saved bytes as % of full-context bytes.
    pub fn saved_pct(&self) -> f64 {
        pct(self.saved_bytes(), self.full_context.bytes)
    }
}

/// The fold state.
#[derive(Debug, Default)]
pub struct Ledger {
    connections: Vec<Connection>,
    turns: window::Turns,
    /// The newest turns later verdicts read (see [`window::Anchors`]).
    anchors: window::Anchors,
    notes: Vec<Note>,
    totals: Totals,
    chain: chain::Chain,
    /// Turns waiting or running, per (connection, lane), FIFO.
    lanes: FoldMap<(u32, Option<String>), VecDeque<usize>>,
    /// Output items seen via `output_item.done`, per running turn, until its terminal event.
    pending_output: FoldMap<usize, Vec<String>>,
    /// New input items per running turn (count, bytes, tokens), until its terminal event.
    pending_input: FoldMap<usize, (u64, u64, u64)>,
    counter: crate::tokens::Counter,
    /// Identities of every item sent or received, to recognise resends; `true` once the item
    /// is known to be unique (model output, or an item with a `call_id`).
    known_items: known::KnownItems,
    /// Connections that carry HTTP-mode requests (seen by the proxy).
    http_conns: FoldSet<u32>,
    /// The client named by each connection's handshake headers (a `client` meta line).
    clients: FoldMap<u32, Client>,
    frames: u64,
    last_t_us: u64,
    unattributed: u64,
    /// Keep figures only, not per-turn detail (see [`Ledger::summary_only`]).
    summary_only: bool,
    /// Keep no streamed text per turn (see [`Ledger::for_screens`]).
    no_text: bool,
    /// An `edited` or `injected` meta line names the frame that follows it on its connection
    /// and direction (`true` = sent): the turn that frame touches gets the mark.
    pending_marks: FoldMap<(u32, bool), intervene::Pending>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger that counts bytes, items and latencies but no tokens (all token fields 0):
    /// for first screens of huge files, where the tokenizer would dominate.
    pub fn without_tokens() -> Self {
        Ledger {
            counter: crate::tokens::Counter::disabled(),
            ..Self::default()
        }
    }

    /// A ledger that keeps every figure (turns, sizes, tokens, latencies, verdicts, totals) but
    /// not the per-turn detail a viewer shows — frame lists, streamed output text, timing
    /// events — so its memory does not grow with the bytes relayed: for long headless runs.
    pub fn summary_only() -> Self {
        Ledger {
            summary_only: true,
            ..Self::default()
        }
    }

    /// A ledger for the screens: every figure and each turn's frame numbers, but no streamed
    /// output text — the screens rebuild it from the frames they keep on disk — so what it holds
    /// grows with the frames and turns seen, not with the bytes they carried.
    pub fn for_screens() -> Self {
        Ledger {
            no_text: true,
            ..Self::default()
        }
    }

    /// Drops a turn's frame numbers, streamed text and timing events, keeping every figure: for
    /// a consumer that is done with a finished turn's detail (the live span export), so a long
    /// run keeps figures, not bodies. Nothing happens to a turn that is still open (or retired).
    pub fn shed_detail(&mut self, turn: usize) {
        if let Some(t) = self.turns.get_mut(turn).filter(|t| t.status.is_final()) {
            t.frames.clear();
            t.output_text = String::new();
            t.timings = Vec::new();
        }
    }

    /// Whether token counts are computed.
    pub fn counts_tokens(&self) -> bool {
        self.counter.enabled()
    }

    /// Folds a whole sequence of frames.
    pub fn from_frames<'a>(frames: impl IntoIterator<Item = &'a crate::frame::Frame>) -> Self {
        let mut ledger = Self::new();
        for frame in frames {
            ledger.push(frame);
        }
        ledger
    }

    /// All turns, in send order: every turn unless the consumer retires finished ones
    /// ([`Ledger::retire_finished`]); then the live ones, the first numbered
    /// [`Ledger::retired`] + 1.
    pub fn turns(&self) -> &[Turn] {
        self.turns.live()
    }

    /// All connections, in connect order.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// Client-side and unattributed notes.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// Cumulative figures.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Frames folded so far.
    pub fn frame_count(&self) -> u64 {
        self.frames
    }

    /// Time of the latest frame, µs.
    pub fn last_t_us(&self) -> u64 {
        self.last_t_us
    }

    /// Received frames that belonged to no turn.
    pub fn unattributed(&self) -> u64 {
        self.unattributed
    }

    /// The newest connection.
    pub fn current_connection(&self) -> Option<&Connection> {
        self.connections.last()
    }

    /// The turn that produced `response_id`.
    pub fn turn_by_response(&self, response_id: &str) -> Option<&Turn> {
        self.chain
            .get(response_id)
            .and_then(|n| self.turns.get(n.turn as usize))
            .or_else(|| {
                self.turns
                    .iter()
                    .find(|t| t.response_id.as_deref() == Some(response_id))
            })
    }

    /// The chain of turns ending at turn `index`, root first; it stops at a turn that retired
    /// ([`Ledger::retire_finished`]). Positions in [`Ledger::turns`], as every screen indexes
    /// them (the same as the 0-based turn numbers while nothing retired).
    pub fn chain_of(&self, index: usize) -> Vec<usize> {
        let base = self.turns.base();
        let index = index + base;
        let mut out = vec![index];
        let mut seen = std::collections::HashSet::from([index]);
        let mut current = index;
        while let Some(parent) = self
            .turns
            .get(current)
            .and_then(|t| t.previous_response_id.as_deref())
            .and_then(|id| self.chain.get(id))
            .map(|n| n.turn as usize)
            .filter(|&p| self.turns.get(p).is_some())
        {
            if !seen.insert(parent) {
                break;
            }
            out.push(parent);
            current = parent;
        }
        out.reverse();
        out.iter_mut().for_each(|t| *t -= base);
        out
    }

    /// Context tokens the server holds on connection `conn` for its newest cached response.
    pub fn cached_context_tokens(&self, conn: u32) -> u64 {
        self.turns
            .iter()
            .rev()
            .filter(|t| t.conn == conn)
            .filter_map(|t| t.response_id.as_deref())
            .filter_map(|id| self.chain.get(id))
            .find(|n| n.cached_on == Some(conn))
            .map_or(0, |n| n.tokens)
    }

    /// Lanes with a turn queued or running, per connection.
    pub fn busy_lanes(&self) -> Vec<(u32, Option<String>, usize)> {
        let mut out: Vec<_> = self
            .lanes
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|((c, l), q)| (*c, l.clone(), q.len()))
            .collect();
        out.sort();
        out
    }

    /// The client that opened connection `conn`, when its handshake headers were recorded.
    pub fn client_of(&self, conn: u32) -> Option<&Client> {
        self.clients.get(&conn)
    }

    /// The client of the newest connection that recorded one.
    pub fn client(&self) -> Option<&Client> {
        self.clients.iter().max_by_key(|(c, _)| **c).map(|(_, c)| c)
    }

    /// What to change in the client for each of `turn`'s verdicts (empty when it is unknown).
    pub fn remedies(&self, turn: &Turn) -> Vec<Remedy> {
        self.client_of(turn.conn)
            .map(|c| client::remedies(c, &turn.insight))
            .unwrap_or_default()
    }

    /// Function calls of the newest turn that no later turn has answered yet.
    pub fn pending_tool_calls(&self) -> Vec<ToolCall> {
        self.turns
            .last()
            .filter(|t| matches!(t.status, TurnStatus::Completed))
            .map(|t| t.tool_calls.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Dir, Frame};

    /// Notes carry their level, kind and the API's error code: nobody parses their text.
    #[test]
    fn notes_are_typed() {
        let frame = |t_us, dir, json: &str| Frame {
            t_us,
            wall: String::new(),
            conn: 0,
            dir,
            payload: crate::frame::Payload::Json(json.into()),
        };
        let ledger = Ledger::from_frames(&[
            frame(0, Dir::Meta, r#"{"event":"connect"}"#),
            frame(
                1,
                Dir::Recv,
                r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"previous_response_not_found","message":"gone"}}"#,
            ),
            frame(2, Dir::Recv, r"[1]"),
            frame(
                3,
                Dir::Meta,
                r#"{"event":"error","message":"connect failed: refused"}"#,
            ),
            frame(4, Dir::Meta, r#"{"event":"note","text":"timing in ms"}"#),
        ]);
        let kinds: Vec<_> = ledger
            .notes()
            .iter()
            .map(|n| (n.level, n.code, n.error_code.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    NoteLevel::Error,
                    NoteCode::ServerError,
                    Some("previous_response_not_found")
                ),
                (NoteLevel::Warn, NoteCode::MalformedFrame, None),
                (NoteLevel::Error, NoteCode::ClientError, None),
                (NoteLevel::Warn, NoteCode::Recorded, None),
            ]
        );
        let json = serde_json::to_value(&ledger.notes()[0]).unwrap();
        assert_eq!(json["level"], "error");
        assert_eq!(json["code"], "server_error");
    }

    /// A turn whose prefix equals its parent's shares the parent's copy (a long session keeps
    /// one), one that differs keeps its own; either way it reads as its own prefix.
    #[test]
    fn equal_prefixes_are_shared() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let (_, frames, _) = crate::transcript::read_all(&dir.join("tool_loop.tsjsonl")).unwrap();
        let ledger = Ledger::from_frames(&frames);
        let turns = ledger.turns();
        assert!(turns.len() >= 3);
        for pair in turns.windows(2) {
            assert_eq!(pair[0].prefix, pair[1].prefix);
            assert!(std::sync::Arc::ptr_eq(&pair[0].prefix, &pair[1].prefix));
        }
        let (_, frames, _) =
            crate::transcript::read_all(&dir.join("cause_instructions_changed.tsjsonl")).unwrap();
        let ledger = Ledger::from_frames(&frames);
        let changed = ledger.turns().windows(2).any(|p| {
            p[0].prefix != p[1].prefix && !std::sync::Arc::ptr_eq(&p[0].prefix, &p[1].prefix)
        });
        assert!(changed, "a changed prefix is kept apart");
    }

    /// The totals of turns added one by one ([`Totals::add_turn`], what a screen folds the turns
    /// that left its list into) are the fold's running totals, on every fixture.
    #[test]
    fn totals_of_the_turns_are_the_running_totals() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut checked = 0;
        for dir in [root.clone(), root.join("stats_golden"), root.join("real")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|x| x != "tsjsonl") {
                    continue;
                }
                let (_, frames, _) = crate::transcript::read_all(&path).unwrap();
                let ledger = Ledger::from_frames(&frames);
                let mut sum = Totals::default();
                ledger.turns().iter().for_each(|t| sum.add_turn(t));
                assert_eq!(&sum, ledger.totals(), "{}", path.display());
                checked += usize::from(sum.errors > 0 && sum.tool_calls > 0);
            }
        }
        assert!(checked > 0, "some fixture has errors and tool calls to add");
    }

    /// A chain entry is kept per response for as long as the ledger lives: it stays 64 bytes.
    #[test]
    fn a_chain_entry_packs_into_64_bytes() {
        assert_eq!(std::mem::size_of::<chain::ChainNode>(), 64);
    }

    /// A summary-only ledger has every figure of the full one and none of the detail.
    #[test]
    fn summary_only_keeps_the_figures_and_drops_the_detail() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut detail_seen = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "tsjsonl") {
                continue;
            }
            let (_, frames, _) = crate::transcript::read_all(&path).unwrap();
            let full = Ledger::from_frames(&frames);
            let mut lean = Ledger::summary_only();
            for frame in &frames {
                lean.push(frame);
            }
            assert_eq!(lean.totals(), full.totals(), "{}", path.display());
            assert_eq!(lean.turns().len(), full.turns().len());
            for (l, f) in lean.turns().iter().zip(full.turns()) {
                detail_seen |= !f.frames.is_empty() && !f.output_text.is_empty();
                assert!(l.frames.is_empty() && l.output_text.is_empty() && l.timings.is_empty());
                let strip = |t: &Turn| {
                    let mut t = t.clone();
                    t.frames.clear();
                    t.output_text.clear();
                    t.timings.clear();
                    format!("{t:?}")
                };
                assert_eq!(strip(l), strip(f), "{}", path.display());
            }
            assert_eq!(lean.unattributed(), full.unattributed());
        }
        assert!(detail_seen, "the fixtures carry detail to drop");
    }
}
