//! The `response.create` / `POST /v1/responses` parameters the emulator accepts, their types,
//! ranges and values, checked the way the HTTP API refuses bad requests (codes and wordings
//! from public captures: `unknown_parameter`, `invalid_type`, `decimal_below_min_value`, …).

use serde_json::{Map, Value};

use super::ApiFailure;

/// JSON kinds a parameter may have.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Bool,
    Int,
    Num,
    Arr,
    Obj,
    StrOrArr,
    StrOrObj,
    ArrOrObj,
}

impl Kind {
    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Str => v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::Int => v.is_i64() || v.is_u64(),
            Kind::Num => v.is_number(),
            Kind::Arr => v.is_array(),
            Kind::Obj => v.is_object(),
            Kind::StrOrArr => v.is_string() || v.is_array(),
            Kind::StrOrObj => v.is_string() || v.is_object(),
            Kind::ArrOrObj => v.is_array() || v.is_object(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Bool => "a boolean",
            Kind::Int => "an integer",
            Kind::Num => "a decimal",
            Kind::Arr => "an array",
            Kind::Obj => "an object",
            Kind::StrOrArr => "a string or an array",
            Kind::StrOrObj => "a string or an object",
            Kind::ArrOrObj => "an array or an object",
        }
    }
}

/// The JSON type of a value, as the API's messages name it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every top-level parameter: the SDK's `ResponseCreate` fields (openai 3.51.0), the
/// WebSocket-only `type`/`generate`/`stream_id`, and `client_metadata`, which the Codex CLI
/// sends to the real API.
pub(crate) const CREATE_PARAMS: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("model", Kind::Str),
    ("input", Kind::StrOrArr),
    ("instructions", Kind::Str),
    ("tools", Kind::Arr),
    ("tool_choice", Kind::StrOrObj),
    ("parallel_tool_calls", Kind::Bool),
    ("previous_response_id", Kind::Str),
    ("conversation", Kind::StrOrObj),
    ("store", Kind::Bool),
    ("stream", Kind::Bool),
    ("stream_options", Kind::Obj),
    ("background", Kind::Bool),
    ("generate", Kind::Bool),
    ("stream_id", Kind::Str),
    ("include", Kind::Arr),
    ("reasoning", Kind::Obj),
    ("text", Kind::Obj),
    ("context_management", Kind::ArrOrObj),
    ("metadata", Kind::Obj),
    ("client_metadata", Kind::Obj),
    ("max_output_tokens", Kind::Int),
    ("max_tool_calls", Kind::Int),
    ("temperature", Kind::Num),
    ("top_p", Kind::Num),
    ("top_logprobs", Kind::Int),
    ("truncation", Kind::Str),
    ("service_tier", Kind::Str),
    ("user", Kind::Str),
    ("safety_identifier", Kind::Str),
    ("prompt", Kind::Obj),
    ("prompt_cache_key", Kind::Str),
    ("prompt_cache_retention", Kind::Str),
    ("prompt_cache_options", Kind::Obj),
    ("moderation", Kind::Obj),
    ("image", Kind::Obj),
    ("access_programs", Kind::Obj),
];

/// Numeric ranges: (param, minimum, maximum).
const RANGES: &[(&str, f64, Option<f64>)] = &[
    ("temperature", 0.0, Some(2.0)),
    ("top_p", 0.0, Some(1.0)),
    ("max_output_tokens", 16.0, None),
    ("max_tool_calls", 1.0, None),
    ("top_logprobs", 0.0, Some(20.0)),
];

/// Closed value sets: (param path, allowed values).
const VALUES: &[(&str, &[&str])] = &[
    ("truncation", &["auto", "disabled"]),
    (
        "service_tier",
        &["auto", "default", "flex", "scale", "priority"],
    ),
    ("prompt_cache_retention", &["in_memory", "24h"]),
    (
        "reasoning.effort",
        &["none", "minimal", "low", "medium", "high", "xhigh"],
    ),
    ("reasoning.summary", &["auto", "concise", "detailed"]),
    ("text.verbosity", &["low", "medium", "high"]),
];

/// Keys allowed inside object parameters the emulator reads.
const NESTED: &[(&str, &[&str])] = &[
    (
        "reasoning",
        &["effort", "summary", "generate_summary", "context", "mode"],
    ),
    ("text", &["format", "verbosity"]),
    ("stream_options", &["include_obfuscation"]),
];

fn unknown(param: &str) -> ApiFailure {
    ApiFailure::invalid(
        "unknown_parameter",
        format!("Unknown parameter: '{param}'."),
        Some(param),
    )
}

