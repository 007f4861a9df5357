//! Scenarios: scripted multi-turn agent runs — what the model says and calls on each turn,
//! and the tool outputs the client side sends back.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::EmulatorError;

/// The built-in coding-agent run (25 tool calls, outputs 1–20 KB).
const CODING_AGENT: &str = include_str!("../../tests/scenarios/coding-agent.toml");

/// A scripted agent run. See README "Emulator" for the file format.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    name: String,
    model: Option<String>,
    instructions: Option<String>,
    user: String,
    tools: Vec<Value>,
    turns: Vec<ScenarioTurn>,
}

/// One model turn of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioTurn {
    /// Assistant text of this turn (before its calls, or the final answer).
    pub text: Option<String>,
    /// The function calls the model makes.
    pub calls: Vec<ScenarioCall>,
    /// A fault to inject while streaming this turn.
    pub fault: Option<ScenarioFault>,
    /// Make this turn end with `response.failed` (`server_error`) instead.
    pub fail: bool,
}

/// One function call of a scenario turn, with the output the client sends back.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioCall {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON string.
    pub arguments: String,
    /// The client side's scripted tool output.
    pub output: String,
}

/// A fault injected by a scenario turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioFault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// After how many events of this response.
    pub after_events: u64,
}

/// The kinds of injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Close the TCP connection without a close frame.
    Drop,
    /// Stop sending (the connection stays open).
    Stall,
    /// Send one text frame that is not JSON.
    Malformed,
    /// Send one frame larger than clients accept by default (1 MiB + 1).
    Oversized,
}

