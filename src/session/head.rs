//! The few fields of a client or server event that decide lanes, read in one pass.

use serde::Deserialize;
use serde_json::Value;

use super::lanes::Lane;
use crate::frame::Payload;

/// The fields of an event that decide lanes; everything else is skipped by serde.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Head {
    #[serde(rename = "type", default)]
    kind: Option<Value>,
    #[serde(default)]
    stream_id: Option<Value>,
    #[serde(default)]
    response: Option<HeadResponse>,
}

#[derive(Debug, Default, Deserialize)]
struct HeadResponse {
    #[serde(default)]
    incomplete_details: Option<HeadIncomplete>,
}

#[derive(Debug, Default, Deserialize)]
struct HeadIncomplete {
    #[serde(default)]
    reason: Option<Value>,
}

impl Head {
    pub(crate) fn parse(text: &str) -> Self {
        Self::try_parse(text).unwrap_or_default()
    }

    /// `None` when the text is not a JSON object.
    fn try_parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
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

    pub(crate) fn kind(&self) -> &str {
        self.kind.as_ref().and_then(Value::as_str).unwrap_or("")
    }

    pub(crate) fn lane(&self) -> Lane {
        self.stream_id
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// True when this server event ends the lane's response. A response ended by steering is
    /// followed by its successor on the same lane, so that lane stays busy.
    pub(crate) fn frees_lane(&self) -> bool {
        match self.kind() {
            "response.completed" | "response.failed" | "error" => true,
            "response.incomplete" => {
                let reason = self
                    .response
                    .as_ref()
                    .and_then(|r| r.incomplete_details.as_ref())
                    .and_then(|d| d.reason.as_ref())
                    .and_then(Value::as_str);
                reason != Some("steered")
            }
            _ => false,
        }
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
