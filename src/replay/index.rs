//! A lazy index of a transcript: line offsets found in the background, frames parsed on demand.
//!
//! Opening reads only the header. One thread scans the file in big chunks with `memchr`,
//! publishing the start offset of every complete line; a second folds the ledger over the
//! lines already indexed (bytes only first, then optionally again with tokens, swapped in when
//! it has caught up). `get(n)` reads and parses just line `n`, so navigation never waits for
//! either thread. With `follow`, the scanner keeps polling the file's length like `tail -f`;
//! an unterminated last line is published only once its newline arrives.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

mod worker;

use worker::{Shared, State, parse};

use super::ReplayError;
use crate::ledger::Ledger;
use crate::transcript::{self, Entry, Header, LineError};

/// Longest header line accepted.
const HEADER_LIMIT: usize = 1 << 20;

/// Called (from a background thread) whenever the index or the ledger advanced.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// How to open an index.
#[derive(Clone, Default)]
pub struct IndexOptions {
    /// Keep watching the file for appended lines (a live recording).
    pub follow: bool,
    /// After the byte-only fold, fold again with o200k token counts and swap that ledger in.
    pub tokens: bool,
    /// Woken on progress; keep it cheap (e.g. send a unit message).
    pub notify: Option<Notify>,
}

impl std::fmt::Debug for IndexOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexOptions")
            .field("follow", &self.follow)
            .field("tokens", &self.tokens)
            .field("notify", &self.notify.is_some())
            .finish()
    }
}

/// How far the background work has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file seen so far.
    pub file_bytes: u64,
    /// Bytes up to the end of the last indexed line.
    pub indexed_bytes: u64,
    /// Frame lines indexed (positions `0..frames`).
    pub frames: u64,
    /// The scan reached the end and stopped (never true while following).
    pub indexed: bool,
    /// Following the file for appended lines.
    pub following: bool,
    /// Positions the current ledger has folded.
    pub folded: u64,
    /// Whether the current ledger counts tokens.
    pub tokens: bool,
    /// A token pass was asked for (it runs once the byte-only fold has caught up).
    pub tokens_wanted: bool,
    /// Positions folded by a token pass still running.
    pub token_pass: Option<u64>,
    /// Lines that could not be read as frames.
    pub skipped: u64,
    /// Bytes of an unterminated last line waiting for its newline.
    pub pending_bytes: u64,
    /// The scan stopped on this error.
    pub error: Option<String>,
}

impl Progress {
    /// The index and the ledger are final (nothing more will change unless following).
    pub fn complete(&self) -> bool {
        (self.indexed || self.error.is_some())
            && self.folded == self.frames
            && self.token_pass.is_none()
            && (self.tokens || !self.tokens_wanted || self.error.is_some())
    }
}

/// A transcript opened for random access while it is indexed in the background.
pub struct Index {
    name: String,
    header: Header,
    file: Mutex<File>,
    shared: Arc<Shared>,
    following: bool,
    tokens_wanted: bool,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("name", &self.name)
            .field("progress", &self.progress())
            .finish()
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.changed.notify_all();
    }
}

