//! Heads read from JSON text already known to be valid (a frame whose line was checked): the
//! same heads serde reads, found by one walk over the object's members.
//!
//! serde's derived readers spend most of their time deciding what a byte means and skipping
//! values a head does not keep (every delta's `item_id`, `sequence_number`, the nested
//! `response`), checking them again. A frame's text was checked when its line was read, so a
//! scan only finds where each member starts and ends ([`scan::each_member`]: strings at memchr
//! speed) and reads the few fields a head keeps, with serde's rules for each (`null` is absent,
//! a mistyped field makes the head unreadable). Anything serde must decide — an escaped key, a
//! value that is not an object, nesting near serde's limit — is handed to serde: `tests` compare
//! the two on every fixture object, odd shapes and random objects.

use std::borrow::Cow;

use super::scan;
use super::{EventHead, ItemHead, Raw, RequestHead, ResponseHead};
use crate::protocol::server::Usage;

impl<'a> EventHead<'a> {
    /// [`EventHead::parse`] for text already known to be valid JSON (a frame read from a
    /// transcript line, or a live frame kept as JSON): the same head, found without checking the
    /// event again.
    pub fn scan(text: &'a str) -> Option<Self> {
        let fields = scan_fields(text, |name| match name {
            "type" => Some(0),
            "stream_id" => Some(1),
            "object" => Some(2),
            "response" => Some(3),
            "item" => Some(4),
            "delta" => Some(5),
            "error" => Some(6),
            "status" => Some(7),
            _ => None,
        });
        let [
            kind,
            stream_id,
            object,
            response,
            item,
            delta,
            error,
            status,
        ] = match fields {
            Scanned::Fields(fields) => fields,
            Scanned::Parse => return Self::parse(text),
            Scanned::Invalid => return None,
        };
        Some(EventHead {
            kind: field(kind, scan_str)?,
            stream_id: field(stream_id, scan_str)?,
            object: field(object, scan_raw)?,
            response: field(response, scan_raw)?,
            item: field(item, scan_raw)?,
            delta: field(delta, scan_raw)?,
            error: field(error, scan_raw)?,
            status: field(status, scan_raw)?,
        })
    }
}

impl<'a> RequestHead<'a> {
    /// [`RequestHead::parse`] for text already known to be valid JSON (a frame read from a
    /// transcript line): the same head, found without parsing the request again — its `input`,
    /// most of its bytes, is only skipped over.
    pub fn scan(text: &'a str) -> Option<Self> {
        let fields = scan_fields(text, |name| match name {
            "type" => Some(0),
            "previous_response_id" => Some(1),
            "store" => Some(2),
            "generate" => Some(3),
            "stream_id" => Some(4),
            "model" => Some(5),
            "input" => Some(6),
            "instructions" => Some(7),
            "tools" => Some(8),
            "reasoning" => Some(9),
            "text" => Some(10),
            "context_management" => Some(11),
            _ => None,
        });
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
        ] = match fields {
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
            input: field(input, scan_raw)?,
            instructions: field(instructions, scan_raw)?,
            tools: field(tools, |v| {
                if v == "null" {
                    return Some(None);
                }
                scan::elements(v).map(|list| Some(list.into_iter().map(Raw).collect()))
            })?,
            reasoning: field(reasoning, scan_raw)?,
            text: field(text_options, scan_raw)?,
            context_management: field(context_management, scan_raw)?,
        })
    }
}

impl<'a> ResponseHead<'a> {
    /// The head of a response object (`serde_json`: every byte checked); `None` when it is not
    /// a JSON object of that shape.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// [`ResponseHead::parse`] for text already known to be valid JSON (a lifecycle event's
    /// `response`): its output items are found, not parsed; only `usage` and
    /// `incomplete_details` (small, and typed) go through serde.
    pub fn scan(text: &'a str) -> Option<Self> {
        let fields = scan_fields(text, |name| match name {
            "id" => Some(0),
            "model" => Some(1),
            "previous_response_id" => Some(2),
            "output" => Some(3),
            "usage" => Some(4),
            "incomplete_details" => Some(5),
            _ => None,
        });
        let [
            id,
            model,
            previous_response_id,
            output,
            usage,
            incomplete_details,
        ] = match fields {
            Scanned::Fields(fields) => fields,
            Scanned::Parse => return Self::parse(text),
            Scanned::Invalid => return None,
        };
        let owned = |v: Option<&'a str>| {
            field(v, scan_str).map(|s: Option<Cow<'_, str>>| s.map(Cow::into_owned))
        };
        Some(ResponseHead {
            // Not an `Option`: serde refuses a `null` id.
            id: match id {
                None => String::new(),
                Some(v) => scan_str(v)??.into_owned(),
            },
            model: owned(model)?,
            previous_response_id: owned(previous_response_id)?,
            output: match output {
                None => Vec::new(),
                Some(v) => scan::elements(v)?.into_iter().map(Raw).collect(),
            },
            usage: match usage {
                None => None,
                Some(v) => serde_json::from_str::<Option<Usage>>(v).ok()?,
            },
            incomplete_details: match incomplete_details {
                None => None,
                Some(v) => serde_json::from_str::<Option<serde_json::Value>>(v).ok()?,
            },
        })
    }
}

