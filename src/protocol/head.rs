//! Borrowed "heads" of wire JSON: the few fields readers look at, parsed without copying.
//!
//! Every module that sniffs an event, a request, a response object or an item reads it through
//! one of these four views, so what counts as an event's `type`, lane or error is decided once.
//! Strings borrow from the frame text (`Cow` only allocates for escaped strings); nested parts
//! stay [`Raw`] text so a reader parses them only when it needs them. Fields whose shape varies
//! on real streams (`delta`, `arguments`, `error`, `status`) are kept raw, with accessors, so an
//! odd value there never makes the whole head unreadable.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::server::{ApiError, Usage};

pub(crate) mod scan;
mod scanned;

/// Any event, client or server, or a received HTTP body: its type, lane and the raw parts
/// readers look into. Unknown fields are skipped.
#[derive(Debug, Default, Deserialize)]
pub struct EventHead<'a> {
    /// `type`; absent on HTTP request and response bodies.
    #[serde(deserialize_with = "borrowed", rename = "type", default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    /// The lane the event belongs to; `None` is the default lane.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub stream_id: Option<Cow<'a, str>>,
    /// `"response"` on a non-streaming HTTP body; see [`EventHead::is_response_body`].
    #[serde(default, borrow)]
    object: Option<Raw<'a>>,
    /// The response object of `response.*` lifecycle events.
    #[serde(default, borrow)]
    pub response: Option<Raw<'a>>,
    /// The item of `response.output_item.*` events.
    #[serde(default, borrow)]
    pub item: Option<Raw<'a>>,
    /// The text of `*.delta` events; see [`EventHead::delta`].
    #[serde(default, borrow)]
    delta: Option<Raw<'a>>,
    /// The nested body of an `error` event (or an HTTP error body); see [`EventHead::api_error`].
    #[serde(default, borrow)]
    pub error: Option<Raw<'a>>,
    /// A response body's status string, or an error event's HTTP status number; see
    /// [`EventHead::status`].
    #[serde(default, borrow)]
    status: Option<Raw<'a>>,
}

impl<'a> EventHead<'a> {
    /// Reads the head of `text`; `None` when it is not a JSON object of that shape.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The event type, `""` when absent.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("")
    }

    /// The lane (`stream_id`) as an owned name; `None` is the default lane.
    pub fn lane(&self) -> Option<String> {
        self.stream_id.as_deref().map(str::to_owned)
    }

    /// True for a non-streaming HTTP body (`"object":"response"`, no `type`): the response
    /// object itself rather than an event.
    pub fn is_response_body(&self) -> bool {
        self.kind.is_none() && self.object.is_some_and(|o| o.get() == r#""response""#)
    }

    /// The `delta` text, when it is a string.
    pub fn delta(&self) -> Option<Cow<'a, str>> {
        self.delta.and_then(json_str)
    }

    /// The `status` text, when it is a string (a response body's `completed`, `failed`, …).
    pub fn status(&self) -> Option<Cow<'a, str>> {
        self.status.and_then(json_str)
    }

    /// The nested `error` object as an [`ApiError`], when it has that shape.
    pub fn api_error(&self) -> Option<ApiError> {
        self.error.and_then(|e| serde_json::from_str(e.get()).ok())
    }

    /// `response.incomplete_details.reason`, when the event carries a response.
    pub fn incomplete_reason(&self) -> Option<String> {
        let response: ResponseHead<'_> = serde_json::from_str(self.response?.get()).ok()?;
        let reason = response
            .incomplete_details?
            .get("reason")?
            .as_str()?
            .to_owned();
        Some(reason)
    }
}

/// A client `response.create` / `response.steer`, or an HTTP-mode request body (no `type`):
/// the fields that place it on a chain and a lane, and the raw prompt parts.
#[derive(Debug, Default, Deserialize)]
pub struct RequestHead<'a> {
    /// `type`; absent on HTTP-mode request bodies.
    #[serde(deserialize_with = "borrowed", rename = "type", default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    /// The response this one continues.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub previous_response_id: Option<Cow<'a, str>>,
    /// `store`, when the request says.
    #[serde(default)]
    pub store: Option<bool>,
    /// `generate: false` is a warm-up.
    #[serde(default)]
    pub generate: Option<bool>,
    /// The lane it names; `None` is the default lane.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub stream_id: Option<Cow<'a, str>>,
    /// The model asked for.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub model: Option<Cow<'a, str>>,
    /// `input`: a string or a list of items.
    #[serde(default, borrow)]
    pub input: Option<Raw<'a>>,
    /// `instructions`.
    #[serde(default, borrow)]
    pub instructions: Option<Raw<'a>>,
    /// Each entry of `tools`.
    #[serde(default, borrow)]
    pub tools: Option<Vec<Raw<'a>>>,
    /// `reasoning`.
    #[serde(default, borrow)]
    pub reasoning: Option<Raw<'a>>,
    /// `text` (output format options).
    #[serde(default, borrow)]
    pub text: Option<Raw<'a>>,
    /// `context_management` (compaction).
    #[serde(default, borrow)]
    pub context_management: Option<Raw<'a>>,
}

