//! Server → client events: the SSE event set plus steering, timing and `error`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ProtocolError, bad_field, event_type};

/// Every server event type turnscope knows by name; anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerEventKind {
    /// `response.created`: the first event of a response.
    Created,
    /// `response.queued`: waiting for a free slot on the connection.
    Queued,
    /// `response.in_progress`.
    InProgress,
    /// `response.output_item.added`.
    OutputItemAdded,
    /// `response.output_item.done`.
    OutputItemDone,
    /// `response.content_part.added`.
    ContentPartAdded,
    /// `response.content_part.done`.
    ContentPartDone,
    /// `response.output_text.delta`.
    OutputTextDelta,
    /// `response.output_text.done`.
    OutputTextDone,
    /// `response.refusal.delta`.
    RefusalDelta,
    /// `response.refusal.done`.
    RefusalDone,
    /// `response.function_call_arguments.delta`.
    FunctionCallArgumentsDelta,
    /// `response.function_call_arguments.done`.
    FunctionCallArgumentsDone,
    /// `response.reasoning_summary_*` and `response.reasoning_text.*`.
    Reasoning,
    /// Tool-specific events (web search, file search, code interpreter, MCP, …).
    ToolProgress,
    /// `response.completed` (terminal).
    Completed,
    /// `response.failed` (terminal).
    Failed,
    /// `response.incomplete` (terminal).
    Incomplete,
    /// `response.steer.accepted`.
    SteerAccepted,
    /// `response.steer.pending`.
    SteerPending,
    /// `response.steer.failed`.
    SteerFailed,
    /// `responsesapi.websocket_timing`: server-side timing metrics.
    Timing,
    /// `error`.
    Error,
    /// Anything else: shown raw, never dropped.
    Other,
}

impl ServerEventKind {
    /// Maps a `type` string to its kind.
    pub fn of(kind: &str) -> Self {
        use ServerEventKind as K;
        match kind {
            "response.created" => K::Created,
            "response.queued" => K::Queued,
            "response.in_progress" => K::InProgress,
            "response.output_item.added" => K::OutputItemAdded,
            "response.output_item.done" => K::OutputItemDone,
            "response.content_part.added" => K::ContentPartAdded,
            "response.content_part.done" => K::ContentPartDone,
            "response.output_text.delta" => K::OutputTextDelta,
            "response.output_text.done" => K::OutputTextDone,
            "response.refusal.delta" => K::RefusalDelta,
            "response.refusal.done" => K::RefusalDone,
            "response.function_call_arguments.delta" => K::FunctionCallArgumentsDelta,
            "response.function_call_arguments.done" => K::FunctionCallArgumentsDone,
            "response.completed" => K::Completed,
            "response.failed" => K::Failed,
            "response.incomplete" => K::Incomplete,
            "response.steer.accepted" => K::SteerAccepted,
            "response.steer.pending" => K::SteerPending,
            "response.steer.failed" => K::SteerFailed,
            "responsesapi.websocket_timing" => K::Timing,
            "error" => K::Error,
            k if k.starts_with("response.reasoning") => K::Reasoning,
            k if k.starts_with("response.web_search_call.")
                || k.starts_with("response.file_search_call.")
                || k.starts_with("response.code_interpreter_call")
                || k.starts_with("response.image_generation_call.")
                || k.starts_with("response.mcp_")
                || k.starts_with("response.custom_tool_call_input.") =>
            {
                K::ToolProgress
            }
            _ => K::Other,
        }
    }

    /// True for the events that end a response.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Incomplete)
    }
}

/// Token usage on a terminal event's response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// All input tokens of the turn (cached included).
    #[serde(default)]
    pub input_tokens: u64,
    /// Details, incl. `cached_tokens`.
    #[serde(default)]
    pub input_tokens_details: InputTokensDetails,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Details, incl. `reasoning_tokens`.
    #[serde(default)]
    pub output_tokens_details: OutputTokensDetails,
    /// Input plus output.
    #[serde(default)]
    pub total_tokens: u64,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Input tokens served from cache.
    #[serde(default)]
    pub cached_tokens: u64,
    /// Input tokens written to cache, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Reasoning tokens among the output tokens.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

