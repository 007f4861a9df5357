//! Streams one output item of a response — reasoning, message or function call — as real
//! streams do: `output_item.added`, deltas (with `obfuscation` padding unless turned off),
//! `.done` events, within the `max_output_tokens` budget and stopping at steering.

use std::time::Duration;

use serde_json::{Value, json};

use super::engine::{Run, arg_deltas, text_deltas};

/// Why an item stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `response.steer` arrived (at a safe boundary).
    Steered,
    /// `max_output_tokens` is spent.
    Budget,
}

/// A reasoning item the model produces before its visible output.
#[derive(Debug, Clone)]
pub(crate) struct Thinking {
    /// Hidden reasoning tokens (counted in `reasoning_tokens`).
    pub tokens: usize,
    /// The summary text, when the request asked for one.
    pub summary: Option<String>,
    /// Whether `include` asked for `reasoning.encrypted_content`.
    pub encrypted: bool,
}

/// Hidden reasoning tokens per effort: fixed, so runs repeat.
fn effort_tokens(effort: &str) -> usize {
    match effort {
        "minimal" => 16,
        "low" => 64,
        "medium" => 192,
        "high" => 512,
        "xhigh" => 1024,
        _ => 0,
    }
}

/// The reasoning a response carries: none for models without reasoning, at effort `none`,
/// or for a warm-up (`generate: false`).
pub(crate) fn thinking(
    reasoning: &Value,
    include: Option<&Value>,
    new_items: usize,
) -> Option<Thinking> {
    let effort = reasoning["effort"].as_str()?;
    let tokens = effort_tokens(effort);
    if tokens == 0 {
        return None;
    }
    let summary = reasoning["summary"].as_str().map(|_| {
        format!(
            "**Planning the reply**\n\nReasoned at {effort} effort over {new_items} new input item{} before answering.",
            if new_items == 1 { "" } else { "s" }
        )
    });
    let encrypted = include
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "reasoning.encrypted_content"));
    Some(Thinking {
        tokens,
        summary,
        encrypted,
    })
}