impl Index {
    /// Opens `path`: reads and checks the header, then starts the background scan and fold.
    pub fn open(path: &Path, options: IndexOptions) -> Result<Index, ReplayError> {
        let name = path.display().to_string();
        let io = |source| ReplayError::Io {
            path: name.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let (header, header_len) = read_header(&mut file, &name)?;
        let mut scan_file = File::open(path).map_err(io)?;
        scan_file.seek(SeekFrom::Start(header_len)).map_err(io)?;
        let fold_file = File::open(path).map_err(io)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                end: header_len,
                file_len: header_len,
                ..State::default()
            }),
            changed: Condvar::new(),
            ledger: Mutex::new(Ledger::without_tokens()),
            stop: AtomicBool::new(false),
            notify: options.notify.clone(),
        });
        let scanner = Arc::clone(&shared);
        let follow = options.follow;
        std::thread::Builder::new()
            .name("turnscope-index".into())
            .spawn(move || worker::scan(&scanner, scan_file, header_len, follow))
            .map_err(io)?;
        let folder = Arc::clone(&shared);
        let tokens = options.tokens;
        std::thread::Builder::new()
            .name("turnscope-fold".into())
            .spawn(move || worker::fold(&folder, fold_file, tokens))
            .map_err(io)?;
        Ok(Index {
            name,
            header,
            file: Mutex::new(file),
            shared,
            following: follow,
            tokens_wanted: tokens,
        })
    }

    /// The file name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header line.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Frame lines indexed so far.
    pub fn len(&self) -> u64 {
        self.shared.lock().starts.len() as u64
    }

    /// True while no frame line is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How far indexing and folding have come.
    pub fn progress(&self) -> Progress {
        let st = self.shared.lock();
        let frames = st.starts.len() as u64;
        Progress {
            file_bytes: st.file_len,
            indexed_bytes: st.end,
            frames,
            indexed: st.finished,
            following: self.following && st.error.is_none(),
            folded: st.folded,
            tokens: st.tokens,
            tokens_wanted: self.tokens_wanted,
            token_pass: st.token_pass,
            skipped: st.bad.len() as u64,
            pending_bytes: st.file_len.saturating_sub(st.end),
            error: st.error.clone(),
        }
    }

    /// Reads and parses line `pos` (0 = the first frame line), whatever the background threads do.
    pub fn get(&self, pos: u64) -> Result<Entry, LineError> {
        let (span, line) = {
            let st = self.shared.lock();
            (st.span(pos), st.line_of(pos))
        };
        let Some((start, end, terminated)) = span else {
            return Err(LineError {
                line,
                reason: format!("no frame {pos}: only {} indexed so far", self.len()),
                truncated: false,
            });
        };
        let bytes = self.read_span(start, end).map_err(|e| LineError {
            line,
            reason: format!("read error ({e}); was the file truncated or replaced?"),
            truncated: false,
        })?;
        parse(&bytes, line, terminated).map(|frame| Entry {
            line,
            offset: start,
            frame,
        })
    }

    /// The raw bytes of line `pos`, without its newline (for export and search).
    pub fn raw(&self, pos: u64) -> Option<Vec<u8>> {
        let (start, end, _) = self.shared.lock().span(pos)?;
        let bytes = self.read_span(start, end).ok()?;
        Some(worker::trim_newline(&bytes).to_vec())
    }

    fn read_span(&self, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
        let len = usize::try_from(end.saturating_sub(start)).map_err(std::io::Error::other)?;
        let mut buf = vec![0; len];
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// The first position strictly after `from` (or before it, backwards) whose line (without its
    /// newline) satisfies `hit`, looking at no more than `budget` lines. Lines are read in
    /// blocks, so scanning a huge file costs a few large reads, not one per line.
    pub fn find(
        &self,
        from: Option<u64>,
        forward: bool,
        budget: u64,
        mut hit: impl FnMut(u64, &[u8]) -> bool,
    ) -> Option<u64> {
        // Blocks grow from a screenful to 4096 lines: a short look stays a small read.
        const MAX_BLOCK: u64 = 4096;
        let mut block_lines = 64u64;
        let len = self.len();
        let mut looked = 0u64;
        // `lo..hi` is the next block to look at.
        let mut next = match (from, forward) {
            (Some(p), true) => p.saturating_add(1),
            (None, true) => 0,
            (Some(p), false) => p.min(len),
            (None, false) => len,
        };
        while looked < budget {
            let (lo, hi) = if forward {
                (next, next.saturating_add(block_lines).min(len))
            } else {
                (next.saturating_sub(block_lines), next)
            };
            block_lines = (block_lines * 2).min(MAX_BLOCK);
            if lo >= hi {
                return None;
            }
            let spans: Vec<(u64, u64)> = {
                let st = self.shared.lock();
                (lo..hi)
                    .filter_map(|p| st.span(p).map(|s| (s.0, s.1)))
                    .collect()
            };
            let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
                return None;
            };
            let block = self.read_span(first.0, last.1).ok()?;
            let line = |i: usize| {
                let (s, e) = spans[i];
                let bytes = &block[(s - first.0) as usize..(e - first.0) as usize];
                worker::trim_newline(bytes)
            };
            let order: Box<dyn Iterator<Item = usize>> = if forward {
                Box::new(0..spans.len())
            } else {
                Box::new((0..spans.len()).rev())
            };
            for i in order {
                looked += 1;
                if hit(lo + i as u64, line(i)) {
                    return Some(lo + i as u64);
                }
                if looked >= budget {
                    return None;
                }
            }
            next = if forward { hi } else { lo };
        }
        None
    }

    /// Runs `f` on the ledger as folded so far.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.shared.ledger())
    }

    /// The position of the ledger's frame `k` (the ledger skips lines that do not parse).
    pub fn position_of_frame(&self, k: u64) -> u64 {
        let st = self.shared.lock();
        let mut pos = k;
        for &bad in &st.bad {
            if bad <= pos {
                pos += 1;
            } else {
                break;
            }
        }
        pos
    }

    /// The ledger's frame number of position `pos`, `None` for a line that did not parse.
    pub fn frame_of_position(&self, pos: u64) -> Option<u64> {
        let st = self.shared.lock();
        let before = st.bad.partition_point(|&b| b < pos);
        (st.bad.get(before) != Some(&pos)).then(|| pos - before as u64)
    }

    /// The 1-based file line of position `pos`.
    pub fn line_of(&self, pos: u64) -> u64 {
        self.shared.lock().line_of(pos)
    }

    /// Lines skipped so far (the first thousand, with reasons).
    pub fn skipped(&self) -> Vec<LineError> {
        self.shared.lock().skipped.clone()
    }

    /// Blocks until at least `n` lines are indexed, the scan ends, or `timeout` passes; returns
    /// the number indexed.
    pub fn wait_frames(&self, n: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while (st.starts.len() as u64) < n && !st.finished && st.error.is_none() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            st = self.shared.wait(st, left);
        }
        st.starts.len() as u64
    }

    /// Blocks until `done(progress)` holds or `timeout` passes; returns the last progress.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&Progress) -> bool) -> Progress {
        let deadline = Instant::now() + timeout;
        loop {
            let progress = self.progress();
            if done(&progress) {
                return progress;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return progress;
            };
            let st = self.shared.lock();
            // Re-check under the lock so a change between `progress()` and here is not missed.
            let unchanged = st.starts.len() as u64 == progress.frames
                && st.folded == progress.folded
                && st.token_pass == progress.token_pass
                && st.finished == progress.indexed
                && st.tokens == progress.tokens
                && st.file_len == progress.file_bytes;
            if unchanged {
                drop(self.shared.wait(st, left));
            }
        }
    }

    /// Blocks until the index and ledger are final (see [`Progress::complete`]).
    pub fn wait_complete(&self, timeout: Duration) -> Progress {
        self.wait_until(timeout, Progress::complete)
    }
}

/// Reads line 1 and checks it is a header this build reads; returns it and its length.
fn read_header(file: &mut File, name: &str) -> Result<(Header, u64), ReplayError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ReplayError::Io {
                    path: name.to_owned(),
                    source,
                });
            }
        };
        let old = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = memchr::memchr(b'\n', &buf[old..]) {
            let line = &buf[..=old + i];
            let reader = transcript::from_reader(line, name)?;
            return Ok((reader.header().clone(), line.len() as u64));
        }
        if n == 0 && buf.is_empty() {
            return Err(transcript::TranscriptError::Empty {
                path: name.to_owned(),
            }
            .into());
        }
        if n == 0 || buf.len() > HEADER_LIMIT {
            // An unterminated header may still be a valid (if cut) one: say what it is.
            transcript::from_reader(&buf[..], name)?;
            return Err(ReplayError::HeaderIncomplete {
                path: name.to_owned(),
                limit: HEADER_LIMIT,
            });
        }
    }
}
