//! The live session: a tokio task that owns one WebSocket connection at a time, records every
//! frame, and talks to the UI over channels only.
//!
//! ```text
//!  UI ──SessionCommand──▶ actor ──▶ socket        socket ──▶ actor ──▶ transcript, then SessionEvent ──▶ UI
//! ```
//! The actor enforces one response in flight per lane (a create's `stream_id`), queueing the
//! rest, answers pings, records connects/closes/errors as meta frames, and reconnects only
//! when told to: it never resends anything by itself.

mod actor;
mod connect;
mod head;
pub mod lanes;

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{BETA_HEADER, oversized_message};

pub use lanes::Lane;

/// How to open and record a live session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `ws://` or `wss://` URL of `/v1/responses` (see [`ws_url_from_base`]).
    pub url: String,
    /// Sent as `Authorization: Bearer …`; never logged, recorded or shown.
    pub api_key: Option<String>,
    /// `OpenAI-Organization` header.
    pub organization: Option<String>,
    /// `OpenAI-Project` header.
    pub project: Option<String>,
    /// More upgrade headers; the default holds [`BETA_HEADER`].
    pub extra_headers: Vec<(String, String)>,
    /// Transcript path; `None` records nothing.
    pub record: Option<PathBuf>,
    /// The session's default model (for the transcript header).
    pub model: Option<String>,
    /// Skip TLS certificate verification (explicit `--insecure` only).
    pub insecure: bool,
    /// Largest message accepted or sent, in bytes.
    pub max_message_size: usize,
    /// The transcript header's `source`: `live` (default), `emulator`, `rerun`, …
    pub source: String,
    /// After this long with no frame from the server, send a WebSocket ping; if nothing arrives
    /// for as long again, count the connection as dropped (a dead network is otherwise silent).
    /// `None` never pings. Default 20 s, like the Python SDK's `websockets` client.
    pub keepalive: Option<std::time::Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            url: "wss://api.openai.com/v1/responses".into(),
            api_key: None,
            organization: None,
            project: None,
            extra_headers: vec![(BETA_HEADER.0.into(), BETA_HEADER.1.into())],
            record: None,
            model: None,
            insecure: false,
            max_message_size: 64 << 20,
            source: "live".into(),
            keepalive: Some(std::time::Duration::from_secs(20)),
        }
    }
}

/// What the UI asks the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// Send one client event (raw JSON text, already validated by the caller). Creates are queued
    /// per lane (its `stream_id`, `None` = default lane) while a response is in flight on that
    /// lane; everything else (steer, …) goes out at once.
    Send(String),
    /// Close the current connection and open a new one (connection index + 1).
    Reconnect,
    /// Close cleanly and end the task.
    Close,
}

/// The state of the session's connection; the live screen shows it as is. A proxy or a replay
/// has no connection of its own and stays `Idle`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnState {
    /// No connect attempted yet.
    #[default]
    Idle,
    /// Opening connection `conn`.
    Connecting {
        /// Connection index (0, 1, …).
        conn: u32,
    },
    /// Connection `conn` is open (the age gauge reads its age from the ledger's connect time).
    Connected {
        /// Connection index.
        conn: u32,
    },
    /// Connection `conn` ended; `code` is `None` when it dropped without a close frame.
    Closed {
        /// Connection index.
        conn: u32,
        /// The WebSocket close code, if a close frame was exchanged.
        code: Option<u16>,
        /// The close reason or what broke.
        reason: String,
    },
    /// A connect attempt failed; one line naming the URL and the fix.
    Failed {
        /// E.g. `401 Unauthorized from wss://…: check OPENAI_API_KEY`.
        message: String,
    },
}

/// What the session tells the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A frame was sent, received, or a meta note made (already in the transcript, if recording).
    Frame(crate::frame::Frame),
    /// The connection state changed.
    State(ConnState),
    /// A lane's queue of creates waiting behind its in-flight response changed (lane, queue length).
    Queued {
        /// The lane (`stream_id`), `None` = default lane.
        lane: Option<String>,
        /// Creates waiting on it now (0 when the last one went out).
        depth: usize,
    },
    /// The transcript path being written (sent once at start), or a recording error.
    Recording(Result<PathBuf, String>),
    /// Client events that were never sent because the connection closed or was not open;
    /// nothing is resent automatically, the UI decides.
    Unsent {
        /// The events, raw JSON, in the order they were given.
        events: Vec<String>,
        /// Why they were not sent.
        why: String,
    },
}

