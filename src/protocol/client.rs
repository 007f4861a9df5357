//! Client → server events: `response.create` and `response.steer`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ProtocolError, bad_field, event_type};

/// The body of `response.create`: the `POST /v1/responses` body plus WebSocket fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Model name, e.g. `gpt-5.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A string or an array of input items; only the *new* items when chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// System/developer instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Tool definitions; clients resend them every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// The response this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Whether the response is stored server-side (false under ZDR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// `false` is a warm-up: cache the context, produce no output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<bool>,
    /// Names a lane (WebSocket only): 1–256 chars of `[A-Za-z0-9_.-]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// Implied over WebSocket; real clients still send `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Not supported over WebSocket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    /// Reasoning settings (`effort`, `summary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Value>,
    /// Text output settings (`format`, `verbosity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Value>,
    /// Compaction settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_management: Option<Value>,
    /// Free-form key/value metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// `auto`, `none`, `required` or a specific tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Whether the model may call several tools at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateRequest {
    /// The input as a list of items (a bare string becomes one user message).
    pub fn input_items(&self) -> Vec<Value> {
        match &self.input {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(text)) => vec![serde_json::json!({
                "type": "message",
                "role": "user",
                "content": text,
            })],
            Some(other) => vec![other.clone()],
        }
    }
}

/// The body of `response.steer`: input added to a running response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SteerRequest {
    /// The running response to steer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// The input to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One client event.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// `response.create`.
    Create(Box<CreateRequest>),
    /// `response.steer`.
    Steer(SteerRequest),
    /// Any other type, kept whole.
    Unknown {
        /// Its `type`.
        kind: String,
        /// The whole object, `type` included.
        body: Map<String, Value>,
    },
}

impl ClientEvent {
    /// Parses one client frame.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let kind = event_type(text)?;
        match kind.as_str() {
            "response.create" => serde_json::from_str(text)
                .map(|c| ClientEvent::Create(Box::new(c)))
                .map_err(|e| bad_field(&kind, &e)),
            "response.steer" => serde_json::from_str(text)
                .map(ClientEvent::Steer)
                .map_err(|e| bad_field(&kind, &e)),
            _ => serde_json::from_str(text)
                .map(|body| ClientEvent::Unknown { kind, body })
                .map_err(|e| ProtocolError::NotJson(e.to_string())),
        }
    }

    /// The event's `type`.
    pub fn kind(&self) -> &str {
        match self {
            ClientEvent::Create(_) => "response.create",
            ClientEvent::Steer(_) => "response.steer",
            ClientEvent::Unknown { kind, .. } => kind,
        }
    }

    /// Serializes back to one JSON object, `type` first.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), Value::String(self.kind().to_owned()));
        let body = match self {
            ClientEvent::Create(c) => serde_json::to_value(c.as_ref()).unwrap_or_default(),
            ClientEvent::Steer(s) => serde_json::to_value(s).unwrap_or_default(),
            ClientEvent::Unknown { body, .. } => Value::Object(body.clone()),
        };
        if let Value::Object(fields) = body {
            for (k, v) in fields {
                out.entry(k).or_insert(v);
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn create_keeps_known_and_unknown_fields() {
        let text = r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c","output":"ok"}],"store":false,"x_future":{"a":[1,2]}}"#;
        let ev = ClientEvent::parse(text).unwrap();
        let ClientEvent::Create(c) = &ev else {
            panic!("not create")
        };
        assert_eq!(c.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(c.store, Some(false));
        assert_eq!(c.input_items().len(), 1);
        assert_eq!(ev.to_value(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn wrong_type_names_the_event() {
        let err = ClientEvent::parse(r#"{"type":"response.create","store":"yes"}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid response.create:"),
            "{err}"
        );
        assert_eq!(
            ClientEvent::parse("[1]").unwrap_err(),
            ProtocolError::NoType
        );
        assert!(matches!(
            ClientEvent::parse("nope"),
            Err(ProtocolError::NotJson(_))
        ));
    }

    #[test]
    fn bare_string_input_is_one_user_message() {
        let c = CreateRequest {
            input: Some(json!("hi")),
            ..Default::default()
        };
        assert_eq!(c.input_items()[0]["role"], "user");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z0-9 _.-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// parse → serialize of arbitrary objects loses nothing, for every event type.
        #[test]
        fn roundtrip_loses_nothing(
            kind in prop_oneof![Just("response.create".to_string()), Just("response.steer".to_string()), "[a-z.]{1,20}"],
            extra in prop::collection::btree_map("x_[a-z_]{1,8}", arb_json(), 0..6),
            prev in proptest::option::of("resp_[a-z0-9]{1,8}"),
            input in proptest::option::of(arb_json().prop_filter("not null", |v| !v.is_null())),
            store in proptest::option::of(any::<bool>()),
        ) {
            let mut obj: Map<String, Value> = extra.into_iter().collect();
            obj.insert("type".into(), json!(kind));
            if let Some(p) = prev { obj.insert("previous_response_id".into(), json!(p)); }
            if let Some(i) = input { obj.insert("input".into(), i); }
            if let Some(s) = store { obj.insert("store".into(), json!(s)); }
            let original = Value::Object(obj);
            let text = original.to_string();
            let parsed = ClientEvent::parse(&text).unwrap();
            prop_assert_eq!(parsed.to_value(), original);
        }
    }
}
