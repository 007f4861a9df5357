//! The deterministic model: decides what a response says and calls, from a scenario or
//! from the default interactive persona.

use serde_json::{Map, Value, json};

use super::context::Node;
use super::ids::IdGen;
use super::scenario::{Scenario, ScenarioFault};

/// One output item the model will stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Planned {
    /// An assistant message with this text.
    Text(String),
    /// A function call.
    Call {
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// What a response will contain.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub items: Vec<Planned>,
    pub fault: Option<ScenarioFault>,
    pub fail: bool,
}

impl Plan {
    /// True when the response ends waiting for client tool outputs.
    pub fn requires_input(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Planned::Call { .. }))
    }
}

/// What the model sees of a request.
pub(crate) struct PlanInput<'a> {
    pub parent: Option<&'a Node>,
    pub new_items: &'a [Value],
    pub tools: &'a [Value],
    pub previous_response_id: Option<&'a str>,
    pub new_tokens: usize,
    pub context_tokens: usize,
    pub cached_tokens: usize,
    pub scenario: Option<&'a Scenario>,
    /// The request's `tool_choice` (`required` / a named function force a call).
    pub tool_choice: Option<&'a Value>,
    /// Draws the persona's call ids.
    pub ids: &'a IdGen,
}

/// Decides the response.
pub(crate) fn plan(input: &PlanInput<'_>) -> Plan {
    match input.scenario {
        Some(s) => scenario_plan(s, input),
        None => persona_plan(input),
    }
}

fn scenario_plan(s: &Scenario, input: &PlanInput<'_>) -> Plan {
    let step = Node::model_turns_with(input.parent, input.new_items);
    let Some(turn) = s.turns().get(step) else {
        return Plan {
            items: vec![Planned::Text(format!(
                "The scenario `{}` is finished ({} turns).",
                s.name(),
                s.turns().len()
            ))],
            ..Plan::default()
        };
    };
    let mut items = Vec::new();
    if let Some(t) = &turn.text {
        items.push(Planned::Text(t.clone()));
    }
    for (i, c) in turn.calls.iter().enumerate() {
        items.push(Planned::Call {
            call_id: Scenario::call_id(step, i),
            name: c.name.clone(),
            arguments: c.arguments.clone(),
        });
    }
    Plan {
        items,
        fault: turn.fault,
        fail: turn.fail,
    }
}

/// The text of a message item's content (string or parts).
pub(crate) fn message_text(item: &Value) -> Option<String> {
    match &item["content"] {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Tools the default persona calls when a message names one: what the live TUI sends without
/// `--tools` when the server is turnscope's emulator, so "name a tool" works out of the box.
pub fn demo_tools() -> Vec<Value> {
    let tool = |name: &str, what: &str, param: &str| {
        json!({
            "type": "function",
            "name": name,
            "description": what,
            "parameters": {
                "type": "object",
                "properties": {param: {"type": "string"}},
                "required": [param],
                "additionalProperties": false
            },
            "strict": true
        })
    };
    vec![
        tool("read_file", "Read a file of the workspace", "path"),
        tool(
            "run_tests",
            "Run the test suite, optionally filtered",
            "filter",
        ),
        tool("search", "Search the workspace for text", "query"),
    ]
}

/// The word a message gives after a tool's name (`read_file README.md` → `README.md`): what a
/// person typing "call read_file on X" means the first string argument to be.
fn word_after<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let (_, rest) = message.split_once(name)?;
    rest.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| {
                matches!(
                    c,
                    '"' | '\'' | '`' | ',' | '.' | ':' | ';' | '!' | '?' | '(' | ')'
                )
            })
        })
        .find(|w| {
            !w.is_empty()
                && !matches!(
                    *w,
                    "on" | "for" | "with" | "in" | "the" | "a" | "now" | "please"
                )
        })
}

/// Example arguments for a function tool, from its JSON schema's required properties; the first
/// string one takes `word` when the message gave one.
fn example_arguments(tool: &Value, mut word: Option<&str>) -> String {
    let mut args = Map::new();
    let props = tool["parameters"]["properties"].as_object();
    let required: Vec<&str> = tool["parameters"]["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = props {
        for (name, schema) in props {
            if !required.is_empty() && !required.contains(&name.as_str()) {
                continue;
            }
            let v = match schema["type"].as_str() {
                Some("integer" | "number") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                Some("null") => Value::Null,
                _ => json!(word.take().unwrap_or("example")),
            };
            args.insert(name.clone(), v);
        }
    }
    Value::Object(args).to_string()
}

