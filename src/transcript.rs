//! The `.tsjsonl` transcript format: a header line, then one frame per line.
//!
//! ```text
//! {"turnscope":1,"created":"…","source":"live","url":"…","model":"…"}
//! {"t_us":0,"wall":"…","conn":0,"dir":"sent","frame":{"type":"response.create",…}}
//! ```
//! A frame that is not one-line JSON is stored as `"text":"…"`, a binary frame as
//! `"binary":"<hex>"`, so every frame comes back byte-exact.

mod fast;
mod reader;
pub mod synth;
mod writer;

pub(crate) use fast::is_json;
pub(crate) use reader::parse_line;
pub use reader::{
    Entry, LineError, LineRef, RawLines, Reader, from_reader, parse_line_ref, read_all,
};
pub use writer::{Writer, redact};

use serde::{Deserialize, Serialize};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of every transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Format version (`1`).
    pub turnscope: u32,
    /// When the recording started, RFC 3339.
    pub created: String,
    /// `live`, `proxy`, `emulator`, `rerun`.
    pub source: String,
    /// The server URL (never with credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The default model of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Header {
    /// A header for a recording that starts now.
    pub fn new(source: &str, url: Option<String>, model: Option<String>) -> Self {
        Header {
            turnscope: FORMAT_VERSION,
            created: crate::frame::wall_now(),
            source: source.to_owned(),
            url,
            model,
        }
    }
}

/// Why a transcript cannot be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The first line is not a turnscope header.
    #[error("{path}: not a turnscope transcript (line 1 is not a {{\"turnscope\":1,…}} header)")]
    NotATranscript {
        /// The file.
        path: String,
    },
    /// The file is empty.
    #[error("{path}: empty file, no transcript header")]
    Empty {
        /// The file.
        path: String,
    },
    /// Written by a newer turnscope.
    #[error(
        "{path}: transcript format {found} is newer than this turnscope reads ({FORMAT_VERSION}); upgrade turnscope"
    )]
    FutureVersion {
        /// The file.
        path: String,
        /// The version found.
        found: u32,
    },
}
