//! The emulator's requests and responses in the real API's shapes, over real sockets: request
//! validation (codes and wordings as the HTTP API refuses), every parameter echoed with its
//! effective value, `max_output_tokens`, reasoning models, `obfuscation`, opaque ids, and
//! steering input validated like `response.create` input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ws_client.rs"]
mod ws_client;

use serde_json::{Value, json};
use turnscope::emulator::{self, EmulatorConfig};
use ws_client::{connect, create, slow};

async fn post_json(emu: &emulator::RunningEmulator, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/responses", emu.base_url()))
        .bearer_auth("k")
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn bad_requests_are_refused_like_the_http_api_on_both_transports() {
    let emu = emulator::start(EmulatorConfig {
        extra_models: vec!["my-new-model".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    // (request fields, code, param, message)
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (
            json!({"response": {"instructions": "x"}}),
            "unknown_parameter",
            "response",
            "Unknown parameter: 'response'.",
        ),
        (
            json!({"temperature": "warm"}),
            "invalid_type",
            "temperature",
            "Invalid type for 'temperature': expected a decimal, but got a string instead.",
        ),
        (
            json!({"temperature": 2.5}),
            "decimal_above_max_value",
            "temperature",
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
        ),
        (
            json!({"top_p": -0.5}),
            "decimal_below_min_value",
            "top_p",
            "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.5 instead.",
        ),
        (
            json!({"max_output_tokens": 15}),
            "integer_below_min_value",
            "max_output_tokens",
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead.",
        ),
        (
            json!({"model": "gpt-nonexistent"}),
            "model_not_found",
            "model",
            "The requested model 'gpt-nonexistent' does not exist.",
        ),
    ];
    for (fields, code, param, message) in &cases {
        let mut ws_req = create(json!("hi"));
        let mut http_req = json!({"model": "gpt-4.1-mini", "input": "hi"});
        for (k, v) in fields.as_object().unwrap() {
            ws_req[k] = v.clone();
            http_req[k] = v.clone();
        }
        let out = c.turn(&ws_req).await;
        let e = &out[0];
        assert_eq!(e["type"], "error", "{e}");
        assert_eq!(e["status"], 400);
        assert_eq!(
            e["error"],
            json!({"type": "invalid_request_error", "code": code, "param": param, "message": message})
        );
        let (status, body) = post_json(&emu, &http_req).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": {"type": "invalid_request_error", "code": code, "param": param, "message": message}})
        );
    }
    // The escape hatch lets a new name through; the connection stayed usable throughout.
    let mut ok = create(json!("hi"));
    ok["model"] = json!("my-new-model");
    assert_eq!(
        c.turn(&ok).await.last().unwrap()["type"],
        "response.completed"
    );
    // HTTP `background` is refused, never silently run in the foreground.
    let (status, body) = post_json(
        &emu,
        &json!({"model": "gpt-4.1-mini", "input": "hi", "background": true}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("background"))
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn every_parameter_is_echoed_with_its_effective_value() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let mut req = create(json!("call get_time please"));
    for (k, v) in [
        ("temperature", json!(0.3)),
        ("top_p", json!(0.9)),
        ("truncation", json!("auto")),
        ("service_tier", json!("flex")),
        ("user", json!("u-1")),
        ("prompt_cache_key", json!("pck")),
        ("safety_identifier", json!("sid")),
        ("max_tool_calls", json!(3)),
        ("top_logprobs", json!(2)),
        ("parallel_tool_calls", json!(false)),
        ("metadata", json!({"k": "v"})),
        ("text", json!({"verbosity": "low"})),
        (
            "tools",
            json!([{"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}]),
        ),
    ] {
        req[k] = v;
    }
    let out = c.turn(&req).await;
    let created = &out[0]["response"];
    let done = &out.last().unwrap()["response"];
    for r in [created, done] {
        assert_eq!(r["temperature"], 0.3);
        assert_eq!(r["top_p"], 0.9);
        assert_eq!(r["truncation"], "auto");
        assert_eq!(r["user"], "u-1");
        assert_eq!(r["prompt_cache_key"], "pck");
        assert_eq!(r["safety_identifier"], "sid");
        assert_eq!(r["max_tool_calls"], 3);
        assert_eq!(r["top_logprobs"], 2);
        assert_eq!(r["parallel_tool_calls"], false);
        assert_eq!(r["metadata"], json!({"k": "v"}));
        assert_eq!(
            r["text"],
            json!({"format": {"type": "text"}, "verbosity": "low"})
        );
        assert_eq!(r["reasoning"], json!({"effort": null, "summary": null}));
        assert_eq!(
            (
                r["frequency_penalty"].clone(),
                r["presence_penalty"].clone()
            ),
            (json!(0.0), json!(0.0))
        );
        assert_eq!(r["max_output_tokens"], Value::Null);
        assert_eq!(
            r["tools"][0],
            json!({"type": "function", "description": null, "name": "get_time",
                "parameters": {"type": "object", "properties": {}}, "strict": true})
        );
    }
    assert_eq!(created["service_tier"], "flex");
    assert_eq!(created["completed_at"], Value::Null);
    assert!(done["completed_at"].as_u64().is_some(), "{done}");
    // Real streams carry no `name` on function_call_arguments.done.
    let args_done = out
        .iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .unwrap();
    assert!(args_done.get("name").is_none(), "{args_done}");
    emu.shutdown().await;
}

#[tokio::test]
async fn max_output_tokens_ends_the_response_incomplete() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let mut req = create(json!("tell me everything about this and more, at length"));
    req["max_output_tokens"] = json!(16);
    let out = c.turn(&req).await;
    let done = out.last().unwrap();
    assert_eq!(done["type"], "response.incomplete", "{done}");
    assert_eq!(
        done["response"]["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert!(done["response"]["usage"]["output_tokens"].as_u64().unwrap() <= 16);
    assert_eq!(done["response"]["output"][0]["status"], "incomplete");
    emu.shutdown().await;
}

#[tokio::test]
async fn reasoning_models_reason_summarise_and_carry_encrypted_content_through_a_store_false_chain()
{
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let mut req = create(json!("hi"));
    req["model"] = json!("gpt-5");
    req["reasoning"] = json!({"effort": "low", "summary": "auto"});
    req["include"] = json!(["reasoning.encrypted_content"]);
    let out = c.turn(&req).await;
    let kinds: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for k in [
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let done = &out.last().unwrap()["response"];
    assert_eq!(
        done["reasoning"],
        json!({"effort": "low", "summary": "auto"})
    );
    let rs = &done["output"][0];
    assert_eq!(rs["type"], "reasoning");
    assert!(rs["id"].as_str().unwrap().starts_with("rs_"));
    assert!(
        rs["encrypted_content"]
            .as_str()
            .is_some_and(|e| e.starts_with("gAAAAA"))
    );
    assert_eq!(rs["summary"][0]["type"], "summary_text");
    let reasoning = done["usage"]["output_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    assert!(reasoning > 0 && reasoning < done["usage"]["output_tokens"].as_u64().unwrap());
    // store=false, new connection: the client resends the context with the encrypted
    // reasoning item, as stateless agents do.
    let mut fresh = connect(&emu.ws_url()).await;
    let mut again = create(json!([
        {"type": "message", "role": "user", "content": "hi"},
        rs.clone(),
        done["output"][1].clone(),
        {"type": "message", "role": "user", "content": "and now?"}
    ]));
    again["model"] = json!("gpt-5");
    again["include"] = json!(["reasoning.encrypted_content"]);
    let t = fresh.turn(&again).await;
    assert_eq!(
        t.last().unwrap()["type"],
        "response.completed",
        "{:?}",
        t.last()
    );
    // Without a summary request no summary events; a model without reasoning has none at all;
    // gpt-5.1 reasons only when asked (effort none by default).
    for (model, reasoning) in [
        ("gpt-5", json!({"effort": "minimal"})),
        ("gpt-4.1", Value::Null),
        ("gpt-5.1", Value::Null),
    ] {
        let mut r = create(json!("hi"));
        r["model"] = json!(model);
        r["reasoning"] = reasoning;
        let out = c.turn(&r).await;
        assert!(!out.iter().any(|e| {
            e["type"]
                .as_str()
                .unwrap()
                .starts_with("response.reasoning_summary")
        }));
        let has_item = out.last().unwrap()["response"]["output"][0]["type"] == "reasoning";
        assert_eq!(has_item, model == "gpt-5", "{model}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn deltas_carry_obfuscation_unless_turned_off_and_ids_have_the_real_formats() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut c = connect(&emu.ws_url()).await;
    let mut req = create(json!("please call get_time"));
    req["tools"] = json!([{"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}]);
    let out = c.turn(&req).await;
    let deltas: Vec<&Value> = out
        .iter()
        .filter(|e| e["type"].as_str().unwrap().ends_with(".delta"))
        .collect();
    assert!(!deltas.is_empty());
    for d in &deltas {
        let pad = d["obfuscation"].as_str().unwrap();
        let n = d["delta"].as_str().unwrap().chars().count() + pad.chars().count();
        assert!(!pad.is_empty() && n % 16 == 0, "{d}");
    }
    let done = &out.last().unwrap()["response"];
    let hex = |s: &str, prefix: &str| {
        s.strip_prefix(prefix)
            .is_some_and(|h| h.len() == 50 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    assert!(hex(done["id"].as_str().unwrap(), "resp_"), "{}", done["id"]);
    assert!(hex(done["output"][0]["id"].as_str().unwrap(), "msg_"));
    assert!(hex(done["output"][1]["id"].as_str().unwrap(), "fc_"));
    let call = done["output"][1]["call_id"].as_str().unwrap();
    assert!(
        call.strip_prefix("call_")
            .is_some_and(|c| c.len() == 24 && c.bytes().all(|b| b.is_ascii_alphanumeric())),
        "{call}"
    );
    let mut quiet = create(json!("hello"));
    quiet["stream_options"] = json!({"include_obfuscation": false});
    let out = c.turn(&quiet).await;
    assert!(out.iter().all(|e| e.get("obfuscation").is_none()));
    emu.shutdown().await;
}

#[tokio::test]
async fn steer_input_is_validated_like_create_input() {
    let emu = emulator::start(EmulatorConfig {
        latency: slow(0.0, 20.0),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut c = connect(&emu.ws_url()).await;
    c.send(&create(json!(
        "a long answer, please, with many words in it"
    )))
    .await;
    let created = c.recv().await;
    let id = created["response"]["id"].clone();
    // A user message without content: refused as create would refuse it, naming the item.
    c.send(
        &json!({"type": "response.steer", "previous_response_id": id,
        "input": [{"type": "message", "role": "user"}]}),
    )
    .await;
    let failed = c.recv_until(|e| e["type"] == "response.steer.failed").await;
    let f = failed.last().unwrap();
    assert_eq!(f["error"]["code"], "invalid_input");
    assert!(
        f["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input[0].content"),
        "{f}"
    );
    emu.shutdown().await;
}
