//! One response in flight per lane: which lanes are busy and the creates queued behind them.

use std::collections::{HashMap, VecDeque};

/// A lane is a create's `stream_id`; `None` is the default lane.
pub type Lane = Option<String>;

/// What to do with a create offered to [`Lanes::offer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// The lane was free: send it now (the lane is now busy).
    SendNow(String),
    /// The lane is busy: it waits, `depth` creates are now queued on that lane.
    Queued {
        /// Queue length on the lane, this create included.
        depth: usize,
    },
}

/// Busy lanes and their FIFO queues of unsent creates.
#[derive(Debug, Default)]
pub struct Lanes {
    busy: HashMap<Lane, VecDeque<String>>,
}

impl Lanes {
    /// Offers a create for `lane`: send at once if the lane is free, else queue it.
    pub fn offer(&mut self, lane: Lane, text: String) -> Offer {
        match self.busy.get_mut(&lane) {
            Some(queue) => {
                queue.push_back(text);
                Offer::Queued { depth: queue.len() }
            }
            None => {
                self.busy.insert(lane, VecDeque::new());
                Offer::SendNow(text)
            }
        }
    }

    /// The response on `lane` ended: returns the next queued create to send (the lane stays
    /// busy with it) and how many remain queued, or frees the lane.
    pub fn finish(&mut self, lane: &Lane) -> Option<(String, usize)> {
        let queue = self.busy.get_mut(lane)?;
        match queue.pop_front() {
            Some(next) => Some((next, queue.len())),
            None => {
                self.busy.remove(lane);
                None
            }
        }
    }

    /// True when a response is in flight on `lane`.
    pub fn is_busy(&self, lane: &Lane) -> bool {
        self.busy.contains_key(lane)
    }

    /// How many creates wait on `lane`.
    pub fn depth(&self, lane: &Lane) -> usize {
        self.busy.get(lane).map_or(0, VecDeque::len)
    }

    /// Lanes with a response in flight.
    pub fn in_flight(&self) -> usize {
        self.busy.len()
    }

    /// The connection is gone: forgets every in-flight response and returns the creates that
    /// were never sent, per lane in FIFO order (lanes sorted, default lane first).
    pub fn drain(&mut self) -> Vec<(Lane, Vec<String>)> {
        let mut out: Vec<(Lane, Vec<String>)> = self
            .busy
            .drain()
            .filter(|(_, q)| !q.is_empty())
            .map(|(lane, q)| (lane, q.into_iter().collect()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(name: &str) -> Lane {
        Some(name.to_owned())
    }

    #[test]
    fn second_create_on_a_lane_waits_and_goes_out_in_fifo_order() {
        let mut lanes = Lanes::default();
        assert_eq!(lanes.offer(None, "a".into()), Offer::SendNow("a".into()));
        assert_eq!(lanes.offer(None, "b".into()), Offer::Queued { depth: 1 });
        assert_eq!(lanes.offer(None, "c".into()), Offer::Queued { depth: 2 });
        assert_eq!(lanes.finish(&None), Some(("b".into(), 1)));
        assert!(lanes.is_busy(&None));
        assert_eq!(lanes.finish(&None), Some(("c".into(), 0)));
        assert_eq!(lanes.finish(&None), None);
        assert!(!lanes.is_busy(&None));
        assert_eq!(lanes.in_flight(), 0);
    }

    #[test]
    fn lanes_are_independent() {
        let mut lanes = Lanes::default();
        assert_eq!(
            lanes.offer(lane("x"), "x1".into()),
            Offer::SendNow("x1".into())
        );
        assert_eq!(
            lanes.offer(lane("y"), "y1".into()),
            Offer::SendNow("y1".into())
        );
        assert_eq!(lanes.offer(None, "d1".into()), Offer::SendNow("d1".into()));
        assert_eq!(
            lanes.offer(lane("x"), "x2".into()),
            Offer::Queued { depth: 1 }
        );
        assert_eq!(lanes.in_flight(), 3);
        assert_eq!(lanes.finish(&lane("y")), None);
        assert_eq!(lanes.depth(&lane("x")), 1);
        assert_eq!(lanes.finish(&lane("x")), Some(("x2".into(), 0)));
    }

    #[test]
    fn finishing_an_idle_lane_is_harmless() {
        let mut lanes = Lanes::default();
        assert_eq!(lanes.finish(&lane("nobody")), None);
        assert_eq!(lanes.in_flight(), 0);
    }

    #[test]
    fn drain_returns_only_unsent_creates_and_frees_everything() {
        let mut lanes = Lanes::default();
        lanes.offer(None, "a".into());
        lanes.offer(None, "b".into());
        lanes.offer(lane("z"), "z1".into());
        lanes.offer(lane("q"), "q1".into());
        lanes.offer(lane("q"), "q2".into());
        let drained = lanes.drain();
        assert_eq!(
            drained,
            vec![
                (None, vec!["b".to_owned()]),
                (lane("q"), vec!["q2".to_owned()])
            ]
        );
        assert_eq!(lanes.in_flight(), 0);
    }
}
