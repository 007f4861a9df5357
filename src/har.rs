//! HAR (HTTP Archive) in and out: Chrome's and mitmproxy's captures become frames, and a
//! recording becomes a HAR those tools open.
//!
//! Both tools write WebSocket traffic the way Chrome DevTools does: an entry with
//! `_resourceType: "websocket"` whose `_webSocketMessages` hold every message
//! (`type` send/receive, `time` in epoch seconds, `opcode`, `data`). An entry to
//! `…/responses` becomes one connection; an HTTP `POST …/responses` becomes one HTTP-mode
//! turn recorded exactly as `turnscope proxy` records it (an `http_request` meta line, the
//! body as sent, each SSE event as received), so the ledger folds both the same way.
//!
//! Timing: `startedDateTime` and the `timings` are milliseconds, and an HTTP entry keeps its
//! SSE stream as one body, so the events inside it have no times of their own (see
//! [`TIMING_NOTE`]).

mod read;
mod write;

pub use read::{Loaded, Summary, is_har, load, read_from};
pub use write::{ExportSummary, write_har};

/// What HAR's timing means for the figures, said once wherever a HAR is shown.
pub const TIMING_NOTE: &str = "HAR times are milliseconds: latencies under a few ms are not meaningful; \
     an HTTP entry keeps its SSE stream as one body, so its events are placed at the first byte \
     (TTFT there is time to first byte) and the terminal event at the entry's end";

/// Writes a HAR read into frames as a turnscope transcript (mode 0600), for the views that
/// index a file (replay).
pub fn write_transcript(loaded: &Loaded, path: &std::path::Path) -> std::io::Result<()> {
    let mut writer = crate::transcript::Writer::create(path, &loaded.header, &[])?;
    for frame in &loaded.frames {
        writer.write(frame)?;
    }
    Ok(())
}

/// Why a HAR cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a HAR at all.
    #[error(
        "{path}: not a HAR file ({reason}); expected the JSON object {{\"log\":{{\"entries\":[…]}}}} that Chrome DevTools or mitmproxy saves"
    )]
    NotHar {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The JSON breaks off (or goes wrong) before a single entry could be read.
    #[error(
        "{path}: the HAR is cut off or broken before its first entry ({reason}); save it again from the tool that captured it"
    )]
    Broken {
        /// The file.
        path: String,
        /// serde's description, with line and column.
        reason: String,
    },
}
