//! Opens any recording a subcommand reads: a turnscope transcript or a HAR (by its `.har`
//! name or its content), whole, with one stderr line per thing skipped.

use std::path::Path;

use crate::frame::Frame;
use crate::har;
use crate::transcript::{self, Header};

/// A recording read whole.
pub struct Recording {
    /// Its header (`source: "har"` for a HAR).
    pub header: Header,
    /// Every frame, in order.
    pub frames: Vec<Frame>,
}

/// Reads `path`; skipped lines or entries are reported on stderr, one line each.
pub fn read(path: &Path) -> anyhow::Result<Recording> {
    let name = path.display().to_string();
    if har::is_har(path) {
        let loaded = har::load(path)?;
        report_har(&name, &loaded.summary);
        return Ok(Recording {
            header: loaded.header,
            frames: loaded.frames,
        });
    }
    let (header, frames, skipped) = transcript::read_all(path)?;
    for e in &skipped {
        eprintln!("turnscope: {name}: {e} (skipped)");
    }
    Ok(Recording { header, frames })
}

/// Says on stderr what a HAR held, what was skipped, and what its timing limits.
pub fn report_har(name: &str, summary: &har::Summary) {
    let creator = summary.creator.as_deref().unwrap_or("an unnamed tool");
    eprintln!(
        "turnscope: {name}: HAR from {creator}: {}",
        summary.describe()
    );
    eprintln!("turnscope: {name}: {}", har::TIMING_NOTE);
}
