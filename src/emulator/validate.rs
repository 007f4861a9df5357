//! Validates client requests the way the API does: an `invalid_request_error` naming the
//! `param` at fault, before anything runs.

use serde_json::{Map, Value};

use super::ApiFailure;
use super::params::{self, type_name};
use crate::protocol::CreateRequest;

/// Parses text as a JSON object.
pub(crate) fn parse_object(text: &str) -> Result<Map<String, Value>, ApiFailure> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiFailure::invalid(
            "invalid_json",
            format!(
                "The message must be a JSON object, but got {} instead.",
                type_name(&other)
            ),
            None,
        )),
        Err(e) => Err(ApiFailure::invalid(
            "invalid_json",
            format!(
                "We could not parse the JSON of your message ({e}); send one JSON object per text frame."
            ),
            None,
        )),
    }
}

/// True for a valid lane name: 1–256 chars of `[A-Za-z0-9_.-]`.
pub(crate) fn valid_stream_id(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_items(items: &[Value]) -> Result<(), ApiFailure> {
    for (i, item) in items.iter().enumerate() {
        let param = |f: &str| format!("input[{i}]{f}");
        let Some(obj) = item.as_object() else {
            return Err(ApiFailure::invalid(
                "invalid_type",
                format!(
                    "Invalid type for 'input[{i}]': expected an object, but got {} instead.",
                    type_name(item)
                ),
                Some(&param("")),
            ));
        };
        let kind = obj.get("type").and_then(Value::as_str);
        match kind {
            Some("function_call_output") => {
                if !obj.get("call_id").is_some_and(Value::is_string) {
                    return Err(ApiFailure::invalid(
                        "missing_required_parameter",
                        format!("Missing required parameter: '{}'.", param(".call_id")),
                        Some(&param(".call_id")),
                    ));
                }
                if !obj
                    .get("output")
                    .is_some_and(|o| o.is_string() || o.is_array())
                {
                    return Err(ApiFailure::invalid(
                        "missing_required_parameter",
                        format!(
                            "Missing required parameter: '{}' (a string or an array of content parts).",
                            param(".output")
                        ),
                        Some(&param(".output")),
                    ));
                }
            }
            Some("message") | None => {
                if !obj.get("role").is_some_and(Value::is_string) {
                    return Err(ApiFailure::invalid(
                        "missing_required_parameter",
                        format!("Missing required parameter: '{}'.", param(".role")),
                        Some(&param(".role")),
                    ));
                }
                if !obj
                    .get("content")
                    .is_some_and(|c| c.is_string() || c.is_array())
                {
                    return Err(ApiFailure::invalid(
                        "missing_required_parameter",
                        format!(
                            "Missing required parameter: '{}' (a string or an array of content parts).",
                            param(".content")
                        ),
                        Some(&param(".content")),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Validates a `response.create` body (WebSocket: `ws` = true) and parses it; `model_ok`
/// says whether the emulator answers for a model name.
pub(crate) fn create(
    obj: Map<String, Value>,
    ws: bool,
    model_ok: &dyn Fn(&str) -> bool,
) -> Result<CreateRequest, ApiFailure> {
    params::check(&obj)?;
    let Some(model) = obj.get("model").and_then(Value::as_str) else {
        return Err(ApiFailure::invalid(
            "missing_required_parameter",
            "Missing required parameter: 'model'.",
            Some("model"),
        ));
    };
    if !model_ok(model) {
        return Err(ApiFailure::invalid(
            "model_not_found",
            format!("The requested model '{model}' does not exist."),
            Some("model"),
        ));
    }
    let effort = obj
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .is_some_and(|e| !e.is_null());
    if effort && !super::models::is_reasoning(model) {
        return Err(ApiFailure::invalid(
            "unsupported_parameter",
            "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
            Some("reasoning.effort"),
        ));
    }
    if let Some(Value::Array(items)) = obj.get("input") {
        check_items(items)?;
    }
    if let Some(Value::Array(tools)) = obj.get("tools") {
        for (i, t) in tools.iter().enumerate() {
            let ok = t.get("type").is_some_and(Value::is_string)
                && (t["type"] != "function" || t.get("name").is_some_and(Value::is_string));
            if !ok {
                return Err(ApiFailure::invalid(
                    "missing_required_parameter",
                    format!(
                        "Missing required parameter: 'tools[{i}].{}'.",
                        if t.get("type").is_some_and(Value::is_string) {
                            "name"
                        } else {
                            "type"
                        }
                    ),
                    Some(&format!("tools[{i}]")),
                ));
            }
        }
    }
    if ws {
        if let Some(Value::String(sid)) = obj.get("stream_id")
            && !valid_stream_id(sid)
        {
            return Err(ApiFailure::invalid(
                "invalid_stream_id",
                "Invalid 'stream_id': use 1-256 characters of [A-Za-z0-9_.-].",
                Some("stream_id"),
            ));
        }
        if obj.get("background") == Some(&Value::Bool(true)) {
            return Err(ApiFailure::invalid(
                "unsupported_parameter",
                "'background': true is not supported over WebSocket; use POST /v1/responses for background responses.",
                Some("background"),
            ));
        }
    } else {
        for ws_only in ["stream_id", "generate", "type"] {
            if obj.contains_key(ws_only) {
                return Err(ApiFailure::invalid(
                    "unknown_parameter",
                    format!("Unknown parameter: '{ws_only}'."),
                    Some(ws_only),
                ));
            }
        }
        // Background responses (queued, polled with GET) are not emulated: refused, never
        // silently run in the foreground.
        if obj.get("background") == Some(&Value::Bool(true)) {
            return Err(ApiFailure::invalid(
                "unsupported_parameter",
                "Unsupported parameter: 'background'. The turnscope emulator does not run background responses; send the request without it.",
                Some("background"),
            ));
        }
    }
    serde_json::from_value::<CreateRequest>(Value::Object(obj))
        .map_err(|e| ApiFailure::invalid("invalid_request", format!("Invalid request: {e}."), None))
}

/// The parts of a `response.steer` that could be read.
#[derive(Debug, Clone)]
pub(crate) struct SteerParts {
    pub previous_response_id: String,
    pub input: Value,
}

/// Validates a `response.steer`: `Err(Ok(parts))` = well-formed but invalid input
/// (answered with `response.steer.failed`), `Err(Err(f))` = not even readable.
pub(crate) fn steer(
    obj: &Map<String, Value>,
) -> Result<SteerParts, Result<(SteerParts, String), ApiFailure>> {
    let prev = match obj.get("previous_response_id") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(Err(ApiFailure::invalid(
                "invalid_type",
                format!(
                    "Invalid type for 'previous_response_id': expected a string, but got {} instead.",
                    type_name(v)
                ),
                Some("previous_response_id"),
            )));
        }
        None => {
            return Err(Err(ApiFailure::invalid(
                "missing_required_parameter",
                "Missing required parameter: 'previous_response_id'.",
                Some("previous_response_id"),
            )));
        }
    };
    let Some(input) = obj
        .get("input")
        .filter(|v| v.is_string() || v.is_array())
        .cloned()
    else {
        return Err(Err(ApiFailure::invalid(
            "missing_required_parameter",
            "Missing required parameter: 'input' (a string or an array of user messages).",
            Some("input"),
        )));
    };
    let parts = SteerParts {
        previous_response_id: prev,
        input,
    };
    if let Some(extra) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "previous_response_id" | "input"))
    {
        return Err(Ok((
            parts,
            format!(
                "response.steer accepts only type, previous_response_id and input; remove '{extra}'."
            ),
        )));
    }
    match &parts.input {
        Value::Array(items) if items.is_empty() => {
            return Err(Ok((
                parts,
                "Steering input must be a non-empty array or a string.".into(),
            )));
        }
        Value::Array(items) => {
            if let Err(f) = check_items(items) {
                return Err(Ok((parts.clone(), f.message)));
            }
            for item in items {
                let ok = item["role"] == "user"
                    && item.get("type").is_none_or(|t| t == "message")
                    && (item["content"].is_string() || item["content"].is_array());
                if !ok {
                    return Err(Ok((
                        parts.clone(),
                        "Steering accepts only user messages (type, role: user, content).".into(),
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn create_any(o: Map<String, Value>, ws: bool) -> Result<CreateRequest, ApiFailure> {
        create(o, ws, &|_| true)
    }

    #[test]
    fn names_the_param_at_fault() {
        let e = create_any(obj(json!({"model":"m","store":"yes"})), true).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("store"));
        let e = create_any(obj(json!({"input":"x"})), true).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = create_any(obj(json!({"model":"m","stream_id":"a b"})), true).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("invalid_stream_id"));
        let e = create_any(obj(json!({"model":"m","background":true})), true).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("background"));
        let e = create_any(
            obj(json!({"model":"m","input":[{"type":"function_call_output","output":"x"}]})),
            true,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[0].call_id"));
        assert!(
            create_any(
                obj(json!({"type":"response.create","model":"m","stream":true,"input":"hi"})),
                true
            )
            .is_ok()
        );
        assert!(parse_object("[1]").is_err() && parse_object("nope").is_err());
        let known = |m: &str| m == "gpt-4.1";
        let e = create(obj(json!({"model":"gpt-nope"})), true, &known).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
        assert_eq!(e.message, "The requested model 'gpt-nope' does not exist.");
        // A realtime-style nested `response` object is not a Responses parameter.
        let e = create_any(
            obj(json!({"type":"response.create","response":{"model":"m"}})),
            true,
        )
        .unwrap_err();
        assert_eq!(
            (e.code.as_deref(), e.param.as_deref()),
            (Some("unknown_parameter"), Some("response"))
        );
        let e = create_any(obj(json!({"model":"m","background":true})), false).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
        let e = create(
            obj(json!({"model":"gpt-4.1","reasoning":{"effort":"low"}})),
            true,
            &known,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("reasoning.effort"));
    }

    #[test]
    fn stream_ids() {
        assert!(valid_stream_id("lane-1.a_b"));
        assert!(!valid_stream_id(""));
        assert!(!valid_stream_id(&"a".repeat(257)));
        assert!(valid_stream_id(&"a".repeat(256)));
        assert!(!valid_stream_id("ä"));
    }
}
