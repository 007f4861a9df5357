//! The few facts about a client or server event that decide lanes, read in one pass.

use super::lanes::Lane;
use crate::frame::Payload;
use crate::protocol::EventHead;

/// What the lane bookkeeping needs from one event, owned so it outlives the frame text.
#[derive(Debug, Default)]
pub(crate) struct Head {
    /// A `response.create`: it takes a turn on its lane.
    create: bool,
    lane: Lane,
    frees_lane: bool,
}

impl Head {
    pub(crate) fn parse(text: &str) -> Self {
        Self::try_parse(text).unwrap_or_default()
    }

    /// `None` when the text is not a JSON object with a readable head.
    fn try_parse(text: &str) -> Option<Self> {
        let event = EventHead::parse(text)?;
        Some(Head {
            create: event.kind() == "response.create",
            lane: event.lane(),
            frees_lane: frees_lane(&event),
        })
    }

    /// Classifies a received text frame with one parse: a one-line JSON object is `Json` and
    /// gets its head; anything else goes through [`Payload::from_text`].
    pub(crate) fn classify(text: &str) -> (Payload, Option<Self>) {
        if !text.contains(['\n', '\r'])
            && let Some(head) = Self::try_parse(text)
        {
            return (Payload::Json(text.to_owned()), Some(head));
        }
        (Payload::from_text(text), None)
    }

    /// True for a `response.create`.
    pub(crate) fn is_create(&self) -> bool {
        self.create
    }

    pub(crate) fn lane(&self) -> Lane {
        self.lane.clone()
    }

    /// True when this server event ends the lane's response.
    pub(crate) fn frees_lane(&self) -> bool {
        self.frees_lane
    }
}

/// A response ended by steering is followed by its successor on the same lane, so that lane
/// stays busy; every other terminal event or error frees it.
fn frees_lane(event: &EventHead<'_>) -> bool {
    match event.kind() {
        "response.completed" | "response.failed" | "error" => true,
        "response.incomplete" => event.incomplete_reason().as_deref() != Some("steered"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_events_and_errors_free_their_lane_but_a_steered_end_does_not() {
        let frees = |t: &str| Head::parse(t).frees_lane();
        assert!(frees(
            r#"{"type":"response.completed","response":{"id":"r"}}"#
        ));
        assert!(frees(r#"{"type":"response.failed"}"#));
        assert!(frees(r#"{"type":"error","error":{"code":"x"}}"#));
        assert!(frees(
            r#"{"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}}"#
        ));
        assert!(!frees(
            r#"{"type":"response.incomplete","response":{"incomplete_details":{"reason":"steered"}}}"#
        ));
        assert!(!frees(
            r#"{"type":"response.output_text.delta","delta":"x"}"#
        ));
        assert!(!frees("not json"));
    }

    #[test]
    fn lanes_come_from_string_stream_ids_only() {
        assert_eq!(
            Head::parse(r#"{"type":"x","stream_id":"a.b-1"}"#).lane(),
            Some("a.b-1".into())
        );
        assert_eq!(Head::parse(r#"{"type":"x","stream_id":7}"#).lane(), None);
        assert_eq!(Head::parse(r#"{"type":"x"}"#).lane(), None);
    }

    #[test]
    fn classify_matches_payload_from_text() {
        for text in [
            r#"{"type":"a"}"#,
            "[1,2]",
            "{\n\"a\":1}",
            "nope",
            r#"{"a":1,"a":2}"#,
            "",
        ] {
            assert_eq!(Head::classify(text).0, Payload::from_text(text), "{text:?}");
        }
    }
}
