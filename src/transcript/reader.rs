//! Streams a transcript: one frame at a time, corrupt lines reported and skipped.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{FORMAT_VERSION, Header, TranscriptError};
use crate::frame::{Dir, Frame, FrameRef, Payload, PayloadRef};

/// A line that could not be read as a frame; the reader goes on after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
    /// True for an unterminated last line (a recording cut mid-write).
    pub truncated: bool,
}

/// One frame with where it stands in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's start.
    pub offset: u64,
    /// The frame.
    pub frame: Frame,
}

/// An iterator over a transcript's frames.
pub struct Reader<R> {
    input: R,
    header: Header,
    line_no: u64,
    offset: u64,
    buf: Vec<u8>,
    /// The start of a line that [`Reader::read_lines`]'s last read cut off: the next batch
    /// begins with it.
    carry: Vec<u8>,
    /// Whether [`Reader::read_lines`] has met the end of the input (or a read error).
    ended: bool,
}

impl Reader<BufReader<File>> {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<Self, TranscriptError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| TranscriptError::Io {
            path: name.clone(),
            source,
        })?;
        Reader::new(BufReader::with_capacity(1 << 16, file), &name)
    }
}

impl<R: BufRead> Reader<R> {
    /// Wraps any buffered input; `name` is used in errors.
    pub fn new(mut input: R, name: &str) -> Result<Self, TranscriptError> {
        let mut buf = Vec::new();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|source| TranscriptError::Io {
                path: name.to_owned(),
                source,
            })?;
        if n == 0 {
            return Err(TranscriptError::Empty {
                path: name.to_owned(),
            });
        }
        let not_transcript = || TranscriptError::NotATranscript {
            path: name.to_owned(),
        };
        let value: serde_json::Value =
            serde_json::from_slice(trim_newline(&buf)).map_err(|_| not_transcript())?;
        let version = value
            .get("turnscope")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(not_transcript)?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(TranscriptError::FutureVersion {
                path: name.to_owned(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let header: Header = serde_json::from_value(value).map_err(|_| not_transcript())?;
        Ok(Reader {
            input,
            header,
            line_no: 1,
            offset: n as u64,
            buf,
            carry: Vec::new(),
            ended: false,
        })
    }

    /// The header line.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes consumed so far (for progress).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// A line read but not parsed yet: where it stands and where its bytes are in a buffer.
struct RawLine {
    line: u64,
    offset: u64,
    range: std::ops::Range<usize>,
    terminated: bool,
}

impl RawLine {
    /// Parses the line's bytes (from the buffer it was read into) into an entry.
    fn parse(&self, buf: &[u8]) -> Result<Entry, LineError> {
        self.parse_ref(buf).map(|frame| Entry {
            line: self.line,
            offset: self.offset,
            frame: frame.into_frame(),
        })
    }

    /// Parses the line's bytes in place.
    fn parse_ref<'a>(&self, buf: &'a [u8]) -> Result<LineRef<'a>, LineError> {
        let line = trim_newline(buf.get(self.range.clone()).unwrap_or_default());
        parse_line_ref(line).map_err(|reason| LineError {
            line: self.line,
            reason: if self.terminated {
                reason
            } else {
                format!("truncated last line ({reason}); the recording was cut mid-write")
            },
            truncated: !self.terminated,
        })
    }
}

impl<R: BufRead> Reader<R> {
    /// Appends the next non-blank line to `buf`; `None` at the end of the input.
    fn read_raw(&mut self, buf: &mut Vec<u8>) -> Option<Result<RawLine, LineError>> {
        loop {
            let begin = buf.len();
            let n = match self.input.read_until(b'\n', buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(begin);
                    self.line_no += 1;
                    return Some(Err(LineError {
                        line: self.line_no,
                        reason: format!("read error: {e}"),
                        truncated: false,
                    }));
                }
            };
            match self.line_at(buf, begin..begin + n) {
                Some(line) => return Some(Ok(line)),
                None => buf.truncate(begin),
            }
        }
    }

    /// The next lines, about `max_bytes` of them (at least one line), parsed in parallel
    /// across all cores and returned in file order; empty at the end of the input.
    pub fn next_batch(&mut self, max_bytes: usize) -> Vec<Result<Entry, LineError>> {
        let mut buf = std::mem::take(&mut self.buf);
        let lines = self.read_lines(max_bytes, &mut buf);
        let entries = lines
            .0
            .par_iter()
            .map(|raw| match raw {
                Ok(raw) => raw.parse(&buf),
                Err(e) => Err(e.clone()),
            })
            .collect();
        self.buf = buf;
        entries
    }

