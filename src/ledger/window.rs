//! The ledger's turns as a window over their absolute numbers: finished turns retire from its
//! front, so a long fold keeps the turns that can still change and running figures, not every turn.
//!
//! A turn is addressed by its 0-based absolute number everywhere in the ledger (lanes, pending
//! maps, the chain); the window keeps the live ones, `base` counts those that left. What a later
//! turn's verdicts read from an earlier one (the gap since the lane's last turn, the turn a full
//! resend is compared with, a `previous_response_not_found` before a resend, the last `store`)
//! is found through [`Anchors`], which keep a small [`Trace`] of a retired turn still named.

use std::collections::HashMap;
use std::ops::{Index, IndexMut};
use std::sync::Arc;

use super::insight::Prefix;
use super::{Ledger, Turn, TurnStatus};

/// Live turns at most: past this a finished turn retires even while it is its lane's newest (a
/// lane a client stopped using must not hold every later turn back). ~0.7 MB of turns.
const MAX_LIVE: usize = 1024;

/// The turns still in the ledger, numbered from `base`.
#[derive(Debug, Default)]
pub(super) struct Turns {
    base: usize,
    live: Vec<Turn>,
}

impl Turns {
    /// Turns ever added: the next turn's 0-based number.
    pub(super) fn len(&self) -> usize {
        self.base + self.live.len()
    }

    /// Turns that left.
    pub(super) fn base(&self) -> usize {
        self.base
    }

    pub(super) fn live(&self) -> &[Turn] {
        &self.live
    }

    pub(super) fn push(&mut self, turn: Turn) {
        self.live.push(turn);
    }

    /// Turn `t` (0-based, absolute), while it is live.
    pub(super) fn get(&self, t: usize) -> Option<&Turn> {
        t.checked_sub(self.base).and_then(|i| self.live.get(i))
    }

    pub(super) fn get_mut(&mut self, t: usize) -> Option<&mut Turn> {
        t.checked_sub(self.base).and_then(|i| self.live.get_mut(i))
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, Turn> {
        self.live.iter()
    }

    pub(super) fn last(&self) -> Option<&Turn> {
        self.live.last()
    }

    /// The absolute number of the newest live turn matching `f`.
    pub(super) fn rposition(&self, f: impl FnMut(&Turn) -> bool) -> Option<usize> {
        self.live.iter().rposition(f).map(|i| i + self.base)
    }
}

/// Indexed by absolute number; the ledger only indexes turns its lanes and pending maps hold,
/// which are live (they retire once final).
impl Index<usize> for Turns {
    type Output = Turn;
    fn index(&self, t: usize) -> &Turn {
        &self.live[t - self.base]
    }
}

impl IndexMut<usize> for Turns {
    fn index_mut(&mut self, t: usize) -> &mut Turn {
        &mut self.live[t - self.base]
    }
}

/// What a later turn's verdicts read from an earlier turn.
#[derive(Debug, Clone)]
pub(super) struct Trace {
    /// 1-based turn number.
    pub(super) index: usize,
    pub(super) conn: u32,
    pub(super) done_us: Option<u64>,
    pub(super) store: Option<bool>,
    /// It ended in a `previous_response_not_found` error.
    pub(super) not_found: bool,
    pub(super) prefix: Arc<Prefix>,
}

impl Trace {
    fn of(t: &Turn) -> Self {
        Trace {
            index: t.index,
            conn: t.conn,
            done_us: t.done_us,
            store: t.store,
            not_found: matches!(&t.status,
                TurnStatus::Error { code: Some(c), .. } if c == "previous_response_not_found"),
            prefix: Arc::clone(&t.prefix),
        }
    }
}

/// The newest turn of some kind: live (read from the window, it may still change) or retired
/// (final, so its trace is all there is to read).
#[derive(Debug, Clone)]
enum Anchor {
    Live(usize),
    Gone(Trace),
}

/// The newest turns later verdicts look up, kept as turns are added, instead of scanning every
/// turn (a scan of a window sees only the live ones).
#[derive(Debug, Default)]
pub(super) struct Anchors {
    /// Per connection and lane: the gap before the lane's next send.
    on_lane: HashMap<(u32, Option<String>), Anchor>,
    /// Per lane, any connection: a `previous_response_not_found` a resend follows.
    lane: HashMap<Option<String>, Anchor>,
    /// Per lane, any connection, requests only (no steered successor): what a full resend is
    /// compared with.
    request: HashMap<Option<String>, Anchor>,
    /// The newest turn.
    last: Option<Anchor>,
    /// Some turn went over WebSocket / over HTTP.
    pub(super) websocket: bool,
    pub(super) http: bool,
}

impl Anchors {
    /// Turn `t` was just added.
    pub(super) fn added(&mut self, t: usize, turn: &Turn) {
        let lane = &turn.lane;
        self.on_lane
            .insert((turn.conn, lane.clone()), Anchor::Live(t));
        self.lane.insert(lane.clone(), Anchor::Live(t));
        if !turn.steered_successor {
            self.request.insert(lane.clone(), Anchor::Live(t));
        }
        self.last = Some(Anchor::Live(t));
        match turn.transport {
            super::Transport::WebSocket => self.websocket = true,
            super::Transport::Http => self.http = true,
        }
    }

