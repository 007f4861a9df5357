//! The proxy's interventions: `edited`, `injected` and `dropped` meta lines mark the turns they
//! touched, and a request dropped at a breakpoint becomes a turn the server never saw.

use serde_json::value::RawValue;

use super::read::SentRead;
use super::{Ledger, Size, TurnStatus};
use crate::frame::{Dir, FrameRef};

/// What an `edited` or `injected` line says about the frame that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    /// The next frame is the edited version of a held one.
    Edited,
    /// The next frame was typed in the proxy.
    Injected,
}

/// The lane an event names, for a dropped server event.
#[derive(serde::Deserialize)]
struct LaneHead {
    #[serde(default)]
    stream_id: Option<String>,
}

impl Ledger {
    /// An `edited`, `injected` or `dropped` meta line (`sent` = agent → upstream).
    pub(super) fn on_intervention(
        &mut self,
        frame: &FrameRef<'_>,
        index: u64,
        event: &str,
        sent: bool,
        original: Option<&RawValue>,
    ) -> Option<usize> {
        match event {
            "edited" => {
                self.pending_marks
                    .insert((frame.conn, sent), Pending::Edited);
                None
            }
            "injected" => {
                self.pending_marks
                    .insert((frame.conn, sent), Pending::Injected);
                None
            }
            _ if sent => self.dropped_request(frame, index, original?),
            _ => {
                let lane = original
                    .and_then(|o| serde_json::from_str::<LaneHead>(o.get()).ok())
                    .and_then(|h| h.stream_id);
                let t = self.front(frame.conn, &lane)?;
                self.turns[t].intervention.dropped = true;
                Some(t)
            }
        }
    }

    /// Marks the turn a frame touched when an `edited` / `injected` line announced the frame.
    pub(super) fn apply_pending_mark(&mut self, frame: &FrameRef<'_>, touched: Option<usize>) {
        let key = (frame.conn, frame.dir == Dir::Sent);
        let Some(pending) = self.pending_marks.remove(&key) else {
            return;
        };
        if let Some(turn) = touched.and_then(|t| self.turns.get_mut(t)) {
            match pending {
                Pending::Edited => turn.intervention.edited = true,
                Pending::Injected => turn.intervention.injected = true,
            }
        }
    }

    /// A `response.create` the proxy's user dropped: a turn (so the list shows it) that ends at
    /// once as "not sent"; its bytes are not counted as sent.
    fn dropped_request(
        &mut self,
        frame: &FrameRef<'_>,
        index: u64,
        original: &RawValue,
    ) -> Option<usize> {
        let SentRead { head, input } = SentRead::of(original.get())?;
        if head.kind.as_deref() != Some("response.create") {
            return None;
        }
        let lane = head.lane();
        let t = self.start_turn(frame, index, &head, &input, lane);
        self.pending_input.remove(&t);
        let turn = &mut self.turns[t];
        // Never sent, so no latency: `done_us` stays unset and the list shows `-`.
        turn.status = TurnStatus::NotSent;
        turn.intervention.dropped = true;
        let (incremental, full) = (turn.incremental, turn.full_context);
        sub(&mut self.totals.incremental, incremental);
        sub(&mut self.totals.full_context, full);
        self.judge_end(t);
        self.release(t);
        Some(t)
    }
}

fn sub(total: &mut Size, s: Size) {
    total.bytes = total.bytes.saturating_sub(s.bytes);
    total.items = total.items.saturating_sub(s.items);
    total.tokens = total.tokens.saturating_sub(s.tokens);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Mark;

    fn frame(t_us: u64, dir: Dir, json: &str) -> crate::frame::Frame {
        crate::frame::Frame {
            t_us,
            wall: String::new(),
            conn: 0,
            dir,
            payload: crate::frame::Payload::Json(json.into()),
        }
    }

    /// A warm-up, then a turn whose completion the proxy's user dropped on its way to the agent.
    #[test]
    fn a_warm_up_and_a_dropped_server_event_are_marked() {
        let frames = [
            frame(0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#),
            frame(
                1,
                Dir::Sent,
                r#"{"type":"response.create","model":"m","generate":false,"input":"base"}"#,
            ),
            frame(
                2,
                Dir::Recv,
                r#"{"type":"response.completed","response":{"id":"resp_1","output":[]}}"#,
            ),
            frame(
                3,
                Dir::Sent,
                r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","input":"hi"}"#,
            ),
            frame(
                4,
                Dir::Meta,
                r#"{"event":"dropped","dir":"recv","original":{"type":"response.output_text.delta","delta":"x"}}"#,
            ),
        ];
        let ledger = Ledger::from_frames(&frames);
        let turns = ledger.turns();
        assert_eq!(turns[0].marks(), vec![Mark::WarmUp]);
        assert_eq!(turns[1].marks(), vec![Mark::Dropped]);
        assert_eq!(turns[1].status, TurnStatus::InFlight);
    }
}