/// Most filler words one turn may ask for: the text is built when the file is read, so a
/// mistyped `say_words = 9999999999` must be an error, not an allocation that aborts.
pub const MAX_SAY_WORDS: usize = 1_000_000;
/// Most synthetic output bytes one call may ask for (16 MiB), for the same reason.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    instructions: Option<String>,
    user: String,
    #[serde(default)]
    tools: Vec<toml::Value>,
    #[serde(default)]
    turns: Vec<FileTurn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTurn {
    #[serde(default)]
    say: Option<String>,
    #[serde(default)]
    say_words: Option<usize>,
    #[serde(default)]
    calls: Vec<FileCall>,
    #[serde(default)]
    fault: Option<FileFault>,
    #[serde(default)]
    fail: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCall {
    name: String,
    #[serde(default)]
    arguments: Option<toml::Value>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    output_bytes: Option<usize>,
    #[serde(default)]
    output_kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFault {
    kind: FaultKind,
    #[serde(default)]
    after_events: u64,
}

impl Scenario {
    /// Loads a scenario from a TOML (or JSON, by extension) file.
    pub fn load(path: &Path) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|e| EmulatorError::Scenario {
            origin: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        let json = path.extension().is_some_and(|e| e == "json");
        Self::parse(&text, &path.display().to_string(), json)
    }

    /// Parses scenario text; `json` selects JSON instead of TOML.
    pub fn parse(text: &str, origin: &str, json: bool) -> Result<Self, EmulatorError> {
        let err = |message: String| EmulatorError::Scenario {
            origin: origin.to_owned(),
            message,
        };
        let file: FileScenario = if json {
            serde_json::from_str(text).map_err(|e| err(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| err(e.to_string()))?
        };
        let _ = file.description;
        let tools = file
            .tools
            .into_iter()
            .map(|t| serde_json::to_value(t).map_err(|e| err(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut turns = Vec::with_capacity(file.turns.len());
        for (t, ft) in file.turns.into_iter().enumerate() {
            let text = match (ft.say, ft.say_words) {
                (Some(s), _) => Some(s),
                (None, Some(n)) if n > MAX_SAY_WORDS => {
                    return Err(err(format!(
                        "turn {t}: say_words = {n} is more than {MAX_SAY_WORDS}; give a smaller number"
                    )));
                }
                (None, Some(n)) => Some(filler_words(n, t as u64)),
                (None, None) => None,
            };
            let mut calls = Vec::new();
            for (i, fc) in ft.calls.into_iter().enumerate() {
                let arguments = match fc.arguments {
                    None => "{}".to_owned(),
                    Some(toml::Value::String(s)) => s,
                    Some(v) => serde_json::to_string(&v).map_err(|e| err(e.to_string()))?,
                };
                let output = match (fc.output, fc.output_bytes) {
                    (Some(o), _) => o,
                    (None, Some(n)) if n > MAX_OUTPUT_BYTES => {
                        return Err(err(format!(
                            "turn {t} call {i}: output_bytes = {n} is more than {MAX_OUTPUT_BYTES}; give a smaller number"
                        )));
                    }
                    (None, Some(n)) => synthetic_output(
                        fc.output_kind.as_deref().unwrap_or("text"),
                        n,
                        (t as u64) << 8 | i as u64,
                    ),
                    (None, None) => "ok".to_owned(),
                };
                calls.push(ScenarioCall {
                    name: fc.name,
                    arguments,
                    output,
                });
            }
            if text.is_none() && calls.is_empty() && !ft.fail {
                return Err(err(format!(
                    "turn {t} has neither `say`/`say_words` nor `calls`; give it one"
                )));
            }
            turns.push(ScenarioTurn {
                text,
                calls,
                fault: ft.fault.map(|f| ScenarioFault {
                    kind: f.kind,
                    after_events: f.after_events,
                }),
                fail: ft.fail,
            });
        }
        if turns.is_empty() {
            return Err(err("it has no [[turns]]; add at least one".into()));
        }
        Ok(Scenario {
            name: file.name,
            model: file.model,
            instructions: file.instructions,
            user: file.user,
            tools,
            turns,
        })
    }

    /// A built-in scenario by name (`coding-agent`).
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "coding-agent" => Self::parse(CODING_AGENT, "built-in coding-agent", false).ok(),
            _ => None,
        }
    }

    /// Resolves `--scenario`: a built-in name or a file path.
    pub fn resolve(spec: &str) -> Result<Self, EmulatorError> {
        match Self::builtin(spec) {
            Some(s) => Ok(s),
            None => Self::load(Path::new(spec)),
        }
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model the client should request (informational).
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or("emulator-scenario")
    }

    /// The instructions the client sends.
    pub fn instructions(&self) -> Option<&str> {
        self.instructions.as_deref()
    }

    /// The client's first user message.
    pub fn user_input(&self) -> &str {
        &self.user
    }

    /// The tools the client declares (Responses API tool objects).
    pub fn tools(&self) -> &[Value] {
        &self.tools
    }

    /// The model turns.
    pub fn turns(&self) -> &[ScenarioTurn] {
        &self.turns
    }

    /// How many function calls the whole run makes.
    pub fn call_count(&self) -> usize {
        self.turns.iter().map(|t| t.calls.len()).sum()
    }

    /// The call id the model gives call `index` of turn `turn`: the real format (`call_` and
    /// 24 alphanumerics), led by `tTTTTcCCC` so the scripted client finds its output, the rest
    /// a filler fixed by (turn, index) so runs repeat.
    pub fn call_id(turn: usize, index: usize) -> String {
        let head = format!("t{:04}c{:03}", turn % 10_000, index % 1000);
        let seed = ((turn as u64) << 20) ^ index as u64;
        let filler = super::ids::IdGen::new(seed).alnum("", super::ids::CALL_CHARS - head.len());
        format!("call_{head}{}", &filler[1..])
    }

    /// The client side: the scripted output for a call id the model produced.
    pub fn tool_output(&self, call_id: &str) -> Option<&str> {
        let rest = call_id.strip_prefix("call_t")?;
        let (t, i) = (rest.get(..4)?, rest.get(5..8)?);
        let (t, i): (usize, usize) = (t.parse().ok()?, i.parse().ok()?);
        self.turns.get(t)?.calls.get(i).map(|c| c.output.as_str())
    }

    /// The client side: given a response's output items, the next input to send
    /// (`function_call_output` items), or `None` when the model answered without calls.
    pub fn next_input(&self, output: &[Value]) -> Option<Vec<Value>> {
        let items: Vec<Value> = output
            .iter()
            .filter(|item| item["type"] == "function_call")
            .filter_map(|item| {
                let call_id = item["call_id"].as_str()?;
                let out = self.tool_output(call_id).unwrap_or("ok");
                Some(json!({"type": "function_call_output", "call_id": call_id, "output": out}))
            })
            .collect();
        (!items.is_empty()).then_some(items)
    }

    /// The same run resized to exactly `calls` function calls (for `bench --tool-calls`):
    /// the turns that make calls are kept in order, cut short, or repeated from the start
    /// as often as needed; then the scenario's final answer (its last turn without calls,
    /// or a short closing message) ends the run. `calls = 0` leaves only the answer.
    pub fn with_tool_calls(&self, calls: usize) -> Scenario {
        let callers: Vec<&ScenarioTurn> =
            self.turns.iter().filter(|t| !t.calls.is_empty()).collect();
        let answer = self
            .turns
            .iter()
            .rev()
            .find(|t| t.calls.is_empty() && !t.fail)
            .cloned()
            .unwrap_or_else(|| ScenarioTurn {
                text: Some("Done.".into()),
                calls: Vec::new(),
                fault: None,
                fail: false,
            });
        let mut turns = Vec::new();
        let mut made = 0;
        let mut next = callers.iter().cycle();
        while made < calls {
            let Some(turn) = next.next() else { break };
            let mut turn = (*turn).clone();
            turn.calls.truncate(calls - made);
            made += turn.calls.len();
            turns.push(turn);
        }
        turns.push(answer);
        Scenario {
            turns,
            ..self.clone()
        }
    }

    /// The client side: the first request's input (one user message).
    pub fn first_input(&self) -> Vec<Value> {
        vec![json!({"type": "message", "role": "user", "content": self.user})]
    }
}

/// A deterministic xorshift stream for synthetic text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        let n = (self.next() % words.len() as u64) as usize;
        words.get(n).copied().unwrap_or("x")
    }
}

const WORDS: &[&str] = &[
    "the", "parser", "returns", "token", "error", "when", "input", "is", "empty", "so", "we",
    "check", "length", "first", "then", "match", "on", "kind", "and", "span", "value", "buffer",
    "line", "column", "expected", "found", "test", "module", "function", "struct", "field",
];

fn filler_words(n: usize, seed: u64) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick(WORDS));
    }
    out.push('.');
    out
}

