//! Typed views of the Responses API WebSocket events, with the raw JSON kept beside them.
//!
//! The wire text is the truth: every parse keeps it, unknown event types and unknown
//! fields survive untouched (`extra`), and nothing here does I/O.

pub mod client;
pub mod head;
pub mod server;
pub mod sse;

pub use client::{ClientEvent, CreateRequest, SteerRequest};
pub use head::{EventHead, ItemHead, LifecycleHead, Raw, RequestHead, ResponseHead};
pub use server::{ApiError, ResponseObject, ServerEvent, ServerEventKind, Usage};
pub use sse::{SseEvent, SseParser};

/// Why a frame could not be read as an event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// The text is not JSON at all.
    #[error("frame is not valid JSON ({0}); send one JSON object per text frame")]
    NotJson(String),
    /// JSON, but not an object with a string `type`.
    #[error("frame has no string \"type\" field; every event is a JSON object with a \"type\"")]
    NoType,
    /// A known event whose fields have the wrong shape.
    #[error("invalid {kind}: {detail}")]
    BadField {
        /// The event type.
        kind: String,
        /// serde's explanation, naming the field.
        detail: String,
        /// The offending top-level field, when it can be named.
        param: Option<String>,
    },
}

impl ProtocolError {
    /// The request field at fault, for an API-shaped error's `param`.
    pub fn param(&self) -> Option<&str> {
        match self {
            ProtocolError::BadField { param, .. } => param.as_deref(),
            ProtocolError::NoType => Some("type"),
            ProtocolError::NotJson(_) => None,
        }
    }
}

/// Reads the `type` of an event without parsing the rest.
pub fn event_type(text: &str) -> Result<String, ProtocolError> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: Option<serde_json::Value>,
    }
    let head: Head =
        serde_json::from_str(text).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    match head.kind {
        Some(serde_json::Value::String(s)) => Ok(s),
        _ => Err(ProtocolError::NoType),
    }
}

/// Builds a `BadField` error from serde's message, guessing the field it names.
pub(crate) fn bad_field(kind: &str, err: &serde_json::Error) -> ProtocolError {
    let detail = err.to_string();
    // serde says e.g. "invalid type: integer `5`, expected a string" for a field; the
    // field name is only present for missing/unknown fields, so look for backticks.
    let param = detail
        .split('`')
        .nth(1)
        .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .filter(|_| detail.starts_with("missing field") || detail.starts_with("unknown field"))
        .map(str::to_owned);
    ProtocolError::BadField {
        kind: kind.to_owned(),
        detail,
        param,
    }
}
