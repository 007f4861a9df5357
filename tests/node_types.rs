//! The official Node SDK's TypeScript types accept every kind of event the emulator sends: the
//! test records events from the emulator over real sockets (text, function calls, reasoning with
//! a summary and encrypted content, incomplete by max_output_tokens, errors, steering), writes
//! them as object literals typed `ResponsesServerEvent[]` (WebSocket) and `ResponseStreamEvent[]`
//! (HTTP SSE), and runs `tsc --noEmit --strict` on the file. Literals get TypeScript's excess
//! property check, so a key the SDK lacks fails like a wrong type does. npm `openai@7.55.0` and
//! `typescript@5.9.3` live under target/node-sdk (installed on first use; `.ci/run` does too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/node_sdk.rs"]
mod node_sdk;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;
#[path = "support/ws_client.rs"]
mod ws_client;

use serde_json::{Value, json};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::protocol::SseParser;
use ws_client::{connect, is_terminal, slow};

const MODEL: &str = "gpt-5.1";

fn tool() -> Value {
    json!({"type": "function", "name": "get_weather", "strict": true,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"], "additionalProperties": false}})
}

/// The requests, one per kind of event (the steer is sent while the first one runs).
fn requests() -> Vec<Value> {
    let base = |extra: Value| {
        let mut r =
            json!({"model": MODEL, "store": false, "input": "What's the weather in Paris?"});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    vec![
        base(json!({})),
        base(json!({"tools": [tool()], "tool_choice": "required"})),
        base(json!({"reasoning": {"effort": "low", "summary": "auto"},
                    "include": ["reasoning.encrypted_content"]})),
        base(json!({"max_output_tokens": 16, "input": "Write a long essay about the sea."})),
        base(json!({"previous_response_id": "resp_does_not_exist"})),
        base(json!({"temperature": "hot"})),
    ]
}

type Paths = std::collections::BTreeSet<String>;

/// What the public captures of real streams in tests/fixtures/real/ carry: `.0` the paths
/// (`.response.usage`, list elements as `[]`) where they send `null`, `.1` every key path. The
/// Node SDK types many of those nulls as optional, not nullable (`usage?: ResponseUsage`,
/// `user?: string`), so the real API's own events fail `tsc` there.
fn real_paths() -> (Paths, Paths) {
    fn walk(v: &Value, path: &str, out: &mut (Paths, Paths)) {
        match v {
            Value::Null => {
                out.0.insert(path.to_owned());
            }
            Value::Object(map) => {
                for (k, v) in map {
                    out.1.insert(format!("{path}.{k}"));
                    walk(v, &format!("{path}.{k}"), out);
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|v| walk(v, &format!("{path}[]"), out)),
            _ => {}
        }
    }
    let mut out = (Paths::new(), Paths::new());
    let real = sdk_venv::root().join("tests/fixtures/real");
    for entry in std::fs::read_dir(&real).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".tsjsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines().skip(1) {
            let frame: Value = serde_json::from_str(line).unwrap();
            if frame["dir"] == "recv" {
                walk(&frame["frame"], "", &mut out);
            }
        }
    }
    assert!(
        out.0.contains(".response.usage"),
        "no real capture read from {}",
        real.display()
    );
    out
}

/// Keys the SDK's types lack but real streams carry, removed before the check: `extra` key paths,
/// found by `tsc`'s excess-property errors, each one a key the real captures carry at that path
/// (like `obfuscation` on deltas; tests/sdk/check.py allows the same extras for pydantic).
fn as_the_types_allow(event: &Value, extra: &Paths) -> Value {
    fn strip(v: &mut Value, path: &str, extra: &Paths) {
        match v {
            Value::Object(map) => {
                map.retain(|k, _| !extra.contains(&format!("{path}.{k}")));
                for (k, v) in map.iter_mut() {
                    strip(v, &format!("{path}.{k}"), extra);
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|v| strip(v, &format!("{path}[]"), extra)),
            _ => {}
        }
    }
    let mut event = event.clone();
    strip(&mut event, "", extra);
    event
}

async fn websocket_events(ws_url: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut c = connect(ws_url).await;
    for mut request in requests() {
        request["type"] = json!("response.create");
        c.send(&request).await;
        events.extend(
            c.recv_until(|e| is_terminal(e) || e["type"] == "error")
                .await,
        );
    }
    // Steering: accepted while the response runs; then a steer for a finished response fails.
    let mut request = requests().remove(0);
    request["type"] = json!("response.create");
    request["stream_id"] = json!("main");
    c.send(&request).await;
    let created = c.recv().await;
    let id = created["response"]["id"].clone();
    events.push(created);
    c.send(&json!({"type": "response.steer", "previous_response_id": id, "input": "just say hi"}))
        .await;
    events.extend(c.recv_until(is_terminal).await);
    events.extend(c.recv_until(is_terminal).await);
    c.send(&json!({"type": "response.steer", "previous_response_id": id, "input": "late"}))
        .await;
    events.extend(
        c.recv_until(|e| {
            e["type"]
                .as_str()
                .unwrap_or("")
                .starts_with("response.steer")
        })
        .await,
    );
    events
}

async fn sse_events(base_url: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut events = Vec::new();
    for mut request in requests().into_iter().take(4) {
        request["stream"] = json!(true);
        let body = client
            .post(format!("{base_url}/responses"))
            .bearer_auth("test-key")
            .json(&request)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        events.extend(
            SseParser::parse_all(&body)
                .iter()
                .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()),
        );
    }
    events
}

/// The TypeScript file: one typed array per transport, each event an object literal.
fn typescript(ws: &[Value], sse: &[Value], extra: &Paths) -> String {
    let list = |events: &[Value]| {
        events
            .iter()
            .map(|e| format!("  {},\n", as_the_types_allow(e, extra)))
            .collect::<String>()
    };
    format!(
        "import type {{ ResponsesServerEvent, ResponseStreamEvent }} from 'openai/resources/responses/responses';\n\
         import type {{ Wire }} from './wire';\n\n\
         export const websocket: Wire<ResponsesServerEvent>[] = [\n{}];\n\n\
         export const sse: Wire<ResponseStreamEvent>[] = [\n{}];\n",
        list(ws),
        list(sse)
    )
}

fn kinds(events: &[Value]) -> std::collections::BTreeSet<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// `tsc --noEmit --strict` on `file` (the SDK's own declaration files are not re-checked).
fn tsc(modules: &std::path::Path, file: &std::path::Path) -> std::process::Output {
    std::process::Command::new("node")
        .arg(modules.join("typescript/bin/tsc"))
        .args([
            "--noEmit",
            "--strict",
            "--skipLibCheck",
            "--target",
            "es2022",
        ])
        .args(["--module", "nodenext", "--moduleResolution", "nodenext"])
        .arg(file)
        .output()
        .expect("cannot run node")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_sdk_types_accept_every_kind_of_emulator_event() {
    let modules = node_sdk::node_modules();
    // A slow first token, so the steer arrives while its response still runs.
    let emu = emulator::start(EmulatorConfig {
        latency: slow(300.0, 0.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let ws = websocket_events(&emu.ws_url()).await;
    let sse = sse_events(&emu.base_url()).await;
    emu.shutdown().await;

    // The capture covers what the test claims it covers.
    let (ws_kinds, sse_kinds) = (kinds(&ws), kinds(&sse));
    for kind in [
        "response.created",
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
        "response.incomplete",
        "response.completed",
        "error",
        "response.steer.accepted",
        "response.steer.failed",
    ] {
        assert!(ws_kinds.contains(kind), "no {kind} in {ws_kinds:?}");
    }
    for kind in [
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
        "response.incomplete",
    ] {
        assert!(
            sse_kinds.contains(kind),
            "no {kind} over HTTP in {sse_kinds:?}"
        );
    }
    assert!(
        ws.iter()
            .any(|e| e["item"]["encrypted_content"].is_string()),
        "no encrypted reasoning"
    );

    // The file lives beside node_modules so `import 'openai/…'` resolves.
    let dir = tempfile::tempdir_in(modules.parent().unwrap()).unwrap();
    let file = dir.path().join("events.ts");
    std::fs::copy(
        sdk_venv::root().join("tests/node_types_wire.ts"),
        dir.path().join("wire.ts"),
    )
    .unwrap();
    let (_, real_keys) = real_paths();
    // tsc names one excess property per literal: each round removes the ones it named, if (and
    // only if) a real capture carries that key, and checks again.
    let mut extra = Paths::new();
    for _round in 0..12 {
        std::fs::write(&file, typescript(&ws, &sse, &extra)).unwrap();
        let out = tsc(modules, &file);
        if out.status.success() {
            eprintln!(
                "tsc accepts {} WebSocket and {} SSE events; keys the real captures carry and the types lack: {extra:?}",
                ws.len(),
                sse.len()
            );
            // The check can fail: the same file plus two broken events (a number where the types
            // want a string, a key nobody sends) is rejected at exactly those two events.
            let broken = [
                json!({"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1",
                       "output_index": 0, "content_index": 0, "delta": 5, "logprobs": []}),
                json!({"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1",
                       "output_index": 0, "content_index": 0, "delta": "x", "logprobs": [], "bogus": 1}),
            ];
            let mut with_broken = ws.clone();
            with_broken.extend(broken);
            std::fs::write(&file, typescript(&with_broken, &sse, &extra)).unwrap();
            let out = tsc(modules, &file);
            let errors = String::from_utf8_lossy(&out.stdout).into_owned();
            let lines: Vec<&str> = errors.lines().filter(|l| l.contains("error TS")).collect();
            let (first, second) = (ws.len() + 5, ws.len() + 6);
            assert_eq!(lines.len(), 2, "{errors}");
            assert!(lines[0].contains(&format!("({first},")), "{errors}");
            assert!(
                lines[1].contains(&format!("({second},")) && lines[1].contains("bogus"),
                "{errors}"
            );
            return;
        }
        let errors = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut named = Paths::new();
        for line in errors.lines().filter(|l| l.contains("error TS")) {
            let key = line
                .contains("error TS2353")
                .then(|| line.split("'\"").nth(1).and_then(|k| k.split("\"'").next()))
                .flatten();
            let path = key.and_then(|k| real_keys.iter().find(|p| p.ends_with(&format!(".{k}"))));
            match path {
                Some(p) if !extra.contains(p) => {
                    named.insert(p.clone());
                }
                _ => panic!(
                    "tsc rejects emulator events ({} WebSocket, {} SSE):\n{errors}",
                    ws.len(),
                    sse.len()
                ),
            }
        }
        extra.extend(named);
    }
    panic!("tsc still names excess keys after 12 rounds: {extra:?}");
}
