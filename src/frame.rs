//! The one record every source produces: a frame sent, received, or a meta note.

use std::borrow::Cow;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

mod record;
mod spool;
mod store;
pub use store::{FrameStore, RECORDS_IN_MEMORY, TAIL_BYTES};

/// Which way a frame went, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Client → server (`response.create`, `response.steer`, …).
    Sent,
    /// Server → client.
    Recv,
    /// Not on the wire: connects, closes, reconnects, errors, notes.
    Meta,
}

/// What a frame carried, kept exactly as it was on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A text frame holding one JSON value; the text is byte-exact.
    Json(String),
    /// A text frame that is not one-line JSON (malformed, or multi-line); kept as text.
    Text(String),
    /// A binary frame (not part of the protocol); kept as bytes.
    Binary(Vec<u8>),
}

impl Payload {
    /// Classifies a text frame: one-line valid JSON is `Json`, anything else `Text`.
    pub fn from_text(text: impl Into<String>) -> Self {
        let text = text.into();
        // memchr, not `str::contains` with a char set: that decodes every character, and was
        // a third of the proxy's recorder time on 64 KB frames.
        let one_line = memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none();
        // The transcript reader's own check first (serde's rules, every byte, no allocation);
        // what it declines, serde decides, so the verdict is serde's either way.
        if one_line
            && (crate::transcript::is_json(&text)
                || serde_json::from_str::<&RawValue>(&text).is_ok())
        {
            Payload::Json(text)
        } else {
            Payload::Text(text)
        }
    }

    /// The frame's size on the wire, in bytes.
    pub fn len(&self) -> usize {
        match self {
            Payload::Json(s) | Payload::Text(s) => s.len(),
            Payload::Binary(b) => b.len(),
        }
    }

    /// True when the frame carried nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JSON text, when the frame is JSON.
    pub fn json(&self) -> Option<&str> {
        match self {
            Payload::Json(s) => Some(s),
            _ => None,
        }
    }

    /// The exact bytes that were on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Json(s) | Payload::Text(s) => s.as_bytes(),
            Payload::Binary(b) => b,
        }
    }
}

/// One frame of a session, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Monotonic microseconds since the session (or recording) started.
    pub t_us: u64,
    /// Wall-clock time, RFC 3339.
    pub wall: String,
    /// Which connection of the session (0, 1, … in connect order).
    pub conn: u32,
    /// Which way it went.
    pub dir: Dir,
    /// What it carried.
    pub payload: Payload,
}

impl Frame {
    /// A meta frame (connect, close, note …) carrying a JSON object.
    pub fn meta(t_us: u64, wall: String, conn: u32, body: &serde_json::Value) -> Self {
        Frame {
            t_us,
            wall,
            conn,
            dir: Dir::Meta,
            payload: Payload::Json(body.to_string()),
        }
    }

    /// The frame as a [`FrameRef`] borrowing its payload.
    pub fn view(&self) -> FrameRef<'_> {
        FrameRef {
            t_us: self.t_us,
            conn: self.conn,
            dir: self.dir,
            payload: match &self.payload {
                Payload::Json(s) => PayloadRef::Json(s),
                Payload::Text(s) => PayloadRef::Text(Cow::Borrowed(s)),
                Payload::Binary(b) => PayloadRef::Binary(Cow::Borrowed(b)),
            },
        }
    }
}

/// What the ledger reads of a frame, its payload borrowed from wherever the text lives (a
/// [`Frame`], or a transcript's read buffer): folding a recording copies no JSON frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// Monotonic microseconds (see [`Frame::t_us`]).
    pub t_us: u64,
    /// Which connection of the session.
    pub conn: u32,
    /// Which way it went.
    pub dir: Dir,
    /// What it carried.
    pub payload: PayloadRef<'a>,
}

/// A borrowed [`Payload`]. JSON is always borrowed; a text or binary frame read from a
/// transcript had to be decoded (a JSON string, hex), so it may be owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadRef<'a> {
    /// A text frame holding one JSON value, byte-exact.
    Json(&'a str),
    /// A text frame that is not one-line JSON.
    Text(Cow<'a, str>),
    /// A binary frame.
    Binary(Cow<'a, [u8]>),
}

impl<'a> PayloadRef<'a> {
    /// The frame's size on the wire, in bytes.
    pub fn len(&self) -> usize {
        match self {
            PayloadRef::Json(s) => s.len(),
            PayloadRef::Text(s) => s.len(),
            PayloadRef::Binary(b) => b.len(),
        }
    }

    /// True when the frame carried nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JSON text, when the frame is JSON.
    pub fn json(&self) -> Option<&'a str> {
        match self {
            PayloadRef::Json(s) => Some(s),
            _ => None,
        }
    }
}

/// A transcript being written, open for reading: the proxy TUI reads recorded frames' bodies
/// back from it instead of keeping a second copy.
#[derive(Debug)]
pub struct Recording {
    /// A read-only handle on the file the writer appends to.
    pub file: File,
    /// Where it is, for messages.
    pub path: PathBuf,
}

/// Where a frame's wall time and JSON body sit, byte for byte as the frame holds them, in a
/// [`Recording`] (file offsets; the line is complete in the file before anyone sees the frame).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The recording.
    pub recording: Arc<Recording>,
    /// Offset of the wall time's first byte.
    pub wall: u64,
    /// Offset of the JSON body's first byte.
    pub body: u64,
}

/// The same place in the same recording (the handle compared by identity).
impl PartialEq for Recorded {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.recording, &other.recording)
            && (self.wall, self.body) == (other.wall, other.body)
    }
}

impl Eq for Recorded {}

/// The current wall-clock time, RFC 3339 with microseconds.
pub fn wall_now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_json_is_json_and_everything_else_is_text() {
        assert!(matches!(
            Payload::from_text(r#"{"type":"x"}"#),
            Payload::Json(_)
        ));
        assert!(matches!(
            Payload::from_text("{\n\"a\":1}"),
            Payload::Text(_)
        ));
        assert!(matches!(Payload::from_text("not json"), Payload::Text(_)));
        assert!(matches!(
            Payload::from_text(r#"{"a":1} trailing"#),
            Payload::Text(_)
        ));
    }
}