/// The `response` object carried by lifecycle events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    /// `resp_…`.
    #[serde(default)]
    pub id: String,
    /// `in_progress`, `completed`, `failed`, `incomplete`, `queued`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The parent in the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Output items (messages, function calls, reasoning …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<Value>,
    /// Token usage (terminal events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Why the response failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Why it is incomplete (e.g. `steered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_details: Option<Value>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of an `error` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// `invalid_request_error`, `server_error`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `previous_response_not_found`, `invalid_stream_id`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// The request field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// One server event, typed where known, every other field kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerEvent {
    /// The `type` string.
    #[serde(rename = "type")]
    pub kind: String,
    /// Counts per response from 0 (`response.created`); request errors carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<u64>,
    /// The lane, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// Lifecycle events carry the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseObject>,
    /// `output_item.*` events carry the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// The output index an item/part event refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_index: Option<u64>,
    /// The item a delta belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Text or argument delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<String>,
    /// `error` events carry this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// HTTP-like status on `error` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerEvent {
    /// Parses one server frame; unknown types parse too (as `Other`).
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let kind = event_type(text)?;
        serde_json::from_str(text).map_err(|e| bad_field(&kind, &e))
    }

    /// The event's kind.
    pub fn event_kind(&self) -> ServerEventKind {
        ServerEventKind::of(&self.kind)
    }

    /// An API-shaped `error` event.
    pub fn error(kind: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Self {
        ServerEvent {
            kind: "error".into(),
            error: Some(ApiError {
                kind: kind.into(),
                code: code.map(Into::into),
                message: message.into(),
                param: param.map(Into::into),
            }),
            status: Some(400),
            ..Default::default()
        }
    }
}

/// A one-line explanation of the protocol's own error codes, for the UI.
pub fn explain_error_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "previous_response_not_found" => {
            "the parent response is not in this connection's cache (new connection, or evicted) and was not stored (store=false): resend the full context or start fresh"
        }
        "invalid_stream_id" => "stream_id must be 1-256 characters of [A-Za-z0-9_.-]",
        "websocket_stream_limit_reached" => {
            "too many lanes on this connection (32 max): reuse a lane or open another connection"
        }
        "websocket_connection_limit_reached" => {
            "the connection reached its 60-minute limit: open a new one (its cached responses are gone; store=false chains must resend the full context)"
        }
        "websocket_connection_cap_reached" => {
            "too many WebSocket connections for this key (the emulator's --max-connections-per-key): close one before opening another"
        }
        "rate_limit_exceeded" => "rate limited: wait and retry, or lower concurrency",
        "server_error" => "the server failed: retrying is safe if no output was streamed",
        "invalid_api_key" => "the API key was rejected: check OPENAI_API_KEY",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_event_carries_usage() {
        let text = r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":64},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":105},"created_at":1}}"#;
        let ev = ServerEvent::parse(text).unwrap();
        assert!(ev.event_kind().is_terminal());
        let usage = ev.response.as_ref().unwrap().usage.as_ref().unwrap();
        assert_eq!(usage.input_tokens_details.cached_tokens, 64);
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn unknown_events_survive_and_errors_parse() {
        let ev = ServerEvent::parse(r#"{"type":"response.brand_new","sequence_number":1,"x":[1]}"#)
            .unwrap();
        assert_eq!(ev.event_kind(), ServerEventKind::Other);
        assert_eq!(ev.extra["x"], serde_json::json!([1]));
        let err = ServerEvent::parse(r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"previous_response_not_found","message":"m","param":"previous_response_id"}}"#).unwrap();
        assert_eq!(
            err.error.unwrap().code.as_deref(),
            Some("previous_response_not_found")
        );
        assert!(explain_error_code("previous_response_not_found").is_some());
    }
}