    /// Reads the next lines, as many whole lines as fit in `max_bytes` (at least one line),
    /// into `buf` without parsing them: [`RawLines::parse`] does, borrowing `buf`, so a caller
    /// with two buffers can read one batch while it folds the other. Bytes go from the input
    /// straight into `buf` (kept at its length: only the lines' ranges hold data), read in
    /// large blocks and cut at newlines, not copied line by line through the input's buffer.
    /// A reader read in batches is read only in batches (the line a block ends in waits in the
    /// reader for the next one).
    pub fn read_lines(&mut self, max_bytes: usize, buf: &mut Vec<u8>) -> RawLines {
        let mut lines = Vec::new();
        let size = max_bytes.max(self.carry.len()).max(1);
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let mut filled = self.carry.len();
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        // `start`: where the next line begins; `from`: where its newline is looked for.
        let (mut start, mut from) = (0, 0);
        loop {
            while let Some(n) = memchr::memchr(b'\n', &buf[from..filled]) {
                let end = from + n + 1;
                self.take_line(&mut lines, buf, start..end);
                (start, from) = (end, end);
            }
            from = filled;
            if self.ended {
                break;
            }
            if filled == buf.len() {
                if !lines.is_empty() {
                    break;
                }
                // One line longer than the buffer.
                buf.resize(buf.len() * 2, 0);
            }
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => self.ended = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The line being read is lost; what was read before it stands.
                    self.ended = true;
                    filled = start;
                    self.line_no += 1;
                    lines.push(Err(LineError {
                        line: self.line_no,
                        reason: format!("read error: {e}"),
                        truncated: false,
                    }));
                }
            }
        }
        if self.ended && start < filled {
            // The last line, without its newline.
            self.take_line(&mut lines, buf, start..filled);
            start = filled;
        }
        self.carry.extend_from_slice(&buf[start..filled]);
        RawLines(lines)
    }

    /// Counts the line at `range` of `buf` and keeps it unless it is blank.
    fn take_line(
        &mut self,
        lines: &mut Vec<Result<RawLine, LineError>>,
        buf: &[u8],
        range: std::ops::Range<usize>,
    ) {
        lines.extend(self.line_at(buf, range).map(Ok));
    }

    /// Counts the line at `range` of `buf` (its number, its offset in the input); the line,
    /// unless it is blank.
    fn line_at(&mut self, buf: &[u8], range: std::ops::Range<usize>) -> Option<RawLine> {
        let offset = self.offset;
        self.offset += range.len() as u64;
        self.line_no += 1;
        if buf[range.clone()].iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some(RawLine {
            line: self.line_no,
            offset,
            terminated: buf[range.end - 1] == b'\n',
            range,
        })
    }
}

/// Lines read into a buffer, not parsed yet (see [`Reader::read_lines`]).
pub struct RawLines(Vec<Result<RawLine, LineError>>);

impl RawLines {
    /// True at the end of the input.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Parses the lines in place, in parallel across all cores, in file order; `buf` is the
    /// buffer they were read into.
    pub fn parse<'a>(&self, buf: &'a [u8]) -> Vec<Result<LineRef<'a>, LineError>> {
        self.0.par_iter().map(|raw| parse_raw(raw, buf)).collect()
    }

    /// Parses the lines in place on this thread, in file order (see [`RawLines::parse`]).
    pub fn parse_here<'a>(
        &self,
        buf: &'a [u8],
    ) -> impl Iterator<Item = Result<LineRef<'a>, LineError>> {
        self.0.iter().map(move |raw| parse_raw(raw, buf))
    }
}

/// A line read into `buf`, parsed, or why it could not be read.
fn parse_raw<'a>(
    raw: &Result<RawLine, LineError>,
    buf: &'a [u8],
) -> Result<LineRef<'a>, LineError> {
    match raw {
        Ok(raw) => raw.parse_ref(buf),
        Err(e) => Err(e.clone()),
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Entry, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let entry = self
            .read_raw(&mut buf)
            .map(|raw| raw.and_then(|raw| raw.parse(&buf)));
        self.buf = buf;
        entry
    }
}

fn trim_newline(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

#[derive(Deserialize)]
struct Line<'a> {
    t_us: u64,
    #[serde(default, borrow)]
    wall: Cow<'a, str>,
    #[serde(default)]
    conn: u32,
    dir: Dir,
    #[serde(borrow, default)]
    frame: Option<&'a RawValue>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    binary: Option<String>,
}

/// A frame line parsed in place: its JSON payload borrowed from the line, copied nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRef<'a> {
    /// Monotonic microseconds.
    pub t_us: u64,
    /// Wall-clock time, as recorded.
    pub wall: Cow<'a, str>,
    /// Connection.
    pub conn: u32,
    /// Direction.
    pub dir: Dir,
    payload: LinePayload<'a>,
}

