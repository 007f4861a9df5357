//! The index's background threads: the line scanner and the ledger fold, and their shared state.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::Notify;
use crate::frame::Frame;
use crate::ledger::Ledger;
use crate::transcript::{self, LineError};

/// Bytes read per scan step.
const CHUNK: usize = 4 << 20;
/// How often a followed file's length is re-checked.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Lines folded per ledger lock.
const FOLD_LINES: usize = 4096;
/// Bytes read per fold batch (a single longer line is read whole).
const FOLD_BYTES: u64 = 8 << 20;
/// Skipped lines kept with their reasons (the count goes on).
const KEEP_SKIPPED: usize = 1000;

#[derive(Default)]
pub(super) struct State {
    /// Start offset of every indexed frame line.
    pub(super) starts: Vec<u64>,
    /// End of the last indexed line (exclusive).
    pub(super) end: u64,
    pub(super) file_len: u64,
    pub(super) finished: bool,
    /// The last position is a line without its newline (only once finished).
    pub(super) truncated_tail: bool,
    /// The scanner has read to the current end of the file.
    pub(super) at_eof: bool,
    /// One entry per skipped blank line: the position that followed it.
    pub(super) blanks: Vec<u64>,
    pub(super) error: Option<String>,
    pub(super) folded: u64,
    /// Positions that did not parse, ascending.
    pub(super) bad: Vec<u64>,
    pub(super) skipped: Vec<LineError>,
    pub(super) tokens: bool,
    pub(super) token_pass: Option<u64>,
}

impl State {
    pub(super) fn line_of(&self, pos: u64) -> u64 {
        pos + 2 + self.blanks.partition_point(|&b| b <= pos) as u64
    }

    pub(super) fn span(&self, pos: u64) -> Option<(u64, u64, bool)> {
        let i = usize::try_from(pos).ok()?;
        let start = *self.starts.get(i)?;
        let end = self.starts.get(i + 1).copied().unwrap_or(self.end);
        let last = i + 1 == self.starts.len();
        Some((start, end, !(last && self.truncated_tail)))
    }
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    pub(super) ledger: Mutex<Ledger>,
    pub(super) stop: AtomicBool,
    pub(super) notify: Option<Notify>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn publish(&self) {
        self.changed.notify_all();
        if let Some(notify) = &self.notify {
            notify();
        }
    }

    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Waits for a change or `timeout`, whichever is first.
    pub(super) fn wait<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }
}

pub(super) fn trim_newline(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

pub(super) fn parse(bytes: &[u8], line: u64, terminated: bool) -> Result<Frame, LineError> {
    transcript::parse_line(trim_newline(bytes)).map_err(|reason| LineError {
        line,
        reason: if terminated {
            reason
        } else {
            format!("truncated last line ({reason}); the recording was cut mid-write")
        },
        truncated: !terminated,
    })
}

/// The scanner thread: publishes line starts chunk by chunk; follows the file if asked.
pub(super) fn scan(shared: &Shared, mut file: File, mut pos: u64, follow: bool) {
    let mut buf = vec![0u8; CHUNK];
    let mut line_start = pos;
    let mut prev_byte = b'\n';
    let mut published = 0u64;
    let mut starts = Vec::new();
    let mut blanks = Vec::new();
    loop {
        if shared.stopped() {
            return;
        }
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                shared.lock().error = Some(format!("read error at byte {pos}: {e}"));
                shared.publish();
                return;
            }
        };
        if n == 0 {
            shared.lock().at_eof = true;
            if !follow {
                let mut st = shared.lock();
                if line_start < pos {
                    st.starts.push(line_start);
                    st.truncated_tail = true;
                    st.end = pos;
                }
                st.finished = true;
                drop(st);
                shared.publish();
                return;
            }
            if !wait_for_growth(shared, &file, pos) {
                return;
            }
            continue;
        }
        let chunk = &buf[..n];
        for i in memchr::memchr_iter(b'\n', chunk) {
            let newline = pos + i as u64;
            let before = if i > 0 { chunk[i - 1] } else { prev_byte };
            let len = newline - line_start;
            if len == 0 || (len == 1 && before == b'\r') {
                blanks.push(published + starts.len() as u64);
            } else {
                starts.push(line_start);
            }
            line_start = newline + 1;
        }
        pos += n as u64;
        prev_byte = chunk[n - 1];
        {
            let mut st = shared.lock();
            st.starts.extend_from_slice(&starts);
            st.blanks.append(&mut blanks);
            st.end = line_start;
            st.file_len = st.file_len.max(pos);
            st.at_eof = false;
        }
        published += starts.len() as u64;
        starts.clear();
        shared.publish();
    }
}

