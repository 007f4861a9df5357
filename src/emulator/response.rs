//! The response object as real streams carry it: every request parameter echoed with its
//! effective value, in the field order of public 2026 captures (`tests/fixtures/real/`).

use serde_json::{Map, Value, json};

use super::models;
use crate::protocol::CreateRequest;

/// A request parameter from `extra` (the fields `CreateRequest` does not name).
fn extra<'a>(req: &'a CreateRequest, key: &str) -> Option<&'a Value> {
    req.extra.get(key).filter(|v| !v.is_null())
}

/// The effective reasoning settings: `{effort, summary}` for reasoning models (effort
/// defaulted per model), nulls for the others, as real responses echo them.
pub(crate) fn reasoning(req: &CreateRequest, model: &str) -> Value {
    if !models::is_reasoning(model) {
        return json!({"effort": null, "summary": null});
    }
    let r = req.reasoning.as_ref();
    let effort = r
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .unwrap_or(models::default_effort(model));
    let summary = r
        .and_then(|r| r.get("summary"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({"effort": effort, "summary": summary})
}

/// Function tools echoed as the API stores them: `description` and `parameters` null when
/// absent, `strict` true unless the request said otherwise. Other tool types are echoed as sent.
fn tools(req: &CreateRequest) -> Value {
    let tools = req.tools.as_deref().unwrap_or(&[]);
    Value::Array(
        tools
            .iter()
            .map(|t| {
                if t["type"] != "function" {
                    return t.clone();
                }
                let mut out = Map::new();
                out.insert("type".into(), json!("function"));
                out.insert(
                    "description".into(),
                    t.get("description").cloned().unwrap_or(Value::Null),
                );
                out.insert("name".into(), t["name"].clone());
                out.insert(
                    "parameters".into(),
                    t.get("parameters").cloned().unwrap_or(Value::Null),
                );
                out.insert(
                    "strict".into(),
                    t.get("strict")
                        .filter(|s| !s.is_null())
                        .cloned()
                        .unwrap_or(json!(true)),
                );
                Value::Object(out)
            })
            .collect(),
    )
}

/// The `text` setting with its effective `verbosity` (`medium` unless asked).
fn text(req: &CreateRequest) -> Value {
    let t = req.text.as_ref();
    json!({
        "format": t.and_then(|t| t.get("format")).filter(|f| !f.is_null()).cloned()
            .unwrap_or_else(|| json!({"type": "text"})),
        "verbosity": t.and_then(|t| t.get("verbosity")).filter(|v| !v.is_null()).cloned()
            .unwrap_or_else(|| json!("medium")),
    })
}

/// The response object for `status` with `output` (usage and completion fields are set by
/// the caller on the terminal event).
pub(crate) fn object(
    id: &str,
    req: &CreateRequest,
    model: &str,
    created_at: u64,
    status: &str,
    output: &[Value],
) -> Value {
    let num = |key: &str, default: f64| extra(req, key).cloned().unwrap_or_else(|| json!(default));
    let opt = |key: &str| extra(req, key).cloned().unwrap_or(Value::Null);
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    r.insert("object".into(), json!("response"));
    r.insert("created_at".into(), json!(created_at));
    r.insert("status".into(), json!(status));
    r.insert("background".into(), json!(false));
    r.insert("completed_at".into(), Value::Null);
    r.insert("error".into(), Value::Null);
    r.insert("frequency_penalty".into(), json!(0.0));
    r.insert("incomplete_details".into(), Value::Null);
    r.insert("instructions".into(), json!(req.instructions));
    r.insert("max_output_tokens".into(), opt("max_output_tokens"));
    r.insert("max_tool_calls".into(), opt("max_tool_calls"));
    r.insert("model".into(), json!(model));
    // Moderation settings are not modelled; 2026 captures echo null when none were asked.
    r.insert("moderation".into(), Value::Null);
    r.insert("output".into(), Value::Array(output.to_vec()));
    r.insert(
        "parallel_tool_calls".into(),
        json!(req.parallel_tool_calls.unwrap_or(true)),
    );
    r.insert("presence_penalty".into(), json!(0.0));
    r.insert(
        "previous_response_id".into(),
        json!(req.previous_response_id),
    );
    r.insert("prompt_cache_key".into(), opt("prompt_cache_key"));
    r.insert(
        "prompt_cache_retention".into(),
        extra(req, "prompt_cache_retention")
            .cloned()
            .unwrap_or_else(|| json!("in_memory")),
    );
    r.insert("reasoning".into(), reasoning(req, model));
    r.insert("safety_identifier".into(), opt("safety_identifier"));
    // The request's tier while running; the tier that served it ("default" for "auto") at the
    // end, as real streams show.
    let tier = extra(req, "service_tier")
        .and_then(Value::as_str)
        .unwrap_or("auto");
    let served = if tier == "auto" { "default" } else { tier };
    let done = matches!(status, "completed" | "incomplete" | "failed");
    r.insert(
        "service_tier".into(),
        json!(if done { served } else { tier }),
    );
    r.insert("store".into(), json!(req.store.unwrap_or(true)));
    r.insert("temperature".into(), num("temperature", 1.0));
    r.insert("text".into(), text(req));
    r.insert(
        "tool_choice".into(),
        req.tool_choice.clone().unwrap_or_else(|| json!("auto")),
    );
    r.insert("tools".into(), tools(req));
    r.insert(
        "top_logprobs".into(),
        num("top_logprobs", 0.0)
            .as_f64()
            .map_or(json!(0), |v| json!(v as u64)),
    );
    r.insert("top_p".into(), num("top_p", 1.0));
    r.insert(
        "truncation".into(),
        extra(req, "truncation")
            .cloned()
            .unwrap_or_else(|| json!("disabled")),
    );
    r.insert("usage".into(), Value::Null);
    r.insert("user".into(), opt("user"));
    r.insert(
        "metadata".into(),
        req.metadata.clone().unwrap_or_else(|| json!({})),
    );
    Value::Object(r)
}
