//! Rebuilds a turn's full context from the frames along its `previous_response_id` chain.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::frame::Frame;
use crate::ledger::Ledger;
use crate::protocol::{ClientEvent, ServerEventKind};
use crate::tokens;

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
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    item: Option<Value>,
    #[serde(default, borrow)]
    response: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResponseOutput {
    #[serde(default)]
    output: Vec<Value>,
}

/// The frame at ledger index `i`.
pub fn frame(frames: &[Frame], i: u64) -> Option<&Frame> {
    usize::try_from(i).ok().and_then(|i| frames.get(i))
}

/// Input items a turn's request carried.
pub fn request_items(ledger: &Ledger, frames: &[Frame], turn: usize) -> Vec<Value> {
    let Some(t) = ledger.turns().get(turn) else {
        return Vec::new();
    };
    let Some(text) = t
        .request_frame
        .and_then(|i| frame(frames, i))
        .and_then(|f| f.payload.json())
    else {
        return Vec::new();
    };
    match ClientEvent::parse(text) {
        Ok(ClientEvent::Create(c)) => c.input_items(),
        _ => Vec::new(),
    }
}

/// Output items of a turn: the terminal response's output, else the `output_item.done` items.
pub fn output_items(ledger: &Ledger, frames: &[Frame], turn: usize) -> Vec<Value> {
    let Some(t) = ledger.turns().get(turn) else {
        return Vec::new();
    };
    let mut done = Vec::new();
    for &i in &t.frames {
        let Some(text) = frame(frames, i).and_then(|f| f.payload.json()) else {
            continue;
        };
        let Ok(head) = serde_json::from_str::<Head<'_>>(text) else {
            continue;
        };
        match ServerEventKind::of(&head.kind) {
            ServerEventKind::OutputItemDone => done.extend(head.item),
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
pub fn chain_items(ledger: &Ledger, frames: &[Frame], turn: usize) -> Vec<TurnItems> {
    if turn >= ledger.turns().len() {
        return Vec::new();
    }
    ledger
        .chain_of(turn)
        .into_iter()
        .map(|t| TurnItems {
            turn: t,
            input: request_items(ledger, frames, t),
            output: output_items(ledger, frames, t),
        })
        .collect()
}

/// The full context after `turn` (its output included), flattened, for a full resend.
pub fn context_after(ledger: &Ledger, frames: &[Frame], turn: usize) -> Vec<Value> {
    chain_items(ledger, frames, turn)
        .into_iter()
        .flat_map(|t| t.input.into_iter().chain(t.output))
        .collect()
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
        other => format!("{other} {}", item),
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
    use std::path::Path;

    #[test]
    fn tool_loop_chain_rebuilds_every_item() {
        let (_, frames, _) =
            crate::transcript::read_all(Path::new("tests/fixtures/tool_loop.tsjsonl")).unwrap();
        let ledger = Ledger::from_frames(&frames);
        let last = ledger.turns().len() - 1;
        let chain = chain_items(&ledger, &frames, last);
        assert_eq!(chain.len(), ledger.turns().len());
        assert_eq!(chain[0].input.len(), 1);
        assert_eq!(chain[0].output[0]["type"], "function_call");
        let flat = context_after(&ledger, &frames, 1);
        assert_eq!(flat.len(), 4, "{flat:?}");
        assert!(describe_item(&flat[0]).starts_with("user: fix the failing test"));
    }
}