/// The UI's end of a running session.
#[derive(Debug)]
pub struct SessionHandle {
    /// Commands to the session task.
    pub commands: mpsc::UnboundedSender<SessionCommand>,
    /// Events from the session task, in order.
    pub events: mpsc::UnboundedReceiver<SessionEvent>,
    /// The session task; ends after [`SessionCommand::Close`], cancellation, or the sender dropping.
    pub task: tokio::task::JoinHandle<()>,
}

impl SessionHandle {
    /// Queues a command; false when the session task has ended.
    pub fn send(&self, command: SessionCommand) -> bool {
        self.commands.send(command).is_ok()
    }
}

/// Why a connection could not be opened; each message names the URL and the fix.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// The URL is not a usable `ws://`/`wss://` URL.
    #[error("bad URL {url}: {detail}; use ws://HOST/v1/responses or wss://HOST/v1/responses")]
    BadUrl {
        /// The URL (credentials removed).
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A header name or value cannot be sent.
    #[error("bad header {name}: {fix}")]
    BadHeader {
        /// The header name.
        name: String,
        /// What to do.
        fix: String,
    },
    /// DNS failed.
    #[error("cannot resolve {host} ({url}): {detail}; check the URL and your network")]
    Resolve {
        /// The host name.
        host: String,
        /// The URL.
        url: String,
        /// The resolver's error.
        detail: String,
    },
    /// Nothing listens there.
    #[error("connection refused by {addr} ({url}): is the server running? check --url")]
    Refused {
        /// The address tried.
        addr: String,
        /// The URL.
        url: String,
    },
    /// TCP connect failed otherwise.
    #[error("cannot connect to {addr} ({url}): {detail}; check the URL and your network")]
    Connect {
        /// The address tried.
        addr: String,
        /// The URL.
        url: String,
        /// The OS error.
        detail: String,
    },
    /// The whole connect took too long.
    #[error("timed out after {secs} s connecting to {url}; check the URL and your network")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        secs: u64,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {url} failed: {detail}; {fix}")]
    Tls {
        /// The URL.
        url: String,
        /// rustls' explanation.
        detail: String,
        /// What to do.
        fix: String,
    },
    /// The server answered the upgrade with an HTTP error.
    #[error("{} from {url}: {hint}", status_line(*.status))]
    Http {
        /// HTTP status.
        status: u16,
        /// The URL.
        url: String,
        /// The fix, plus the server's message.
        hint: String,
    },
    /// The WebSocket upgrade failed otherwise.
    #[error(
        "WebSocket upgrade with {url} failed: {detail}; check that the URL serves /v1/responses"
    )]
    Handshake {
        /// The URL.
        url: String,
        /// tungstenite's explanation.
        detail: String,
    },
}

fn status_line(status: u16) -> String {
    let reason = tokio_tungstenite::tungstenite::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// What a receive error means for the user; a too-big message names the limit and the flag.
pub fn receive_error(error: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match error {
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            oversized_message("a received message", *size, *max_size)
        }
        other => other.to_string(),
    }
}

/// Starts the session task: it connects at once (connection 0) and runs until
/// [`SessionCommand::Close`], `cancel`, or the command sender is dropped.
pub fn spawn(config: SessionConfig, cancel: CancellationToken) -> SessionHandle {
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let actor = actor::Actor::new(config, event_tx, cancel);
    let task = tokio::spawn(actor.run(command_rx));
    SessionHandle {
        commands: command_tx,
        events: event_rx,
        task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_name_status_url_and_fix() {
        let err = SessionError::Http {
            status: 401,
            url: "wss://api.openai.com/v1/responses".into(),
            hint: "check OPENAI_API_KEY".into(),
        };
        assert_eq!(
            err.to_string(),
            "401 Unauthorized from wss://api.openai.com/v1/responses: check OPENAI_API_KEY"
        );
    }
}
