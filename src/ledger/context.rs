//! A turn's context along its `previous_response_id` chain: the one rebuild every screen calls.
//!
//! The fold keeps only running sums; the items themselves are re-read from the frames the
//! ledger numbered, through [`FrameSource`], so the live app (frames in memory), the proxy (the
//! same app) and replay (frames read back from the index) share one definition. The rules
//! match the fold's: a request's `input` is read whether it came as a WebSocket
//! `response.create` or an HTTP body; a turn's output is its terminal response's output (a
//! streamed terminal event, or a non-streaming HTTP body), else its `output_item.done` items,
//! which is all a turn dropped by a closing connection has.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::Ledger;
use crate::frame::Frame;
use crate::protocol::{CreateRequest, EventHead, ServerEventKind};
use crate::tokens;

/// Where the frames the ledger numbered can be read back (its frame number `k`, 0-based).
pub trait FrameSource {
    /// The JSON text of frame `k`, if there is one and it is JSON.
    fn json(&self, k: u64) -> Option<Cow<'_, str>>;
}

impl FrameSource for [Frame] {
    fn json(&self, k: u64) -> Option<Cow<'_, str>> {
        frame(self, k)?.payload.json().map(Cow::Borrowed)
    }
}

/// The frame numbered `k` in an in-memory list.
pub fn frame(frames: &[Frame], k: u64) -> Option<&Frame> {
    usize::try_from(k).ok().and_then(|i| frames.get(i))
}

/// The items one turn added to the chain: its new input, then its output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TurnItems {
    /// 0-based turn index.
    pub turn: usize,
    /// Input items of its request.
    pub input: Vec<Value>,
    /// Output items of its response.
    pub output: Vec<Value>,
}

#[derive(Deserialize)]
struct ResponseOutput {
    #[serde(default)]
    output: Vec<Value>,
}

/// The `response.create` (or HTTP request body) a turn sent, as text.
pub fn request_text<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Option<String> {
    let k = ledger.turns().get(turn)?.request_frame?;
    frames.json(k).map(Cow::into_owned)
}

/// Input items a turn's request carried (a bare string is one user message).
pub fn input_items<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Vec<Value> {
    let Some(k) = ledger.turns().get(turn).and_then(|t| t.request_frame) else {
        return Vec::new();
    };
    frames
        .json(k)
        .and_then(|text| serde_json::from_str::<CreateRequest>(&text).ok())
        .map(|c| c.input_items())
        .unwrap_or_default()
}

/// Output items of a turn: its terminal response's output, else its `output_item.done` items.
pub fn output_items<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Vec<Value> {
    let Some(t) = ledger.turns().get(turn) else {
        return Vec::new();
    };
    let mut done = Vec::new();
    for k in t.frames.iter() {
        let Some(text) = frames.json(k) else {
            continue;
        };
        let Some(head) = EventHead::parse(&text) else {
            continue;
        };
        if head.is_response_body() {
            // A non-streaming HTTP body is the response itself.
            let out = serde_json::from_str::<ResponseOutput>(&text)
                .map_or_else(|_| Vec::new(), |r| r.output);
            if !out.is_empty() {
                return out;
            }
            continue;
        }
        match ServerEventKind::of(head.kind()) {
            ServerEventKind::OutputItemDone => {
                done.extend(
                    head.item
                        .and_then(|i| serde_json::from_str::<Value>(i.get()).ok()),
                );
            }
            k if k.is_terminal() => {
                let out = head
                    .response
                    .and_then(|r| serde_json::from_str::<ResponseOutput>(r.get()).ok())
                    .map(|r| r.output)
                    .unwrap_or_default();
                if !out.is_empty() {
                    return out;
                }
            }
            _ => {}
        }
    }
    done
}

/// Every turn along the chain ending at `turn`, root first, with the items each added.
pub fn chain_items<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Vec<TurnItems> {
    if turn >= ledger.turns().len() {
        return Vec::new();
    }
    ledger
        .chain_of(turn)
        .into_iter()
        .map(|t| TurnItems {
            turn: t,
            input: input_items(ledger, frames, t),
            output: output_items(ledger, frames, t),
        })
        .collect()
}

/// What HTTP mode would send as `input` for `turn`: every ancestor's input and output, then
/// the turn's own input. Its length is the ledger's `full_context.items`.
pub fn context_for<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Vec<Value> {
    let mut items = Vec::new();
    for link in chain_items(ledger, frames, turn) {
        items.extend(link.input);
        if link.turn != turn {
            items.extend(link.output);
        }
    }
    items
}

/// The context after `turn`, its own output included: what a full resend continues from.
pub fn context_after<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Vec<Value> {
    chain_items(ledger, frames, turn)
        .into_iter()
        .flat_map(|t| t.input.into_iter().chain(t.output))
        .collect()
}

/// The request HTTP mode would have sent for `turn`: the create as sent, without
/// `previous_response_id` and `type`, with the whole context as `input`.
pub fn http_request<S: FrameSource + ?Sized>(
    ledger: &Ledger,
    frames: &S,
    turn: usize,
) -> Option<String> {
    let text = request_text(ledger, frames, turn)?;
    let mut v: Value = serde_json::from_str(&text).ok()?;
    let obj = v.as_object_mut()?;
    obj.remove("previous_response_id");
    obj.remove("type");
    obj.insert(
        "input".into(),
        Value::Array(context_for(ledger, frames, turn)),
    );
    serde_json::to_string(&v).ok()
}

