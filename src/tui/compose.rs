//! Turns the composer's state into the exact client event that will go out (pure).

use serde_json::{Value, json};

use super::app::{App, ComposerMode};
use crate::protocol::ClientEvent;

/// A request ready to send, with a one-line summary for the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The client event, one line of JSON, exactly as it will be sent.
    pub json: String,
    /// E.g. `response.create · prev resp_2 · 1 new item · 312 B`.
    pub summary: String,
}

/// Serializes fields in the given order (serde_json's map would sort them).
fn object(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String((*k).to_owned()), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Builds what the composer would send now, or says what is missing.
pub fn build(app: &App) -> Result<Draft, String> {
    let c = &app.composer;
    match c.mode {
        ComposerMode::Raw => raw(&c.text()),
        ComposerMode::ToolOutputs if !app.pending_calls().is_empty() => tool_outputs(app),
        ComposerMode::ToolOutputs | ComposerMode::Message => message(app),
    }
}

fn raw(text: &str) -> Result<Draft, String> {
    // JSON cannot hold a raw line break inside a string, so dropping them keeps the event intact
    // and makes it one text frame on one line, as typed otherwise.
    let one_line: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r'))
        .collect();
    if one_line.is_empty() {
        return Err("type a client event as JSON, e.g. {\"type\":\"response.create\",…}".into());
    }
    let event = ClientEvent::parse(&one_line).map_err(|e| e.to_string())?;
    Ok(Draft {
        summary: format!("{} · raw · {} B", event.kind(), one_line.len()),
        json: one_line,
    })
}

fn message(app: &App) -> Result<Draft, String> {
    let c = &app.composer;
    let text = c.text();
    let text = text.trim_end();
    if c.steer
        && let Some(running) = app.running_turn()
    {
        if text.is_empty() {
            return Err("type the message to steer the running response with".into());
        }
        let Some(id) = app.ledger.turns()[running].response_id.clone() else {
            return Err("the running response has no id yet; wait for response.created".into());
        };
        let json = object(&[
            ("type", json!("response.steer")),
            ("previous_response_id", json!(id)),
            ("input", json!([user_message(text)])),
        ]);
        return Ok(Draft {
            summary: format!("response.steer · {id} · {} B", json.len()),
            json,
        });
    }
    if text.is_empty() && !c.warmup {
        return Err("type a message first (or toggle warm-up with F4)".into());
    }
    let new_items: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![user_message(text)]
    };
    Ok(create(app, new_items))
}

fn tool_outputs(app: &App) -> Result<Draft, String> {
    let c = &app.composer;
    let calls = app.pending_calls();
    let picked = calls.get(c.call).map(|call| call.call_id.as_str());
    let mut items = Vec::new();
    for call in calls {
        let output = if Some(call.call_id.as_str()) == picked {
            Some(c.text())
        } else {
            c.outputs.get(&call.call_id).cloned()
        };
        match output.filter(|o| !o.trim().is_empty()) {
            Some(output) => items.push(json!({
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": output,
            })),
            None => {
                return Err(format!(
                    "{} ({}) has no output yet: pick it with Ctrl-N and type one",
                    call.name, call.call_id
                ));
            }
        }
    }
    Ok(create(app, items))
}

fn user_message(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": text})
}

/// Fields of the agent's request that the composer sets itself rather than copies.
const NOT_COPIED: [&str; 7] = [
    "type",
    "model",
    "store",
    "stream_id",
    "generate",
    "previous_response_id",
    "input",
];