    /// Turn `t` leaves the window: anchors naming it keep its trace.
    fn retired(&mut self, t: usize, turn: &Turn) {
        let lane = &turn.lane;
        let slots = [
            self.on_lane.get_mut(&(turn.conn, lane.clone())),
            self.lane.get_mut(lane),
            self.request.get_mut(lane),
            self.last.as_mut(),
        ];
        for slot in slots.into_iter().flatten() {
            if matches!(slot, Anchor::Live(i) if *i == t) {
                *slot = Anchor::Gone(Trace::of(turn));
            }
        }
    }

    /// Whether turn `t` is the newest on its connection and lane.
    fn newest_on_lane(&self, t: usize, turn: &Turn) -> bool {
        matches!(self.on_lane.get(&(turn.conn, turn.lane.clone())), Some(Anchor::Live(i)) if *i == t)
    }
}

impl Ledger {
    fn trace(&self, anchor: Option<&Anchor>) -> Option<Trace> {
        match anchor? {
            Anchor::Live(t) => self.turns.get(*t).map(Trace::of),
            Anchor::Gone(trace) => Some(trace.clone()),
        }
    }

    /// The newest turn on connection `conn` and `lane`.
    pub(super) fn newest_on_lane(&self, conn: u32, lane: &Option<String>) -> Option<Trace> {
        self.trace(self.anchors.on_lane.get(&(conn, lane.clone())))
    }

    /// The newest turn on `lane`, any connection.
    pub(super) fn newest_on_any(&self, lane: &Option<String>) -> Option<Trace> {
        self.trace(self.anchors.lane.get(lane))
    }

    /// The newest request (not a steered successor) on `lane`, any connection.
    pub(super) fn newest_request(&self, lane: &Option<String>) -> Option<Trace> {
        self.trace(self.anchors.request.get(lane))
    }

    /// The newest turn.
    pub(super) fn newest(&self) -> Option<Trace> {
        self.trace(self.anchors.last.as_ref())
    }

    /// Hands over, in turn order, the finished turns at the front of the window that no later
    /// frame can change, and forgets them: the ledger keeps their figures in its totals and what
    /// later verdicts read from them, not the turns. A turn leaves once it is final and no longer
    /// its connection's and lane's newest (or its connection closed): a late `response.steer`
    /// naming it still finds it until then. Past [`MAX_LIVE`] live turns the oldest final one
    /// leaves anyway. Call it after pushing frames; a consumer that never calls it (the screens)
    /// keeps every turn. [`Ledger::turns`] then holds the live turns, the first numbered
    /// [`Ledger::retired`] + 1.
    pub fn retire_finished(&mut self) -> Vec<Turn> {
        self.retire_finished_beyond(0)
    }

    /// [`Ledger::retire_finished`], but the newest `keep` turns stay whatever they are: for a
    /// screen that lists the newest turns and folds older ones into one row (the proxy TUI).
    pub fn retire_finished_beyond(&mut self, keep: usize) -> Vec<Turn> {
        let mut n = 0;
        for (i, turn) in self.turns.live().iter().enumerate() {
            if self.turns.live().len() - n <= keep {
                break;
            }
            // A running turn stays, whatever else holds: tested first, as the headless proxy
            // asks after every frame and the lane's look-up (a hash of its key) was most of
            // that call (callgrind, relay bench).
            if !turn.status.is_final() {
                break;
            }
            let t = self.turns.base() + i;
            let closed = self
                .connections
                .get(turn.conn as usize)
                .is_some_and(|c| !c.is_open());
            let pressed = self.turns.live().len() - n > MAX_LIVE;
            if !(closed || pressed || !self.anchors.newest_on_lane(t, turn)) {
                break;
            }
            n += 1;
        }
        self.retire_front(n)
    }