impl Run<'_> {
    /// True when steering should stop the response here.
    fn steered(&self) -> bool {
        self.interruptible && self.steer.as_ref().is_some_and(|f| f.is_requested())
    }

    /// Spends `tokens` output tokens; false (nothing spent) when the budget would overflow.
    fn spend(&mut self, tokens: usize) -> bool {
        if self.budget.is_some_and(|b| self.output_tokens + tokens > b) {
            return false;
        }
        self.output_tokens += tokens;
        true
    }

    /// Waits for `tokens` output tokens at the profile's speed, on the pacing clock (each
    /// deadline follows the previous one, not the moment this call runs).
    async fn pause_for(&mut self, tokens: usize) {
        let d = self.shared.config.latency.output_delay(tokens);
        if d > Duration::ZERO {
            let now = std::time::Instant::now();
            // A clock that fell more than one wait behind (a slow reader) restarts from now
            // instead of bursting.
            let floor = now.checked_sub(d).unwrap_or(now);
            let until = super::engine::later(self.paced_until.unwrap_or(now).max(floor), d);
            self.paced_until = Some(until);
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Sends a delta event, padded with `obfuscation` as real streams pad them (random
    /// characters bringing the delta to a multiple of 16 characters) unless the request set
    /// `stream_options.include_obfuscation: false`.
    async fn send_delta(&mut self, mut ev: Value, delta: &str) {
        if self.obfuscate
            && let Value::Object(obj) = &mut ev
        {
            let n = delta.chars().count();
            let pad = 16 - n % 16;
            let noise = self.shared.ids.alnum("", pad);
            obj.insert("obfuscation".into(), json!(&noise[1..]));
        }
        self.send(ev).await;
    }

    /// Streams a reasoning item at `idx`.
    pub(crate) async fn reasoning_item(
        &mut self,
        idx: usize,
        t: &Thinking,
    ) -> (Value, Option<Stop>) {
        let id = self.shared.ids.item("rs");
        let mut item = json!({"id": id, "type": "reasoning", "summary": []});
        if t.encrypted {
            // Opaque, like the real Fernet-style blob; the emulator does not read it back.
            item["encrypted_content"] =
                json!(format!("gAAAAAB{}", &self.shared.ids.alnum("", 160)[1..]));
        }
        self.send(json!({"type": "response.output_item.added", "output_index": idx, "item": item.clone()}))
            .await;
        let spent = t.tokens.min(
            self.budget
                .map_or(usize::MAX, |b| b.saturating_sub(self.output_tokens)),
        );
        self.output_tokens += spent;
        self.reasoning_tokens += spent;
        self.pause_for(spent).await;
        let mut stop = (spent < t.tokens).then_some(Stop::Budget);
        if let (Some(summary), None) = (&t.summary, stop) {
            let part = json!({"type": "summary_text", "text": ""});
            self.send(json!({"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": idx, "summary_index": 0, "part": part}))
                .await;
            let mut sent = String::new();
            for d in text_deltas(summary) {
                if !self.alive {
                    break;
                }
                sent.push_str(&d);
                self.send_delta(json!({"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": idx, "summary_index": 0, "delta": d}), &d)
                    .await;
            }
            self.send(json!({"type": "response.reasoning_summary_text.done", "item_id": id, "output_index": idx, "summary_index": 0, "text": sent}))
                .await;
            let part = json!({"type": "summary_text", "text": sent});
            self.send(json!({"type": "response.reasoning_summary_part.done", "item_id": id, "output_index": idx, "summary_index": 0, "part": part.clone()}))
                .await;
            item["summary"] = json!([part]);
        }
        if stop.is_none() && self.steered() {
            stop = Some(Stop::Steered);
        }
        self.send(
            json!({"type": "response.output_item.done", "output_index": idx, "item": item.clone()}),
        )
        .await;
        (item, stop)
    }

    /// Streams an assistant message at `idx`.
    pub(crate) async fn text_item(&mut self, idx: usize, text: &str) -> (Value, Option<Stop>) {
        let id = self.shared.ids.item("msg");
        let mut item = json!({"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"});
        self.send(json!({"type": "response.output_item.added", "output_index": idx, "item": item.clone()}))
            .await;
        let empty = json!({"type": "output_text", "annotations": [], "logprobs": [], "text": ""});
        self.send(json!({"type": "response.content_part.added", "item_id": id, "output_index": idx, "content_index": 0, "part": empty}))
            .await;
        let mut sent = String::new();
        let mut stop = None;
        for d in text_deltas(text) {
            if !self.alive {
                break;
            }
            if self.steered() {
                stop = Some(Stop::Steered);
                break;
            }
            let t = crate::tokens::count(&d);
            if !self.spend(t) {
                stop = Some(Stop::Budget);
                break;
            }
            self.pause_for(t).await;
            sent.push_str(&d);
            self.send_delta(json!({"type": "response.output_text.delta", "item_id": id, "output_index": idx, "content_index": 0, "delta": d, "logprobs": []}), &d)
                .await;
        }
        let part = json!({"type": "output_text", "annotations": [], "logprobs": [], "text": sent});
        self.send(json!({"type": "response.output_text.done", "item_id": id, "output_index": idx, "content_index": 0, "text": sent, "logprobs": []}))
            .await;
        self.send(json!({"type": "response.content_part.done", "item_id": id, "output_index": idx, "content_index": 0, "part": part.clone()}))
            .await;
        item["status"] = json!(if stop.is_some() {
            "incomplete"
        } else {
            "completed"
        });
        item["content"] = json!([part]);
        self.send(
            json!({"type": "response.output_item.done", "output_index": idx, "item": item.clone()}),
        )
        .await;
        (item, stop)
    }

    /// Streams a function call at `idx`.
    pub(crate) async fn call_item(
        &mut self,
        idx: usize,
        call_id: &str,
        name: &str,
        arguments: &str,
    ) -> (Value, Option<Stop>) {
        let id = self.shared.ids.item("fc");
        let mut item = json!({"id": id, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call_id, "name": name});
        self.send(json!({"type": "response.output_item.added", "output_index": idx, "item": item.clone()}))
            .await;
        let mut sent = String::new();
        let mut stop = None;
        for d in arg_deltas(arguments) {
            let t = crate::tokens::count(&d);
            if !self.spend(t) {
                stop = Some(Stop::Budget);
                break;
            }
            self.pause_for(t).await;
            sent.push_str(&d);
            self.send_delta(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": idx, "delta": d}), &d)
                .await;
        }
        self.send(json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": idx, "arguments": sent}))
            .await;
        item["status"] = json!(if stop.is_some() {
            "incomplete"
        } else {
            "completed"
        });
        item["arguments"] = json!(sent);
        self.send(
            json!({"type": "response.output_item.done", "output_index": idx, "item": item.clone()}),
        )
        .await;
        (item, stop)
    }
}