/// Deterministic tool output of exactly `bytes` ASCII bytes that looks like `kind`
/// (`code`, `log`, `diff`, `listing` or `text`).
pub fn synthetic_output(kind: &str, bytes: usize, seed: u64) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF | 1);
    let mut out = String::with_capacity(bytes + 128);
    let mut line_no = 1u32;
    while out.len() < bytes {
        let (a, b, c) = (rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
        let line = match kind {
            "code" => format!("    let {a}_{b} = self.{c}({a}, {line_no})?;\n"),
            "log" => format!(
                "test {a}::{b}_{c} ... {}\n",
                if rng.next().is_multiple_of(9) {
                    "FAILED"
                } else {
                    "ok"
                }
            ),
            "diff" => format!(
                "{}    {a}.{b}({c});\n",
                if line_no.is_multiple_of(2) { "+" } else { "-" }
            ),
            "listing" => format!("src/{a}/{b}_{c}.rs\t{}\n", rng.next() % 20_000),
            _ => format!("{a} {b} {c} {line_no}\n"),
        };
        out.push_str(&line);
        line_no += 1;
    }
    out.truncate(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_coding_agent_has_25_calls_with_1_to_20_kb_outputs() {
        let s = Scenario::builtin("coding-agent").unwrap();
        assert_eq!(s.call_count(), 25);
        for t in s.turns() {
            for c in &t.calls {
                assert!(
                    (1024..=20 * 1024).contains(&c.output.len()),
                    "{}",
                    c.output.len()
                );
                let _: Value = serde_json::from_str(&c.arguments).unwrap();
            }
        }
        assert!(s.turns().last().unwrap().calls.is_empty());
        assert!(!s.tools().is_empty());
        let id = Scenario::call_id(3, 0);
        assert_eq!(
            s.tool_output(&id),
            Some(s.turns()[3].calls[0].output.as_str())
        );
    }

    #[test]
    fn with_tool_calls_cuts_and_repeats_the_calling_turns() {
        let s = Scenario::builtin("coding-agent").unwrap();
        for n in [0, 3, 25, 50] {
            let r = s.with_tool_calls(n);
            assert_eq!(r.call_count(), n);
            let last = r.turns().last().unwrap();
            assert!(last.calls.is_empty());
            assert_eq!(last.text, s.turns().last().unwrap().text);
        }
        let r = s.with_tool_calls(27);
        // Turns 25 and 26 repeat turns 0 and 1 (one call each) before the answer.
        assert_eq!(r.turns().len(), 28);
        assert_eq!(r.turns()[25], s.turns()[0]);
        assert_eq!(r.turns()[26], s.turns()[1]);
        assert_eq!(r.with_tool_calls(25).turns(), s.turns());
    }

    #[test]
    fn synthetic_output_is_deterministic_and_exact() {
        assert_eq!(
            synthetic_output("code", 5000, 7),
            synthetic_output("code", 5000, 7)
        );
        assert_eq!(synthetic_output("log", 1234, 1).len(), 1234);
    }

    #[test]
    fn huge_sizes_are_errors_not_aborts() {
        // These allocated without bound (or overflowed `bytes + 128`) while the file was read.
        let words = "name='x'\nuser='u'\n[[turns]]\nsay_words = 9223372036854775807\n";
        let e = Scenario::parse(words, "t", false).unwrap_err().to_string();
        assert!(e.contains("say_words") && e.contains("smaller"), "{e}");
        let bytes = "name='x'\nuser='u'\n[[turns]]\ncalls = [{ name = 'f', output_bytes = 9223372036854775807 }]\n";
        let e = Scenario::parse(bytes, "t", false).unwrap_err().to_string();
        assert!(e.contains("output_bytes") && e.contains("smaller"), "{e}");
    }

    #[test]
    fn bad_scenarios_name_the_problem() {
        let e = Scenario::parse("name='x'\nuser='u'\n[[turns]]\n", "t", false).unwrap_err();
        assert!(e.to_string().contains("turn 0"), "{e}");
        let e = Scenario::parse("name='x'\n", "t", false).unwrap_err();
        assert!(e.to_string().contains("user"), "{e}");
    }
}