/// Proxy mode: the newest `response.create` the agent sent on the connection frames are injected
/// into (the newest), as a JSON object; `None` in a live session or before the agent sent one.
pub fn agent_request(app: &App) -> Option<serde_json::Map<String, Value>> {
    app.proxy.as_ref()?;
    let conn = app.ledger.connections().last()?.index;
    let frame = app
        .ledger
        .turns()
        .iter()
        .rev()
        .filter(|t| t.conn == conn)
        .find_map(|t| t.request_frame)?;
    let json = app.frames.json(frame)?;
    match serde_json::from_str(&json) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A `response.create` carrying `new_items`, chained to the head or resending the full context.
fn create(app: &App, new_items: Vec<Value>) -> Draft {
    let c = &app.composer;
    // Proxy mode: continue the chain the way the agent would, with its model, instructions, tools
    // and other prefix fields; anything else makes Insight report a change the user caused.
    let agent = agent_request(app).unwrap_or_default();
    let model = agent
        .get("model")
        .cloned()
        .unwrap_or_else(|| json!(app.info.model));
    let mut fields: Vec<(&str, Value)> = vec![
        ("type", json!("response.create")),
        ("model", model),
        ("store", json!(c.store)),
    ];
    if let Some(lane) = &c.lane {
        fields.push(("stream_id", json!(lane)));
    }
    if c.warmup {
        fields.push(("generate", json!(false)));
    }
    let new_count = new_items.len();
    let (input, chain) = match (&app.resend, app.head_id()) {
        (Some(context), _) => {
            let mut all = context.clone();
            all.extend(new_items);
            (
                all,
                format!(
                    "full resend of {}",
                    crate::report::counted(context.len(), "item")
                ),
            )
        }
        (None, Some(id)) => {
            fields.push(("previous_response_id", json!(id)));
            (new_items, format!("prev {id}"))
        }
        (None, None) => (new_items, "new chain".to_owned()),
    };
    // Input before the (long, repeated) instructions and tools, so the Payload tab shows it first.
    fields.push(("input", Value::Array(input)));
    if agent.is_empty() {
        if let Some(instructions) = &app.instructions {
            fields.push(("instructions", json!(instructions)));
        }
        let tools = app.request_tools();
        if !tools.is_empty() {
            fields.push(("tools", Value::Array(tools)));
        }
    }
    for (key, value) in &agent {
        if !NOT_COPIED.contains(&key.as_str()) {
            fields.push((key.as_str(), value.clone()));
        }
    }
    let json = object(&fields);
    let plural = if new_count == 1 { "" } else { "s" };
    Draft {
        summary: format!(
            "response.create · {chain} · {new_count} new item{plural} · {}{}",
            crate::report::fmt_bytes(json.len() as u64),
            if c.warmup { " · warm-up" } else { "" }
        ),
        json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::SessionInfo;
    use crate::tui::theme::Theme;

    fn app() -> App {
        App::new(
            SessionInfo {
                url: "ws://x/v1/responses".into(),
                model: "gpt-test".into(),
                emulated: true,
                key_hint: None,
            },
            Theme::default(),
        )
    }

    #[test]
    fn first_message_is_a_new_chain_with_fields_in_order() {
        let mut a = app();
        a.composer.set_text("hello");
        let d = build(&a).unwrap();
        assert_eq!(
            d.json,
            r#"{"type":"response.create","model":"gpt-test","store":false,"input":[{"content":"hello","role":"user","type":"message"}]}"#
        );
        assert!(d.summary.contains("new chain"), "{}", d.summary);
        assert!(matches!(
            ClientEvent::parse(&d.json),
            Ok(ClientEvent::Create(_))
        ));
    }

    #[test]
    fn proxy_injection_continues_the_agents_chain_with_its_prefix_fields() {
        use crate::frame::{Dir, Frame, Payload};
        let mut a = app();
        a.info.model = "(the agent's)".into();
        a.proxy = Some(crate::tui::breakpoint::ProxyPanel::default());
        let frame = |t_us, dir, text: &str| Frame {
            t_us,
            wall: String::new(),
            conn: 0,
            dir,
            payload: Payload::from_text(text),
        };
        let agent = r#"{"type":"response.create","model":"gpt-5.5","instructions":"be brief","tools":[{"type":"function","name":"shell"}],"tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium"},"prompt_cache_key":"k1","store":false,"stream":true,"input":[{"type":"message","role":"user","content":"hi"}]}"#;
        for f in [
            frame(0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#),
            frame(1, Dir::Sent, agent),
            frame(
                2,
                Dir::Recv,
                r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress"}}"#,
            ),
            frame(
                3,
                Dir::Recv,
                r#"{"type":"response.completed","sequence_number":1,"response":{"id":"resp_1","status":"completed","output":[]}}"#,
            ),
        ] {
            crate::tui::update::update(&mut a, crate::tui::Action::FrameReceived(f));
        }
        a.composer.set_text("and now?");
        let d = build(&a).unwrap();
        let v: Value = serde_json::from_str(&d.json).unwrap();
        assert_eq!(v["model"], "gpt-5.5", "{}", d.json);
        assert_eq!(v["previous_response_id"], "resp_1");
        assert_eq!(v["instructions"], "be brief");
        assert_eq!(v["tools"][0]["name"], "shell");
        for key in [
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "prompt_cache_key",
        ] {
            assert_eq!(
                v[key],
                serde_json::from_str::<Value>(agent).unwrap()[key],
                "{key}"
            );
        }
        assert_eq!(v["input"][0]["content"], "and now?");
        // Editable: raw mode starts from exactly this request.
        crate::tui::update::update(&mut a, crate::tui::Action::CycleComposerMode);
        assert_eq!(a.composer.mode, ComposerMode::Raw);
        assert_eq!(a.composer.text(), d.json);
    }

    #[test]
    fn empty_message_and_bad_raw_json_are_refused_with_a_reason() {
        let mut a = app();
        assert!(build(&a).unwrap_err().contains("type a message"));
        a.composer.mode = ComposerMode::Raw;
        a.composer.set_text("{\"type\": 5}");
        assert!(build(&a).unwrap_err().contains("type"));
        a.composer
            .set_text("{\"type\":\"response.create\",\n \"input\":\"hi\"}");
        let d = build(&a).unwrap();
        assert!(!d.json.contains('\n'));
    }
}