/// Waits until the file is longer than `pos`; false when stopped or the file shrank.
fn wait_for_growth(shared: &Shared, file: &File, pos: u64) -> bool {
    loop {
        let st = shared.lock();
        if shared.stopped() {
            return false;
        }
        drop(shared.wait(st, FOLLOW_POLL));
        if shared.stopped() {
            return false;
        }
        match file.metadata() {
            Ok(meta) if meta.len() > pos => return true,
            Ok(meta) if meta.len() < pos => {
                shared.lock().error = Some(format!(
                    "the file shrank from {pos} to {} bytes while following; it was truncated or replaced, reopen it",
                    meta.len()
                ));
                shared.publish();
                return false;
            }
            Ok(_) => {}
            Err(e) => {
                shared.lock().error = Some(format!("cannot follow the file: {e}"));
                shared.publish();
                return false;
            }
        }
    }
}

/// Where a fold batch goes.
enum Target<'a> {
    /// The shared ledger; bad lines are recorded.
    Shared,
    /// A private ledger (the token pass); bad lines were recorded by the first pass.
    Private(&'a mut Ledger),
}

/// The fold thread: folds every indexed line into the shared ledger, then the token pass.
pub(super) fn fold(shared: &Shared, mut file: File, tokens: bool) {
    let mut token_pass_done = !tokens;
    let mut buf = Vec::new();
    loop {
        let (folded, available, finished) = {
            let mut st = shared.lock();
            loop {
                if shared.stopped() {
                    return;
                }
                let available = st.starts.len() as u64;
                let ended = st.finished || st.error.is_some();
                if st.folded < available || ended || (!token_pass_done && st.at_eof) {
                    break (st.folded, available, ended);
                }
                st = shared.wait(st, FOLLOW_POLL);
            }
        };
        if folded < available {
            let Some(next) = fold_batch(shared, &mut file, &mut buf, folded, &mut Target::Shared)
            else {
                return;
            };
            shared.lock().folded = next;
            shared.publish();
            continue;
        }
        if !token_pass_done {
            token_pass_done = true;
            let mut ledger = Ledger::new();
            let mut at = 0;
            shared.lock().token_pass = Some(0);
            while at < folded {
                let Some(next) = fold_batch(
                    shared,
                    &mut file,
                    &mut buf,
                    at,
                    &mut Target::Private(&mut ledger),
                ) else {
                    return;
                };
                at = next.min(folded);
                shared.lock().token_pass = Some(at);
                shared.publish();
            }
            *shared.ledger() = ledger;
            let mut st = shared.lock();
            st.tokens = true;
            st.token_pass = None;
            drop(st);
            shared.publish();
            continue;
        }
        if finished {
            return;
        }
    }
}

/// Reads and folds a batch of lines from position `from`; returns the next position, or `None`
/// when stopped.
fn fold_batch(
    shared: &Shared,
    file: &mut File,
    buf: &mut Vec<u8>,
    from: u64,
    target: &mut Target<'_>,
) -> Option<u64> {
    let (spans, lines) = {
        let st = shared.lock();
        let mut spans = Vec::with_capacity(FOLD_LINES);
        let mut pos = from;
        while spans.len() < FOLD_LINES {
            let Some(span) = st.span(pos) else { break };
            if !spans.is_empty() && span.1 - spans_start(&spans) > FOLD_BYTES {
                break;
            }
            spans.push(span);
            pos += 1;
        }
        let lines: Vec<u64> = (from..pos).map(|p| st.line_of(p)).collect();
        (spans, lines)
    };
    if shared.stopped() {
        return None;
    }
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return Some(from);
    };
    let (start, end) = (first.0, last.1);
    let len = usize::try_from(end - start).unwrap_or(usize::MAX);
    buf.resize(len, 0);
    let read = file
        .seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(buf));
    if let Err(e) = read {
        shared.lock().error = Some(format!(
            "read error at byte {start}: {e}; was the file truncated or replaced?"
        ));
        shared.publish();
        return None;
    }
    let mut frames = Vec::with_capacity(spans.len());
    let mut bad = Vec::new();
    for (i, (&(s, e, terminated), &line)) in spans.iter().zip(&lines).enumerate() {
        let pos = from + i as u64;
        let bytes = &buf[(s - start) as usize..(e - start) as usize];
        match parse(bytes, line, terminated) {
            Ok(frame) => frames.push(frame),
            Err(err) => bad.push((pos, err)),
        }
    }
    match target {
        Target::Shared => {
            let mut ledger = shared.ledger();
            for frame in &frames {
                ledger.push(frame);
            }
            drop(ledger);
            if !bad.is_empty() {
                let mut st = shared.lock();
                for (pos, err) in bad {
                    st.bad.push(pos);
                    if st.skipped.len() < KEEP_SKIPPED {
                        st.skipped.push(err);
                    }
                }
            }
        }
        Target::Private(ledger) => {
            // Bad lines are the same as in the first pass, already recorded. The token pass
            // counts the batch's texts on all cores first.
            ledger.push_batch(&frames);
        }
    }
    Some(from + spans.len() as u64)
}

fn spans_start(spans: &[(u64, u64, bool)]) -> u64 {
    spans.first().map_or(0, |s| s.0)
}