fn persona_plan(input: &PlanInput<'_>) -> Plan {
    let n = input.new_items.len();
    let mut text = format!(
        "Received {n} input item{} ({} tokens); previous_response_id: {}; cached context: {} tokens of {} in context.",
        plural(n),
        input.new_tokens,
        input.previous_response_id.unwrap_or("none"),
        input.cached_tokens,
        input.context_tokens,
    );
    // Only what follows the model's last output is new to it (HTTP mode resends everything).
    let tail_start = input
        .new_items
        .iter()
        .rposition(|i| i["type"] == "function_call" || i["role"] == "assistant")
        .map_or(0, |p| p + 1);
    let tail = &input.new_items[tail_start..];
    let outputs: Vec<&Value> = tail
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .collect();
    for o in &outputs {
        let len = match &o["output"] {
            Value::String(s) => s.len(),
            other => other.to_string().len(),
        };
        text.push_str(&format!(
            " Got the output of {} ({len} bytes).",
            o["call_id"].as_str().unwrap_or("?")
        ));
    }
    let user_text = tail
        .iter()
        .rev()
        .find(|i| i["role"] == "user")
        .and_then(message_text);
    let mut items = Vec::new();
    let functions = || input.tools.iter().filter(|t| t["type"] == "function");
    let forced = match input.tool_choice {
        Some(Value::String(s)) if s == "required" => functions()
            .find(|t| {
                user_text
                    .as_deref()
                    .zip(t["name"].as_str())
                    .is_some_and(|(u, n)| u.contains(n))
            })
            .or_else(|| functions().next()),
        Some(Value::Object(o)) if o.get("type").is_some_and(|t| t == "function") => {
            functions().find(|t| t["name"] == o["name"])
        }
        _ => None,
    };
    let allowed = input.tool_choice.is_none_or(|c| c != "none");
    if let Some(u) = &user_text {
        let short: String = u.chars().take(80).collect();
        let ellipsis = if u.chars().count() > 80 { "…" } else { "" };
        text.push_str(&format!(" You said: \"{short}{ellipsis}\""));
    }
    let named = user_text.as_deref().and_then(|u| {
        functions().find(|t| {
            t["name"]
                .as_str()
                .is_some_and(|name| !name.is_empty() && u.contains(name))
        })
    });
    let wanted = forced.or(named.filter(|_| outputs.is_empty() && allowed));
    if let Some(tool) = wanted {
        let name = tool["name"].as_str().unwrap_or_default().to_owned();
        text.push_str(&format!(" Calling `{name}` as asked."));
        // A forced call (`tool_choice` required or named) comes alone, as real models answer
        // it (public captures show no message item before it).
        if forced.is_none() {
            items.push(Planned::Text(text));
        }
        let word = user_text.as_deref().and_then(|u| word_after(u, &name));
        items.push(Planned::Call {
            call_id: input.ids.call(),
            arguments: example_arguments(tool, word),
            name,
        });
        return Plan {
            items,
            ..Plan::default()
        };
    }
    items.push(Planned::Text(text));
    Plan {
        items,
        ..Plan::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(items: &'a [Value], tools: &'a [Value]) -> PlanInput<'a> {
        PlanInput {
            parent: None,
            new_items: items,
            tools,
            previous_response_id: None,
            new_tokens: 5,
            context_tokens: 5,
            cached_tokens: 0,
            scenario: None,
            tool_choice: None,
            ids: &IDS,
        }
    }

    static IDS: std::sync::LazyLock<IdGen> = std::sync::LazyLock::new(|| IdGen::new(1));

    #[test]
    fn persona_reports_and_calls_named_tools() {
        let tools = vec![
            json!({"type":"function","name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}},"required":["tz"]}}),
        ];
        let items = vec![json!({"type":"message","role":"user","content":"please call get_time"})];
        let p = plan(&input(&items, &tools));
        assert_eq!(p.items.len(), 2);
        let Planned::Call {
            name, arguments, ..
        } = &p.items[1]
        else {
            panic!("no call")
        };
        assert_eq!(name, "get_time");
        assert_eq!(arguments, r#"{"tz":"example"}"#);
        // The word after the tool's name fills its first string argument.
        let items = vec![
            json!({"type":"message","role":"user","content":"call get_time on 'Europe/Paris', please"}),
        ];
        let p = plan(&input(&items, &tools));
        let Planned::Call { arguments, .. } = &p.items[1] else {
            panic!("no call")
        };
        assert_eq!(arguments, r#"{"tz":"Europe/Paris"}"#);
        let items = vec![json!({"type":"message","role":"user","content":"hello"})];
        let p = plan(&input(&items, &tools));
        let Planned::Text(t) = &p.items[0] else {
            panic!()
        };
        assert!(t.contains("Received 1 input item (5 tokens)"), "{t}");
        assert!(!p.requires_input());
    }
}