impl<'a> RequestHead<'a> {
    /// The head of request `text` (`serde_json`: every byte checked); `None` when it is not a
    /// JSON object of that shape.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The lane (`stream_id`) as an owned name; `None` is the default lane.
    pub fn lane(&self) -> Option<String> {
        self.stream_id.as_deref().map(str::to_owned)
    }
}

/// A response object (inside a lifecycle event, or a whole HTTP body); output items stay raw.
#[derive(Debug, Default, Deserialize)]
pub struct ResponseHead<'a> {
    /// `resp_…`; empty when absent.
    #[serde(default)]
    pub id: String,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The response it continued.
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// Each output item, raw.
    #[serde(default, borrow)]
    pub output: Vec<Raw<'a>>,
    /// Token usage, on terminal events.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Why it ended incomplete (`{"reason": …}`).
    #[serde(default)]
    pub incomplete_details: Option<serde_json::Value>,
}

/// A lifecycle event's type and its response's id, nothing else: one parse where a reader only
/// needs to know which response started or ended (the proxy's in-flight tracker, on the relay
/// path). The rest of `response` (usage, output, …) is skipped, not read into a head.
#[derive(Debug, Default, Deserialize)]
pub struct LifecycleHead<'a> {
    /// `type`.
    #[serde(deserialize_with = "borrowed", rename = "type", default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    response: Option<ResponseId<'a>>,
}

/// A response object's `id` (absent or `null`: none).
#[derive(Debug, Default, Deserialize)]
struct ResponseId<'a> {
    #[serde(deserialize_with = "borrowed", default, borrow)]
    id: Option<Cow<'a, str>>,
}

impl<'a> LifecycleHead<'a> {
    /// Reads the head of `text`; `None` when it is not a JSON object of that shape.
    ///
    /// The shape the API and the emulator send, `{"type":"…","sequence_number":N,"response":
    /// {"id":"…"` first, is read where it stands: a terminal event's response carries the whole
    /// output (18 KB on a Codex turn), which serde read through only to find the id. Any other
    /// shape (other order, spaces, escapes) goes to serde. The two differ only on a text that
    /// starts so but is not valid JSON after (or repeats a key), where serde reads nothing.
    pub fn parse(text: &'a str) -> Option<Self> {
        Self::leading(text).or_else(|| serde_json::from_str(text).ok())
    }

    fn leading(text: &'a str) -> Option<Self> {
        let kind = scan::leading_type(text)?;
        let rest = text
            .get(r#"{"type":""#.len() + kind.len() + 1..)?
            .strip_prefix(r#","sequence_number":"#)?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let rest = rest.get(digits..)?.strip_prefix(r#","response":{"id":""#)?;
        let end = memchr::memchr2(b'"', b'\\', rest.as_bytes())?;
        (rest.as_bytes()[end] == b'"').then(|| LifecycleHead {
            kind: Some(Cow::Borrowed(kind)),
            response: Some(ResponseId {
                id: Some(Cow::Borrowed(&rest[..end])),
            }),
        })
    }

    /// The id of the response the event is about, if it names one.
    pub fn response_id(&self) -> Option<&str> {
        self.response.as_ref()?.id.as_deref()
    }
}

/// An input or output item, or a `tools` entry: its type and the fields that identify it.
#[derive(Debug, Default, Deserialize)]
pub struct ItemHead<'a> {
    /// `message`, `function_call`, `function_call_output`, a tool type, …
    #[serde(deserialize_with = "borrowed", rename = "type", default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    /// The call a function call (or its output) belongs to.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub call_id: Option<Cow<'a, str>>,
    /// A function call's or tool's name.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub name: Option<Cow<'a, str>>,
    /// A message's role.
    #[serde(deserialize_with = "borrowed", default, borrow)]
    pub role: Option<Cow<'a, str>>,
    /// A message's content: a string or a list of parts.
    #[serde(default, borrow)]
    pub content: Option<Raw<'a>>,
    /// A function call's arguments; see [`ItemHead::arguments`].
    #[serde(default, borrow)]
    arguments: Option<Raw<'a>>,
}

impl<'a> ItemHead<'a> {
    /// Reads the head of `text`; `None` when it is not a JSON object of that shape.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The item type, `""` when absent.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("")
    }

    /// A function call's `arguments` text, when it is a string.
    pub fn arguments(&self) -> Option<Cow<'a, str>> {
        self.arguments.and_then(json_str)
    }
}

/// An optional string field, borrowed from the text when it has no escapes. serde borrows a
/// bare `Cow<str>` field but always copies one inside an `Option`, which would cost an
/// allocation per field per frame on the ledger's hot path.
fn borrowed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'de>>::deserialize(d)?.map(|t| t.0))
}