/// A line's payload: JSON borrowed; a text frame decoded from its JSON string; hex decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LinePayload<'a> {
    Json(&'a str),
    Text(Cow<'a, str>),
    Binary(Vec<u8>),
}

impl<'a> LineRef<'a> {
    /// The frame, still borrowing the line's text.
    pub fn into_frame_ref(self) -> FrameRef<'a> {
        FrameRef {
            t_us: self.t_us,
            conn: self.conn,
            dir: self.dir,
            payload: match self.payload {
                LinePayload::Json(s) => PayloadRef::Json(s),
                LinePayload::Text(s) => PayloadRef::Text(s),
                LinePayload::Binary(b) => PayloadRef::Binary(Cow::Owned(b)),
            },
        }
    }

    /// The frame, owned.
    pub fn into_frame(self) -> Frame {
        Frame {
            t_us: self.t_us,
            wall: self.wall.into_owned(),
            conn: self.conn,
            dir: self.dir,
            payload: match self.payload {
                LinePayload::Json(s) => Payload::Json(s.to_owned()),
                LinePayload::Text(s) => Payload::Text(s.into_owned()),
                LinePayload::Binary(b) => Payload::Binary(b),
            },
        }
    }
}

/// Parses one frame line.
pub(crate) fn parse_line(line: &[u8]) -> Result<Frame, String> {
    parse_line_ref(line).map(LineRef::into_frame)
}

/// Parses one frame line in place (see [`LineRef`]).
pub fn parse_line_ref(line: &[u8]) -> Result<LineRef<'_>, String> {
    // SIMD first (std's check cost ~1 instruction a byte of every line); std only to word the
    // error, the same as before.
    let text = simdutf8::basic::from_utf8(line)
        .or_else(|_| std::str::from_utf8(line))
        .map_err(|e| format!("not UTF-8 ({e})"))?;
    // The usual line in one checking pass; serde reads the rest (and words every error).
    if let Some(fast) = super::fast::parse(text) {
        return Ok(LineRef {
            t_us: fast.t_us,
            wall: fast.wall.map_or_else(Cow::default, Cow::Borrowed),
            conn: fast.conn,
            dir: fast.dir,
            payload: LinePayload::Json(fast.frame),
        });
    }
    parse_line_serde(text)
}