fn invalid_type(param: &str, kind: Kind, got: &Value) -> ApiFailure {
    ApiFailure::invalid(
        "invalid_type",
        format!(
            "Invalid type for '{param}': expected {}, but got {} instead.",
            kind.name(),
            type_name(got)
        ),
        Some(param),
    )
}

fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Checks names, types, ranges and values of the top-level and nested parameters.
pub(crate) fn check(obj: &Map<String, Value>) -> Result<(), ApiFailure> {
    for (key, value) in obj {
        let Some((_, kind)) = CREATE_PARAMS.iter().find(|(name, _)| name == key) else {
            return Err(unknown(key));
        };
        if !value.is_null() && !kind.accepts(value) {
            return Err(invalid_type(key, *kind, value));
        }
    }
    for (name, min, max) in RANGES {
        let Some(v) = obj.get(*name).and_then(Value::as_f64) else {
            continue;
        };
        let decimal = matches!(
            CREATE_PARAMS.iter().find(|(n, _)| n == name),
            Some((_, Kind::Num))
        );
        let word = if decimal { "decimal" } else { "integer" };
        if v < *min {
            return Err(ApiFailure::invalid(
                &format!("{word}_below_min_value"),
                format!(
                    "Invalid '{name}': {word} below minimum value. Expected a value >= {}, but got {} instead.",
                    number_text(*min),
                    number_text(v)
                ),
                Some(name),
            ));
        }
        if let Some(max) = max.filter(|m| v > *m) {
            return Err(ApiFailure::invalid(
                &format!("{word}_above_max_value"),
                format!(
                    "Invalid '{name}': {word} above maximum value. Expected a value <= {}, but got {} instead.",
                    number_text(max),
                    number_text(v)
                ),
                Some(name),
            ));
        }
    }
    for (parent, keys) in NESTED {
        if let Some(Value::Object(inner)) = obj.get(*parent)
            && let Some(extra) = inner.keys().find(|k| !keys.contains(&k.as_str()))
        {
            return Err(unknown(&format!("{parent}.{extra}")));
        }
    }
    if let Some(Value::Object(o)) = obj.get("stream_options")
        && let Some(v) = o
            .get("include_obfuscation")
            .filter(|v| !v.is_null() && !v.is_boolean())
    {
        return Err(invalid_type(
            "stream_options.include_obfuscation",
            Kind::Bool,
            v,
        ));
    }
    for (path, allowed) in VALUES {
        let value = match path.split_once('.') {
            Some((a, b)) => obj.get(a).and_then(|o| o.get(b)),
            None => obj.get(*path),
        };
        match value {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
            Some(Value::String(s)) => {
                let list = allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>();
                let (last, rest) = list
                    .split_last()
                    .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
                return Err(ApiFailure::invalid(
                    "invalid_value",
                    format!(
                        "Invalid value: '{s}'. Supported values are: {} and {last}.",
                        rest.join(", ")
                    ),
                    Some(path),
                ));
            }
            Some(other) => return Err(invalid_type(path, Kind::Str, other)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> ApiFailure {
        check(v.as_object().unwrap()).unwrap_err()
    }

    #[test]
    fn refuses_like_the_http_api() {
        let e = err(json!({"model": "gpt-4.1", "system": "x"}));
        assert_eq!(e.message, "Unknown parameter: 'system'.");
        assert_eq!(
            (e.code.as_deref(), e.param.as_deref()),
            (Some("unknown_parameter"), Some("system"))
        );
        let e = err(json!({"temperature": -1}));
        assert_eq!(
            e.message,
            "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -1 instead."
        );
        assert_eq!(e.code.as_deref(), Some("decimal_below_min_value"));
        assert_eq!(
            err(json!({"top_p": 1.5})).code.as_deref(),
            Some("decimal_above_max_value")
        );
        let e = err(json!({"max_output_tokens": 8}));
        assert_eq!(e.code.as_deref(), Some("integer_below_min_value"));
        let e = err(json!({"temperature": "hot"}));
        assert_eq!(e.code.as_deref(), Some("invalid_type"));
        assert_eq!(
            e.message,
            "Invalid type for 'temperature': expected a decimal, but got a string instead."
        );
        let e = err(json!({"reasoning": {"effort": "max"}}));
        assert_eq!(e.param.as_deref(), Some("reasoning.effort"));
        assert_eq!(
            err(json!({"text": {"tone": 1}})).param.as_deref(),
            Some("text.tone")
        );
        assert!(
            check(
                json!({"temperature": 0.2, "top_p": 1, "max_output_tokens": 16})
                    .as_object()
                    .unwrap()
            )
            .is_ok()
        );
    }
}
