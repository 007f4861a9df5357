//! Borrowed "heads" of wire JSON: the few fields readers look at, parsed without copying.
//!
//! Every module that sniffs an event, a request, a response object or an item reads it through
//! one of these four views, so what counts as an event's `type`, lane or error is decided once.
//! Strings borrow from the frame text (`Cow` only allocates for escaped strings); nested parts
//! stay `&RawValue` so a reader parses them only when it needs them. Fields whose shape varies
//! on real streams (`delta`, `arguments`, `error`, `status`) are kept raw, with accessors, so an
//! odd value there never makes the whole head unreadable.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::server::{ApiError, Usage};

pub(crate) mod scan;

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
    object: Option<&'a RawValue>,
    /// The response object of `response.*` lifecycle events.
    #[serde(default, borrow)]
    pub response: Option<&'a RawValue>,
    /// The item of `response.output_item.*` events.
    #[serde(default, borrow)]
    pub item: Option<&'a RawValue>,
    /// The text of `*.delta` events; see [`EventHead::delta`].
    #[serde(default, borrow)]
    delta: Option<&'a RawValue>,
    /// The nested body of an `error` event (or an HTTP error body); see [`EventHead::api_error`].
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
    /// A response body's status string, or an error event's HTTP status number; see
    /// [`EventHead::status`].
    #[serde(default, borrow)]
    status: Option<&'a RawValue>,
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

    /// [`RequestHead::parse`] for text already known to be valid JSON (a frame read from a
    /// transcript line): the same head, found without parsing the request again — its `input`,
    /// most of its bytes, is only skipped over.
    pub fn scan(text: &'a str) -> Option<Self> {
        let names = [
            "type",
            "previous_response_id",
            "store",
            "generate",
            "stream_id",
            "model",
            "input",
            "instructions",
            "tools",
            "reasoning",
            "text",
            "context_management",
        ];
        let [
            kind,
            previous_response_id,
            store,
            generate,
            stream_id,
            model,
            input,
            instructions,
            tools,
            reasoning,
            text_options,
            context_management,
        ] = match scan_fields(text, names) {
            Scanned::Fields(fields) => fields,
            Scanned::Parse => return Self::parse(text),
            Scanned::Invalid => return None,
        };
        Some(RequestHead {
            kind: field(kind, scan_str)?,
            previous_response_id: field(previous_response_id, scan_str)?,
            store: field(store, scan_bool)?,
            generate: field(generate, scan_bool)?,
            stream_id: field(stream_id, scan_str)?,
            model: field(model, scan_str)?,
            input: field(input, scan_text)?,
            instructions: field(instructions, scan_text)?,
            tools: field(tools, |v| {
                if v == "null" {
                    return Some(None);
                }
                scan::elements(v).map(|list| Some(list.into_iter().map(Raw).collect()))
            })?,
            reasoning: field(reasoning, scan_text)?,
            text: field(text_options, scan_text)?,
            context_management: field(context_management, scan_text)?,
        })
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
    pub output: Vec<&'a RawValue>,
    /// Token usage, on terminal events.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Why it ended incomplete (`{"reason": …}`).
    #[serde(default)]
    pub incomplete_details: Option<serde_json::Value>,
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
    pub content: Option<&'a RawValue>,
    /// A function call's arguments; see [`ItemHead::arguments`].
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
}

impl<'a> ItemHead<'a> {
    /// Reads the head of `text`; `None` when it is not a JSON object of that shape.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// [`ItemHead::parse`] for text already known to be valid JSON (a `RawValue`'s): the same
    /// head, found without parsing the item again — its big strings (a tool's output) are
    /// skipped, not decoded.
    pub fn scan(text: &'a str) -> Option<Self> {
        let names = ["type", "call_id", "name", "role", "content", "arguments"];
        let [kind, call_id, name, role, content, arguments] = match scan_fields(text, names) {
            Scanned::Fields(fields) => fields,
            Scanned::Parse => return Self::parse(text),
            Scanned::Invalid => return None,
        };
        Some(ItemHead {
            kind: field(kind, scan_str)?,
            call_id: field(call_id, scan_str)?,
            name: field(name, scan_str)?,
            role: field(role, scan_str)?,
            content: field(content, scan_raw)?,
            arguments: field(arguments, scan_raw)?,
        })
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

/// What [`scan_fields`] found.
enum Scanned<'a, const N: usize> {
    /// Each named field's value text, if present.
    Fields([Option<&'a str>; N]),
    /// Something serde must decide (a key with an escape, a value that is not an object).
    Parse,
    /// A field given twice: serde refuses the whole head, and so does the scan.
    Invalid,
}

/// The values of the fields `names` in the JSON object `text` (known to be valid), in that order.
fn scan_fields<'a, const N: usize>(text: &'a str, names: [&str; N]) -> Scanned<'a, N> {
    if !text.trim_start().starts_with('{') {
        return Scanned::Parse;
    }
    let mut fields = [None; N];
    let (mut escaped, mut repeated) = (false, false);
    let object = scan::each_member(text, |key, value| {
        let name = key.strip_prefix('"').and_then(|k| k.strip_suffix('"'));
        let Some(name) = name.filter(|n| !n.contains('\\')) else {
            escaped = true;
            return;
        };
        if let Some(i) = names.iter().position(|n| *n == name) {
            repeated |= fields[i].is_some();
            fields[i] = Some(value);
        }
    });
    if object.is_none() || escaped {
        return Scanned::Parse;
    }
    if repeated {
        return Scanned::Invalid;
    }
    Scanned::Fields(fields)
}

/// A scanned field read by `read`; an absent field is `None`, as serde's default makes it.
fn field<'a, T>(
    value: Option<&'a str>,
    read: impl Fn(&'a str) -> Option<Option<T>>,
) -> Option<Option<T>> {
    value.map_or(Some(None), read)
}

/// An optional string field's value text as [`borrowed`] reads it: `Some(None)` for `null`,
/// `None` (the head is unreadable) for anything but a string.
fn scan_str(value: &str) -> Option<Option<Cow<'_, str>>> {
    if value == "null" {
        return Some(None);
    }
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(value)
            .ok()
            .map(|s| Some(Cow::Owned(s)))
    } else {
        Some(Some(Cow::Borrowed(inner)))
    }
}