    /// Hands over every turn, finished or not (the end of a recording: nothing more will come).
    pub fn retire_all(&mut self) -> Vec<Turn> {
        let n = self.turns.live().len();
        let gone = self.retire_front(n);
        let base = self.turns.base();
        // Nothing may name a turn that left: queues and pending parts of unfinished ones go.
        for queue in self.lanes.values_mut() {
            queue.retain(|&t| t >= base);
        }
        self.pending_output.retain(|&t, _| t >= base);
        self.pending_input.retain(|&t, _| t >= base);
        gone
    }

    /// Turns that left the ledger (see [`Ledger::retire_finished`]).
    pub fn retired(&self) -> usize {
        self.turns.base()
    }

    /// Whether `response_id` names a turn that left the window (a steer naming it touches none).
    pub(super) fn names_retired(&self, response_id: &str) -> bool {
        self.chain
            .get(response_id)
            .is_some_and(|n| (n.turn as usize) < self.turns.base())
    }

    fn retire_front(&mut self, n: usize) -> Vec<Turn> {
        let base = self.turns.base;
        let gone: Vec<Turn> = self.turns.live.drain(..n).collect();
        self.turns.base += n;
        for (i, turn) in gone.iter().enumerate() {
            self.anchors.retired(base + i, turn);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::frame::{Dir, Frame, Payload};

    /// Every frame of every fixture transcript (the real captures and the golden ones too).
    fn fixture_frames() -> Vec<Frame> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut frames = Vec::new();
        for dir in [root.clone(), root.join("stats_golden"), root.join("real")] {
            let mut paths: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "tsjsonl"))
                .collect();
            paths.sort();
            for path in paths {
                frames.extend(crate::transcript::read_all(&path).unwrap().1);
            }
        }
        frames
    }

    /// Folds `frames` retiring finished turns after every frame (the most a consumer can retire);
    /// returns the ledger and every turn it handed over, then the rest.
    fn fold_retiring(mut ledger: Ledger, frames: &[Frame]) -> (Ledger, Vec<Turn>) {
        let mut gone = Vec::new();
        for frame in frames {
            ledger.push(frame);
            let base = ledger.retired();
            let out = ledger.retire_finished();
            // Handed over in turn order, numbered where the window started.
            for (i, t) in out.iter().enumerate() {
                assert_eq!(t.index, base + i + 1);
                assert!(t.status.is_final());
            }
            gone.extend(out);
        }
        gone.extend(ledger.retire_all());
        (ledger, gone)
    }

    /// A retiring ledger hands over the turns the whole one keeps, field for field, and keeps the
    /// same totals, connections and notes, on `frames`.
    fn assert_same_fold(frames: &[Frame], summary_only: bool) {
        let fresh = || {
            if summary_only {
                Ledger::summary_only()
            } else {
                Ledger::new()
            }
        };
        let mut whole = fresh();
        for frame in frames {
            whole.push(frame);
        }
        let (retiring, gone) = fold_retiring(fresh(), frames);
        assert_eq!(format!("{gone:#?}"), format!("{:#?}", whole.turns()));
        assert_eq!(retiring.totals(), whole.totals());
        assert_eq!(retiring.connections(), whole.connections());
        assert_eq!(retiring.notes(), whole.notes());
        assert_eq!(retiring.unattributed(), whole.unattributed());
        assert!(retiring.turns().is_empty());
    }

    /// Each fixture, and all of them one after the other (connections, lanes and chains of one
    /// file meeting another's): the same turns whether finished ones retire or not.
    #[test]
    fn retiring_turns_changes_no_figure_of_the_fixtures() {
        let all = fixture_frames();
        assert!(all.len() > 200, "the fixtures have frames to fold");
        assert_same_fold(&all, true);
        assert_same_fold(&all, false);
    }

