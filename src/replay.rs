//! Replaying recorded transcripts, the data side: a lazy index for huge files, frame filters,
//! context diffs, and reruns against a server. The replay screen is `crate::tui::replay`.

pub mod context;
pub mod filter;
pub mod index;
pub mod rerun;

pub use index::{Index, IndexOptions, Notify, Progress};

use crate::transcript::TranscriptError;

/// Why a transcript cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The header is missing, foreign or from a newer turnscope.
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Line 1 has no end within the first megabyte.
    #[error(
        "{path}: line 1 is not a complete header (no newline in the first {limit} bytes); not a turnscope transcript, or a recording that has not started yet"
    )]
    HeaderIncomplete {
        /// The file.
        path: String,
        /// Bytes looked at.
        limit: usize,
    },
}
