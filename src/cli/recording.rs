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
    for (n, e) in skipped.iter().enumerate() {
        report_skip(&name, e, n);
    }
    report_skip_total(&name, skipped.len());
    Ok(Recording { header, frames })
}

/// Corrupt lines listed one by one on stderr; the rest are only counted (20,000 bad lines
/// gave 20,000 lines of stderr).
pub const SHOWN_SKIPS: usize = 5;

/// Reports the `n`-th (0-based) corrupt line of `name`, if it is among the first few.
pub fn report_skip(name: &str, e: &impl std::fmt::Display, n: usize) {
    if n < SHOWN_SKIPS {
        eprintln!("turnscope: {name}: {e} (skipped)");
    }
}

/// One summary line for the corrupt lines not listed.
pub fn report_skip_total(name: &str, total: usize) {
    if total > SHOWN_SKIPS {
        let more = total - SHOWN_SKIPS;
        let plural = if more == 1 { "" } else { "s" };
        eprintln!(
            "turnscope: {name}: {more} more corrupt line{plural} skipped ({total} in all; stats --json lists each)"
        );
    }
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

/// After a screen closes: where the session was saved and how to open it again, so a
/// newcomer never has to hunt for the data directory. Silent when nothing was written.
pub fn print_saved(path: Option<&Path>) {
    if let Some(path) = path.filter(|p| p.is_file()) {
        let shown = path.display();
        eprintln!("turnscope: session saved to {shown} (open it again: turnscope replay {shown})");
    }
}