/// An optional bool field's value as serde reads it: `null` is `None`, a non-bool unreadable.
fn scan_bool(value: &str) -> Option<Option<bool>> {
    match value {
        "null" => Some(None),
        "true" => Some(Some(true)),
        "false" => Some(Some(false)),
        _ => None,
    }
}

/// An optional [`Raw`] field's value: `null` is `None`, as serde reads an `Option`.
fn scan_text(value: &str) -> Option<Option<Raw<'_>>> {
    Some((value != "null").then_some(Raw(value)))
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

/// An optional raw field's value as serde reads it: `null` is `None`.
fn scan_raw(value: &str) -> Option<Option<&RawValue>> {
    if value == "null" {
        return Some(None);
    }
    serde_json::from_str::<&RawValue>(value).ok().map(Some)
}

/// A raw JSON value's string, borrowed when it has no escapes; `None` for any other value.
fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
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

    /// `ItemHead::scan` and `RequestHead::scan` read every item and request their `parse` reads,
    /// the same way: odd shapes, escapes, nulls, repeated and mistyped fields, every object of
    /// the fixtures and every frame as recorded.
    #[test]
    fn scanned_item_heads_are_parsed_item_heads() {
        let mut items: Vec<String> = [
            r#"{"type":"function_call_output","call_id":"c1","output":"a \"}\" b"}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}"#,
            r#" { "role" : "user" , "content" : "hi" } "#,
            r#"{"type":null,"call_id":null,"content":null,"arguments":null}"#,
            r#"{"type":"a\u0062","name":"x\ny","arguments":"{\"a\":1}"}"#,
            r#"{"typ\u0065":"escaped key"}"#,
            r#"{"type":"a","type":"b"}"#,
            r#"{"call_id":5}"#,
            r#"{"role":["x"]}"#,
            r#"{"content":{"nested":{"type":"no"}},"id":"fc_1","status":"done"}"#,
            r#"["message","c1"]"#,
            r#""just a string""#,
            "{}",
            "7",
        ]
        .map(String::from)
        .to_vec();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for d in [dir.clone(), dir.join("real")] {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|x| x == "tsjsonl") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    collect_items(
                        &serde_json::from_str(&format!(
                            "[{}]",
                            text.lines()
                                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
                                .collect::<Vec<_>>()
                                .join(",")
                        ))
                        .unwrap(),
                        &mut items,
                    );
                }
            }
        }
        assert!(items.len() > 100, "{} items", items.len());
        items.extend(
            [
                r#"{"type":"response.output_text.delta","delta":"a\"b","stream_id":"l\u0031"}"#,
                r#"{"type":"error","status":400,"error":{"code":"c","message":"m"}}"#,
                r#"{"object":"response","status":"completed","output":[]}"#,
                r#"{"type":"x","response":null,"item":{"a":[1,"]"]}}"#,
                r#"{"type":"x","stream_id":7}"#,
                r#"{"type":"x","delta":"a","delta":"b"}"#,
                r#"{"stream_\u0069d":"a","type":"x"}"#,
                r#"["response.created"]"#,
                r#"{"type":"response.create","store":false,"generate":null,"tools":null,"input":"hi"}"#,
                r#"{"store":"no"}"#,
                r#"{"tools":{"a":1}}"#,
                r#"{"tools":[ {"name":"a"} , {"type":"web_search"} ],"instructions":null,"text":{}}"#,
                r#"{"input":[],"previous_response_id":"r\u0031","reasoning":{"effort":"low"}}"#,
            ]
            .map(String::from),
        );
        for d in [dir.clone(), dir.join("real")] {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|x| x != "tsjsonl") {
                    continue;
                }
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    let frame =
                        serde_json::from_str::<std::collections::HashMap<String, &RawValue>>(line)
                            .ok()
                            .and_then(|l| l.get("frame").map(|f| f.get().to_owned()));
                    items.extend(frame);
                }
            }
        }
        for item in &items {
            assert_eq!(
                format!("{:?}", ItemHead::scan(item)),
                format!("{:?}", ItemHead::parse(item)),
                "{item}"
            );
            assert_eq!(
                format!("{:?}", RequestHead::scan(item)),
                format!("{:?}", RequestHead::parse(item)),
                "{item}"
            );
        }
    }

    /// Every object found anywhere in `v`, as compact JSON.
    fn collect_items(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                out.push(v.to_string());
                map.values().for_each(|x| collect_items(x, out));
            }
            serde_json::Value::Array(list) => list.iter().for_each(|x| collect_items(x, out)),
            _ => {}
        }
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