    /// The window stays small on a long single-lane chain: each turn leaves once the next starts.
    #[test]
    fn a_chain_keeps_one_or_two_turns() {
        let mut frames = Vec::new();
        let json = |t_us, dir, text: String| Frame {
            t_us,
            wall: String::new(),
            conn: 0,
            dir,
            payload: Payload::Json(text),
        };
        frames.push(json(0, Dir::Meta, r#"{"event":"connect"}"#.into()));
        for n in 1..=300u64 {
            let prev = if n > 1 {
                format!(r#","previous_response_id":"resp_{}""#, n - 1)
            } else {
                String::new()
            };
            frames.push(json(
                n * 10,
                Dir::Sent,
                format!(r#"{{"type":"response.create","model":"m","input":"go {n}"{prev}}}"#),
            ));
            frames.push(json(
                n * 10 + 1,
                Dir::Recv,
                format!(r#"{{"type":"response.created","response":{{"id":"resp_{n}"}}}}"#),
            ));
            frames.push(json(
                n * 10 + 2,
                Dir::Recv,
                format!(
                    r#"{{"type":"response.completed","response":{{"id":"resp_{n}","output":[]}}}}"#
                ),
            ));
        }
        let mut ledger = Ledger::summary_only();
        let mut most = 0;
        for frame in &frames {
            ledger.push(frame);
            ledger.retire_finished();
            most = most.max(ledger.turns().len());
        }
        assert_eq!(ledger.retired(), 299);
        assert!(most <= 2, "{most} turns live at once");
        assert_same_fold(&frames, true);
    }

    /// A steer that names a finished response still counts on it while that turn is its lane's
    /// newest; once it retired, a steer naming it touches no other turn.
    #[test]
    fn a_late_steer_finds_a_live_turn_and_no_retired_one() {
        let frame = |t_us, dir, text: &str| Frame {
            t_us,
            wall: String::new(),
            conn: 0,
            dir,
            payload: Payload::Json(text.into()),
        };
        let mut ledger = Ledger::summary_only();
        for (t, dir, text) in [
            (0, Dir::Meta, r#"{"event":"connect"}"#),
            (1, Dir::Sent, r#"{"type":"response.create","input":"a"}"#),
            (
                2,
                Dir::Recv,
                r#"{"type":"response.created","response":{"id":"resp_a"}}"#,
            ),
            (
                3,
                Dir::Recv,
                r#"{"type":"response.completed","response":{"id":"resp_a"}}"#,
            ),
            (
                4,
                Dir::Sent,
                r#"{"type":"response.steer","previous_response_id":"resp_a","input":"x"}"#,
            ),
        ] {
            ledger.push(&frame(t, dir, text));
            ledger.retire_finished();
        }
        assert_eq!(ledger.retired(), 0, "the lane's newest turn stays");
        assert_eq!(ledger.turns()[0].steers, 1);
        for (t, dir, text) in [
            (5, Dir::Sent, r#"{"type":"response.create","input":"b"}"#),
            (
                6,
                Dir::Recv,
                r#"{"type":"response.created","response":{"id":"resp_b"}}"#,
            ),
        ] {
            ledger.push(&frame(t, dir, text));
        }
        assert_eq!(ledger.retire_finished().len(), 1);
        let late = r#"{"type":"response.steer","previous_response_id":"resp_a","input":"y"}"#;
        assert_eq!(ledger.push(&frame(7, Dir::Sent, late)), None);
        assert_eq!(
            ledger.turns()[0].steers,
            0,
            "the running turn is not the one named"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// Real frames in any order, on any of three connections: retiring finished turns after
        /// every frame hands over exactly the turns the whole ledger keeps. Steers are left out:
        /// one naming a turn that retired is the one designed difference (see the test above).
        #[test]
        fn shuffled_real_frames_fold_the_same_retiring_or_not(
            picks in prop::collection::vec((any::<prop::sample::Index>(), 0u32..3), 1..120)
        ) {
            let all: Vec<Frame> = fixture_frames()
                .into_iter()
                .filter(|f| !f.payload.json().is_some_and(|j| j.contains("response.steer\"")))
                .collect();
            let frames: Vec<Frame> = picks
                .iter()
                .enumerate()
                .map(|(n, (pick, conn))| {
                    let mut f = pick.get(&all).clone();
                    f.conn = *conn;
                    f.t_us = n as u64 * 1000;
                    f
                })
                .collect();
            assert_same_fold(&frames, true);
        }
    }
}