/// Output items that are safe to send back as input: server-only fields dropped.
pub fn as_input(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|mut item| {
            if let Value::Object(m) = &mut item
                && m.get("type").and_then(Value::as_str) == Some("message")
                && m.get("role").and_then(Value::as_str) == Some("assistant")
            {
                m.remove("status");
            }
            item
        })
        .collect()
}

/// Bytes (compact JSON, commas included) and o200k tokens of a list of items.
pub fn items_size(items: &[Value]) -> (u64, u64) {
    let mut bytes = 2u64;
    let mut toks = 0u64;
    for (n, item) in items.iter().enumerate() {
        let text = item.to_string();
        bytes += text.len() as u64 + u64::from(n > 0);
        toks += tokens::count(&text) as u64;
    }
    (bytes, toks)
}

/// One line describing an item: `user: text`, `function_call read_file {…}`, ….
pub fn describe_item(item: &Value) -> String {
    one_line(&describe_item_text(item))
}

/// `text` on one line: each line break shown as `⏎`, tabs as spaces. A terminal cell drops a
/// control character, so `## Skills\nA skill` would read `## SkillsA skill`.
fn one_line(text: &str) -> String {
    text.replace("\r\n", "⏎")
        .replace(['\n', '\r'], "⏎")
        .replace('\t', " ")
}

/// [`describe_item`] before its line breaks are made visible.
fn describe_item_text(item: &Value) -> String {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
    match kind {
        "message" => {
            let role = item.get("role").and_then(Value::as_str).unwrap_or("?");
            format!("{role}: {}", message_text(item))
        }
        "function_call" => format!(
            "function_call {} {} ({})",
            s("name"),
            s("arguments"),
            s("call_id")
        ),
        "function_call_output" => {
            let out = match item.get("output") {
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            format!("function_call_output ({}): {out}", s("call_id"))
        }
        other => format!("{other} {item}"),
    }
}

/// The text of a message item (string content or text parts joined).
pub fn message_text(item: &Value) -> String {
    match item.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Dir, Payload};

    fn frame(t_us: u64, conn: u32, dir: Dir, json: &str) -> Frame {
        Frame {
            t_us,
            wall: String::new(),
            conn,
            dir,
            payload: Payload::Json(json.to_owned()),
        }
    }

    const HI: &str = r#"{"type":"message","role":"user","content":"hi"}"#;
    const OUT: &str =
        r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"yo"}]}"#;

    /// Line breaks inside an item stay visible on its one line (the Context tab and the Events
    /// tab draw it in one terminal row, where a bare `\n` would vanish and join the words).
    #[test]
    fn an_item_is_described_on_one_line_with_its_breaks_shown() {
        let item: Value = serde_json::from_str(
            r#"{"type":"function_call_output","call_id":"c1","output":"Chunk ID: 1\nWall time:\r\n\tok\r"}"#,
        )
        .unwrap();
        assert_eq!(
            describe_item(&item),
            "function_call_output (c1): Chunk ID: 1⏎Wall time:⏎ ok⏎"
        );
    }

    #[test]
    fn a_non_streaming_http_body_is_the_turns_output_and_its_input_is_read_without_a_type() {
        let frames = vec![
            frame(
                0,
                0,
                Dir::Meta,
                r#"{"event":"http_request","path":"/v1/responses"}"#,
            ),
            frame(
                1,
                0,
                Dir::Sent,
                &format!(r#"{{"model":"m","input":[{HI}]}}"#),
            ),
            frame(
                2,
                0,
                Dir::Recv,
                &format!(
                    r#"{{"id":"resp_1","object":"response","status":"completed","output":[{OUT}]}}"#
                ),
            ),
        ];
        let ledger = Ledger::from_frames(&frames);
        assert_eq!(ledger.turns().len(), 1);
        let after = context_after(&ledger, &frames[..], 0);
        assert_eq!(after.len(), 2, "{after:?}");
        assert_eq!(describe_item(&after[1]), "assistant: yo");
        assert_eq!(
            context_for(&ledger, &frames[..], 0).len() as u64,
            ledger.turns()[0].full_context.items
        );
    }

    #[test]
    fn a_turn_dropped_by_a_close_keeps_the_items_it_streamed() {
        let frames = vec![
            frame(0, 0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#),
            frame(
                1,
                0,
                Dir::Sent,
                &format!(r#"{{"type":"response.create","input":[{HI}]}}"#),
            ),
            frame(
                2,
                0,
                Dir::Recv,
                r#"{"type":"response.created","response":{"id":"resp_1"}}"#,
            ),
            frame(
                3,
                0,
                Dir::Recv,
                &format!(r#"{{"type":"response.output_item.done","item":{OUT}}}"#),
            ),
            frame(
                4,
                0,
                Dir::Meta,
                r#"{"event":"close","code":1006,"reason":"gone"}"#,
            ),
        ];
        let ledger = Ledger::from_frames(&frames);
        assert_eq!(output_items(&ledger, &frames[..], 0).len(), 1);
        assert_eq!(context_after(&ledger, &frames[..], 0).len(), 2);
    }
}