/// Parses one frame line with serde (what [`parse_line_ref`] does when the fast pass declines).
pub(super) fn parse_line_serde(text: &str) -> Result<LineRef<'_>, String> {
    let parsed: Line<'_> =
        serde_json::from_str(text).map_err(|e| format!("not a frame line: {e}"))?;
    let payload = match (parsed.frame, parsed.text, parsed.binary) {
        (Some(raw), _, _) => LinePayload::Json(raw.get()),
        (None, Some(text), _) => LinePayload::Text(text),
        (None, None, Some(hex)) => LinePayload::Binary(unhex(&hex).ok_or("bad hex in \"binary\"")?),
        (None, None, None) => return Err("line has no \"frame\", \"text\" or \"binary\"".into()),
    };
    Ok(LineRef {
        t_us: parsed.t_us,
        wall: parsed.wall,
        conn: parsed.conn,
        dir: parsed.dir,
        payload,
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Reads a whole transcript into memory: frames, plus the lines that were skipped.
pub fn read_all(path: &Path) -> Result<(Header, Vec<Frame>, Vec<LineError>), TranscriptError> {
    let reader = Reader::open(path)?;
    let header = reader.header().clone();
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for entry in reader {
        match entry {
            Ok(e) => frames.push(e.frame),
            Err(e) => errors.push(e),
        }
    }
    Ok((header, frames, errors))
}

/// Reads everything from `input` (used by tests over in-memory data).
pub fn from_reader(
    input: impl Read,
    name: &str,
) -> Result<Reader<BufReader<impl Read>>, TranscriptError> {
    Reader::new(BufReader::new(input), name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::writer::encode_line;

    fn frame(dir: Dir, payload: Payload) -> Frame {
        Frame {
            t_us: 42,
            wall: "2026-01-01T00:00:00Z".into(),
            conn: 1,
            dir,
            payload,
        }
    }

    #[test]
    fn every_payload_kind_roundtrips_byte_exact() {
        for payload in [
            Payload::Json(r#"{"type":"response.create", "spaced" : 1}"#.into()),
            Payload::Text("{\n\"multi\":\"line\"}".into()),
            Payload::Text("not json at all".into()),
            Payload::Binary(vec![0, 1, 254, 255]),
        ] {
            let f = frame(Dir::Recv, payload);
            let line = encode_line(&f);
            assert_eq!(parse_line(line.as_bytes()).unwrap(), f);
        }
    }

    #[test]
    fn corrupt_and_truncated_lines_are_reported_and_skipped() {
        let good = encode_line(&frame(Dir::Sent, Payload::Json("{\"type\":\"a\"}".into())));
        let data = format!(
            "{{\"turnscope\":1,\"created\":\"x\",\"source\":\"live\"}}\n{good}\ngarbage\n{good}\n{{\"t_us\":1,\"di"
        );
        let reader = from_reader(data.as_bytes(), "mem").unwrap();
        let items: Vec<_> = reader.collect();
        assert_eq!(items.len(), 4);
        assert!(items[0].is_ok() && items[2].is_ok());
        let bad = items[1].as_ref().unwrap_err();
        assert_eq!((bad.line, bad.truncated), (3, false));
        let cut = items[3].as_ref().unwrap_err();
        assert_eq!((cut.line, cut.truncated), (5, true));
    }

    #[test]
    fn batches_read_the_same_entries_as_the_iterator() {
        let good = encode_line(&frame(Dir::Sent, Payload::Json("{\"type\":\"a\"}".into())));
        let data = format!(
            "{{\"turnscope\":1,\"created\":\"x\",\"source\":\"live\"}}\n{good}\n\n garbage\n{good}\n{good}\n{{\"t_us\":1,\"di"
        );
        let one: Vec<_> = from_reader(data.as_bytes(), "mem").unwrap().collect();
        assert_eq!(one.len(), 5);
        for max in [1, 60, 1 << 20] {
            let mut reader = from_reader(data.as_bytes(), "mem").unwrap();
            assert_eq!(batched(&mut reader, max), one, "batches of {max} bytes");
        }
    }

    /// Every entry of `reader`, read in batches of `max` bytes.
    fn batched<R: BufRead>(reader: &mut Reader<R>, max: usize) -> Vec<Result<Entry, LineError>> {
        let mut entries = Vec::new();
        loop {
            let batch = reader.next_batch(max);
            if batch.is_empty() {
                return entries;
            }
            entries.extend(batch);
        }
    }

    /// Input that gives at most a few bytes a read, as a pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = out.len().min(self.0.len()).min(5);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Batches are read in blocks cut at newlines: a line cut by a block's end, a line longer
    /// than a batch, short reads, blank and CRLF lines and an unterminated last line all give
    /// the entries (numbers and offsets too) that reading line by line gives.
    #[test]
    fn batches_cut_anywhere_read_the_same_entries() {
        let mut data = String::from("{\"turnscope\":1,\"created\":\"x\",\"source\":\"live\"}\n");
        for i in 0..60 {
            let text = "x".repeat(i * 37 % 300);
            let line = encode_line(&frame(
                Dir::Recv,
                Payload::Json(format!("{{\"t\":\"{text}\"}}")),
            ));
            data.push_str(&line);
            data.push_str(match i % 7 {
                0 => "\r\n",
                1 => "\n \t\n",
                2 => "\ngarbage\n",
                _ => "\n",
            });
        }
        let long = "y".repeat(5000);
        data.push_str(&encode_line(&frame(
            Dir::Sent,
            Payload::Json(format!("{{\"l\":\"{long}\"}}")),
        )));
        data.push_str("\n\n{\"t_us\":1,\"di");
        let one: Vec<_> = from_reader(data.as_bytes(), "mem").unwrap().collect();
        assert_eq!(one.len(), 60 + 60 / 7 + 1 + 2);
        for max in [1, 7, 100, 1000, 4096, 1 << 20] {
            for trickle in [false, true] {
                let mut reader = if trickle {
                    let input = BufReader::with_capacity(3, Trickle(data.as_bytes()));
                    Reader::new(Box::new(input) as Box<dyn BufRead>, "mem").unwrap()
                } else {
                    Reader::new(Box::new(data.as_bytes()) as Box<dyn BufRead>, "mem").unwrap()
                };
                assert_eq!(
                    batched(&mut reader, max),
                    one,
                    "batches of {max} bytes, trickled: {trickle}"
                );
            }
        }
    }

    #[test]
    fn rejects_non_transcripts_and_future_versions() {
        assert!(matches!(
            from_reader(&b""[..], "f"),
            Err(TranscriptError::Empty { .. })
        ));
        assert!(matches!(
            from_reader(&b"hello\n"[..], "f"),
            Err(TranscriptError::NotATranscript { .. })
        ));
        let future = b"{\"turnscope\":9,\"created\":\"x\",\"source\":\"live\"}\n";
        assert!(matches!(
            from_reader(&future[..], "f"),
            Err(TranscriptError::FutureVersion { found: 9, .. })
        ));
    }
}