/// A JSON value's exact text, borrowed from the frame: what a `&RawValue` holds (serde reads it
/// through one, so a parsed head's parts are checked JSON), but also made by a scan of text
/// already checked, without parsing it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    /// The value's JSON text.
    pub fn get(&self) -> &'a str {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|v| Raw(v.get()))
    }
}

/// A raw JSON value's string, borrowed when it has no escapes; `None` for any other value.
fn json_str<'a>(raw: Raw<'a>) -> Option<Cow<'a, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The common shape is read without serde, to the same head serde reads; others by serde.
    #[test]
    fn lifecycle_heads_read_the_common_shape_as_serde_does() {
        let texts = [
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","output":[]}}"#,
            r#"{"type":"response.completed","sequence_number":42,"response":{"id":"resp_é","usage":{"x":1}}}"#,
            r#"{"type":"response.completed","sequence_number":1,"response":{"id":"a\"b"}}"#,
            r#"{"type":"response.created","response":{"id":"resp_2"},"sequence_number":3}"#,
            r#"{"type":"response.created","sequence_number":0,"response":{"object":"response","id":"r"}}"#,
            r#"{"type":"response.created","sequence_number":,"response":{"id":"r"}}"#,
            r#"{ "type": "response.failed", "response": { "id": "r9" } }"#,
            r#"{"type":"response.created","sequence_number":0,"response":{"id":null}}"#,
        ];
        for text in texts {
            let serde: Option<LifecycleHead> = serde_json::from_str(text).ok();
            let head = LifecycleHead::parse(text);
            assert_eq!(
                head.as_ref().map(|h| (h.kind.as_deref(), h.response_id())),
                serde.as_ref().map(|h| (h.kind.as_deref(), h.response_id())),
                "{text}"
            );
        }
        assert!(LifecycleHead::leading(texts[0]).is_some());
        assert!(LifecycleHead::leading(texts[1]).is_some());
        assert!(
            LifecycleHead::leading(texts[2]).is_none(),
            "an escape goes to serde"
        );
        assert!(
            LifecycleHead::leading(texts[5]).is_none(),
            "no digits goes to serde"
        );
    }

    #[test]
    fn event_heads_read_type_lane_and_raw_parts() {
        let h = EventHead::parse(
            r#"{"type":"response.output_text.delta","stream_id":"a","delta":"hi\n","x":[1]}"#,
        )
        .unwrap();
        assert_eq!(h.kind(), "response.output_text.delta");
        assert_eq!(h.lane().as_deref(), Some("a"));
        assert_eq!(h.delta().as_deref(), Some("hi\n"));
        // A delta of another shape does not make the head unreadable.
        let odd = EventHead::parse(r#"{"type":"response.mcp_call_arguments.delta","delta":{}}"#);
        assert_eq!(odd.unwrap().delta(), None);
        // WebSocket errors carry an HTTP status number beside the nested error.
        let err = EventHead::parse(
            r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"c","message":"m"}}"#,
        )
        .unwrap();
        assert_eq!(err.status(), None);
        assert_eq!(err.api_error().and_then(|e| e.code).as_deref(), Some("c"));
        let body = EventHead::parse(r#"{"object":"response","status":"incomplete"}"#).unwrap();
        assert!(body.is_response_body());
        assert_eq!(body.status().as_deref(), Some("incomplete"));
        assert!(
            !EventHead::parse(r#"{"type":"x","object":"response"}"#)
                .unwrap()
                .is_response_body()
        );
        assert!(
            !EventHead::parse(r#"{"object":7}"#)
                .unwrap()
                .is_response_body()
        );
        assert!(EventHead::parse("[").is_none());
        assert!(EventHead::parse(r#"{"type":5}"#).is_none());
    }

    #[test]
    fn incomplete_reason_comes_from_the_response() {
        let h = EventHead::parse(
            r#"{"type":"response.incomplete","response":{"incomplete_details":{"reason":"steered"}}}"#,
        )
        .unwrap();
        assert_eq!(h.incomplete_reason().as_deref(), Some("steered"));
        let none = EventHead::parse(r#"{"type":"response.completed","response":{}}"#).unwrap();
        assert_eq!(none.incomplete_reason(), None);
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let text = r#"{"type":"function_call","call_id":"c1","arguments":"{\"a\":1}","name":"ls"}"#;
        let item = ItemHead::parse(text).unwrap();
        assert!(matches!(item.call_id, Some(Cow::Borrowed("c1"))));
        assert_eq!(item.arguments().as_deref(), Some(r#"{"a":1}"#));
        assert!(matches!(item.arguments(), Some(Cow::Owned(_))));
        let plain = EventHead::parse(r#"{"type":"x","delta":"abc"}"#).unwrap();
        assert!(matches!(plain.delta(), Some(Cow::Borrowed("abc"))));
        assert!(matches!(plain.kind, Some(Cow::Borrowed("x"))));
        let escaped = EventHead::parse(r#"{"type":"a\u0062","stream_id":null}"#).unwrap();
        assert_eq!(escaped.kind(), "ab");
        assert_eq!(escaped.stream_id, None);
    }
}