impl<'a> ItemHead<'a> {
    /// [`ItemHead::parse`] for text already known to be valid JSON (a `RawValue`'s): the same
    /// head, found without parsing the item again — its big strings (a tool's output) are
    /// skipped, not decoded.
    pub fn scan(text: &'a str) -> Option<Self> {
        let fields = scan_fields(text, |name| match name {
            "type" => Some(0),
            "call_id" => Some(1),
            "name" => Some(2),
            "role" => Some(3),
            "content" => Some(4),
            "arguments" => Some(5),
            _ => None,
        });
        let [kind, call_id, name, role, content, arguments] = match fields {
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

/// The values of the JSON object `text` (known to be valid) whose keys `slot` places (a
/// `match` on the name: one length test and compare per key, not one per wanted name).
fn scan_fields<'a, const N: usize>(
    text: &'a str,
    slot: impl Fn(&str) -> Option<usize>,
) -> Scanned<'a, N> {
    let mut fields = [None; N];
    let (mut escaped, mut repeated) = (false, false);
    let object = scan::each_member(text, |key, key_escaped, value| {
        // An escaped key is serde's to decode.
        if key_escaped {
            escaped = true;
            return;
        }
        // The key literal without its quotes.
        let name = key.get(1..key.len().saturating_sub(1)).unwrap_or("");
        if let Some(i) = slot(name).filter(|&i| i < N) {
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

/// An optional string field's value text as `head::borrowed` reads it: `Some(None)` for `null`,
/// `None` (the head is unreadable) for anything but a string.
fn scan_str(value: &str) -> Option<Option<Cow<'_, str>>> {
    if value == "null" {
        return Some(None);
    }
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    // memchr, not `str::contains`: core's byte search went a byte at a time here.
    if memchr::memchr(b'\\', inner.as_bytes()).is_some() {
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

/// An optional [`Raw`] field's value: `null` is `None`, as serde reads an `Option`; any other
/// value is its text (checked already: no second parse).
fn scan_raw(value: &str) -> Option<Option<Raw<'_>>> {
    Some((value != "null").then_some(Raw(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use serde_json::value::RawValue;

    /// Every head's `scan` reads every object its `parse` reads, the same way, and refuses what
    /// `parse` refuses: odd shapes, escapes, nulls, repeated and mistyped fields, every object
    /// of the fixtures and every frame as recorded.
    #[test]
    fn scanned_heads_are_parsed_heads() {
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
        items.extend(
            [
                r#"{"id":"resp_1","model":"m","output":[{"type":"message"}, 7 ,[]],"usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":1}}}"#,
                r#"{"id":null}"#,
                r#"{"id":5}"#,
                r#"{"id":"r\u0031","previous_response_id":null,"model":null,"output":[]}"#,
                r#"{"output":null}"#,
                r#"{"output":{"a":1}}"#,
                r#"{"usage":null,"incomplete_details":null}"#,
                r#"{"usage":{"input_tokens":"3"}}"#,
                r#"{"usage":[1,2]}"#,
                r#"{"incomplete_details":{"reason":"steered"},"status":"incomplete"}"#,
                r#"{"incomplete_details":"odd"}"#,
                r#"{"usage":{},"usage":{}}"#,
                r#"{"object":null,"status":"x","delta":null,"error":7,"item":[]}"#,
            ]
            .map(String::from),
        );
        for item in &items {
            agree(item);
        }
        // The scan reads them itself (a scan that always asked serde would pass the above).
        let frames = items
            .iter()
            .filter(|i| i.starts_with('{') && !i.contains('\\'));
        let scanned = frames
            .clone()
            .filter(|i| matches!(scan_fields::<1>(i, |_| None), Scanned::Fields(_)))
            .count();
        assert_eq!(scanned, frames.count());
    }

    /// Each head read both ways: the same head, or `None` both times.
    fn agree(text: &str) {
        assert_eq!(
            format!("{:?}", ItemHead::scan(text)),
            format!("{:?}", ItemHead::parse(text)),
            "{text}"
        );
        assert_eq!(
            format!("{:?}", RequestHead::scan(text)),
            format!("{:?}", RequestHead::parse(text)),
            "{text}"
        );
        assert_eq!(
            format!("{:?}", EventHead::scan(text)),
            format!("{:?}", EventHead::parse(text)),
            "{text}"
        );
        assert_eq!(
            format!("{:?}", ResponseHead::scan(text)),
            format!("{:?}", ResponseHead::parse(text)),
            "{text}"
        );
    }

    /// Nesting around serde_json's limit of 128: serde reads or refuses it, the scan agrees.
    #[test]
    fn deep_values_read_as_serde_reads_them() {
        for depth in [1, 98, 99, 100, 101, 126, 127, 128, 129, 200] {
            let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            for name in [
                "type",
                "item",
                "input",
                "usage",
                "incomplete_details",
                "output",
                "other",
            ] {
                agree(&format!(r#"{{"{name}":{deep},"type":"x"}}"#));
                agree(&format!(r#"{{"a":1,"{name}":[{{"k":{deep}}}]}}"#));
            }
        }
    }

    /// A JSON value of any shape, as text (a strategy).
    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u32>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            "[ -~]{0,24}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6)
                    .prop_map(|v| format!("[{}]", v.join(" , "))),
                prop::collection::vec(("[a-z_]{0,8}|type|item", inner), 0..6)
                    .prop_map(|m| object(&m)),
            ]
        })
    }

    /// A member: mostly a field some head reads with a value of its type (so heads are read,
    /// not only refused), sometimes a value of another type, an escaped or unknown name.
    fn member() -> impl Strategy<Value = (String, String)> {
        let named = prop::sample::select(NAMES.to_vec()).prop_flat_map(|name| {
            let typed = match name {
                "type" | "stream_id" | "previous_response_id" | "model" | "id" | "call_id"
                | "name" | "role" => prop_oneof![
                    "[ -~]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
                    any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
                ]
                .boxed(),
                "store" | "generate" => any::<bool>().prop_map(|b| b.to_string()).boxed(),
                "output" | "tools" | "input" => prop::collection::vec(json(), 0..4)
                    .prop_map(|v| format!("[ {} ]", v.join(",")))
                    .boxed(),
                "usage" => (any::<u32>(), prop::option::of(any::<u16>()))
                    .prop_map(|(n, c)| {
                        let cached = c.map_or("null".to_owned(), |c| c.to_string());
                        format!(
                            r#"{{"input_tokens":{n},"input_tokens_details":{{"cached_tokens":{cached}}}}}"#
                        )
                    })
                    .boxed(),
                _ => json().boxed(),
            };
            let value = prop_oneof![8 => typed, 1 => Just("null".to_owned()), 1 => json()];
            (Just(name.to_owned()), value)
        });
        prop_oneof![
            12 => named,
            1 => (Just(r"typ\u0065".to_owned()), json()),
            1 => (Just(r#"a\"b"#.to_owned()), json()),
            1 => ("[a-z_]{0,10}", json()),
        ]
    }

    /// Every field name some head reads.
    const NAMES: [&str; 25] = [
        "type",
        "stream_id",
        "object",
        "response",
        "item",
        "delta",
        "error",
        "status",
        "previous_response_id",
        "store",
        "generate",
        "model",
        "input",
        "instructions",
        "tools",
        "reasoning",
        "text",
        "context_management",
        "id",
        "output",
        "usage",
        "incomplete_details",
        "call_id",
        "name",
        "role",
    ];

    fn object(members: &[(String, String)]) -> String {
        let members: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\" :{v}"))
            .collect();
        format!("{{ {} }}", members.join(","))
    }

    /// Random objects of the heads' own fields (values of their types and of any type, nulls,
    /// repeated and escaped names, spacing): every head reads them as serde does. A fixed
    /// sample (deterministic), so the counts below hold: each head is read from a good share
    /// of them, not only refused both ways.
    #[test]
    fn random_objects_read_as_serde_reads_them() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let objects = prop::collection::vec(member(), 0..7);
        let mut read = [0usize; 4];
        for _ in 0..4000 {
            let text = object(&objects.new_tree(&mut runner).unwrap().current());
            agree(&text);
            read[0] += usize::from(EventHead::parse(&text).is_some());
            read[1] += usize::from(RequestHead::parse(&text).is_some());
            read[2] += usize::from(ResponseHead::parse(&text).is_some());
            read[3] += usize::from(ItemHead::parse(&text).is_some());
        }
        assert!(
            read.iter().all(|&n| n > 400),
            "heads read: {read:?} of 4000"
        );
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
}
