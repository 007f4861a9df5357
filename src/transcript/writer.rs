//! Writes transcripts: one line per frame, flushed per line, mode 0600, secrets scrubbed.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::value::RawValue;

use super::Header;
use crate::frame::{Dir, Frame, Payload, Recorded, Recording};
use crate::secrets::Secrets;

/// Bytes of lines gathered before they go to the OS in one write (see [`Writer::append`]).
const WRITE_BUFFER: usize = 64 << 10;

/// Appends frames to a transcript file.
#[derive(Debug)]
pub struct Writer {
    out: BufWriter<File>,
    path: PathBuf,
    secrets: Secrets,
    /// The line being written, reused so a frame costs no allocation of its own.
    line: String,
    /// Bytes handed to `out` since the file began (the header line included): the next line's
    /// offset in the file.
    written: u64,
    /// The file opened for reading, for [`Recorded`] places; `None` if it could not be opened.
    recording: Option<Arc<Recording>>,
}

impl Writer {
    /// Creates (or truncates) `path` with mode 0600 and writes the header.
    ///
    /// `secrets` (e.g. the API key) are replaced by `[REDACTED]` wherever they appear.
    pub fn create(path: &Path, header: &Header, secrets: &[String]) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = crate::secrets::create_private(path)?;
        // Opened now, on the file just made: a reader of [`Recorded`] places reads this one.
        // Only a regular file reads back what was written (not `/dev/null`, a FIFO, a tty).
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        let recording = File::open(path).ok().filter(|_| regular).map(|file| {
            Arc::new(Recording {
                file,
                path: path.to_owned(),
            })
        });
        let mut writer = Writer {
            // Room for a burst of small lines: the proxy's recorder writes a batch with one
            // syscall (larger lines go straight through).
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            path: path.to_owned(),
            secrets: Secrets::new(secrets),
            line: String::new(),
            written: 0,
            recording,
        };
        let line = serde_json::to_string(header).map_err(io::Error::other)?;
        writer.append_line(&line)?;
        writer.flush()?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Masks `secret` in every line written from now on (the proxy learns keys per connection).
    pub fn add_secret(&mut self, secret: &str) {
        self.secrets.add(secret);
    }

    /// Appends one frame and flushes it to the OS.
    pub fn write(&mut self, frame: &Frame) -> io::Result<()> {
        self.append(frame)?;
        self.flush()
    }

    /// Appends one frame without flushing it: a caller writing a burst appends each frame, then
    /// calls [`Writer::flush`] once, so the burst reaches the OS in one write and every line is
    /// complete in the file when `flush` returns.
    pub(crate) fn append(&mut self, frame: &Frame) -> io::Result<()> {
        let line = encode_line(frame);
        self.append_line(&line)
    }

    /// [`Writer::append`] for a frame whose payload the caller already redacted with (at least)
    /// this writer's secrets and left unchanged, so a `Json` payload is still the one-line JSON
    /// it was classified as: the line is neither re-validated nor redacted a second time (the
    /// proxy's recorder, on 64 KB frames, would otherwise parse each one twice). The bytes
    /// written are the same as [`Writer::append`]'s.
    ///
    /// Such a line holds the frame's JSON and (unless it needed escaping) its wall time byte for
    /// byte: where they are in the file comes back, for a reader to read them from there. The
    /// place is only good once [`Writer::flush`] has succeeded.
    pub(crate) fn append_redacted(&mut self, frame: &Frame) -> io::Result<Option<Recorded>> {
        let Payload::Json(json) = &frame.payload else {
            self.append(frame)?;
            return Ok(None);
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let wall = push_head(&mut line, frame);
        line.push_str("\"frame\":");
        let body = line.len();
        line.push_str(json);
        line.push_str("}\n");
        let start = self.written;
        let result = self.put(line.as_bytes());
        self.line = line;
        result?;
        Ok(match (wall, &self.recording) {
            (Some(wall), Some(recording)) => Some(Recorded {
                recording: recording.clone(),
                wall: start + wall as u64,
                body: start + body as u64,
            }),
            _ => None,
        })
    }

    /// Hands `bytes` to the buffer and counts them.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Hands every appended line to the OS.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn append_line(&mut self, line: &str) -> io::Result<()> {
        let clean = self.secrets.redact_json(line);
        self.put(clean.as_bytes())?;
        self.put(b"\n")
    }
}

/// `{"t_us":…,"wall":…,"conn":…,"dir":…,` — every line's start, before the body. Returns
/// where in `line` the wall time's text starts, when it is written as it is (not escaped).
fn push_head(line: &mut String, frame: &Frame) -> Option<usize> {
    // Numbers through itoa, not `write!`: core::fmt's machinery was most of this head's cost,
    // written for every frame the proxy records.
    let mut digits = itoa::Buffer::new();
    let dir = match frame.dir {
        Dir::Sent => "sent",
        Dir::Recv => "recv",
        Dir::Meta => "meta",
    };
    line.push_str("{\"t_us\":");
    line.push_str(digits.format(frame.t_us));
    line.push_str(",\"wall\":");
    // An RFC 3339 time needs no escaping; anything else goes through serde.
    let wall = if frame
        .wall
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\')
    {
        line.push('"');
        let at = line.len();
        line.push_str(&frame.wall);
        line.push('"');
        Some(at)
    } else {
        line.push_str(&serde_json::to_string(&frame.wall).unwrap_or_else(|_| "\"\"".into()));
        None
    };
    line.push_str(",\"conn\":");
    line.push_str(digits.format(frame.conn));
    line.push_str(",\"dir\":\"");
    line.push_str(dir);
    line.push_str("\",");
    wall
}

/// Encodes one frame as a transcript line (no newline).
pub(crate) fn encode_line(frame: &Frame) -> String {
    let body = match &frame.payload {
        // Validated one-line JSON goes in as-is: byte-exact.
        Payload::Json(text) if serde_json::from_str::<&RawValue>(text).is_ok() => {
            format!("\"frame\":{text}")
        }
        Payload::Json(text) | Payload::Text(text) => {
            format!("\"text\":{}", serde_json::Value::String(text.clone()))
        }
        Payload::Binary(bytes) => format!("\"binary\":\"{}\"", hex(bytes)),
    };
    let mut line = String::with_capacity(body.len() + 96);
    push_head(&mut line, frame);
    line.push_str(&body);
    line.push('}');
    line
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Replaces secrets in `line` (JSON or text): the given ones and anything key-shaped; see
/// [`crate::secrets`].
pub fn redact(line: &str, secrets: &[String]) -> String {
    crate::secrets::redact_json(line, Secrets::new(secrets).as_slice()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redacted_fast_path_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let header = Header::new("proxy", None, None);
        let frames = [
            Payload::Json(r#"{"type":"response.output_text.delta","delta":"a \"q\" é"}"#.into()),
            Payload::Text("not json\nat all".into()),
            Payload::Binary(vec![0, 1, 255]),
        ]
        .map(|payload| Frame {
            t_us: 12,
            wall: "2026-11-27T12:00:00.000001Z".into(),
            conn: 3,
            dir: Dir::Recv,
            payload,
        });
        let [slow, fast] = ["slow", "fast"].map(|n| dir.path().join(n));
        let mut a = Writer::create(&slow, &header, &[]).unwrap();
        let mut b = Writer::create(&fast, &header, &[]).unwrap();
        for f in &frames {
            a.write(f).unwrap();
            b.append_redacted(f).unwrap();
        }
        b.flush().unwrap();
        drop((a, b));
        let (a, b) = (std::fs::read(slow).unwrap(), std::fs::read(fast).unwrap());
        assert_eq!(a.split(|&c| c == b'\n').count(), 5);
        // The header's `created` differs by the clock; every frame line is the same.
        let tail = |v: &[u8]| v.splitn(2, |&c| c == b'\n').nth(1).unwrap().to_vec();
        assert_eq!(tail(&a), tail(&b));
    }

    /// The places the fast path gives back hold the frame's wall time and JSON byte for byte,
    /// counted from the file's first byte (the header line included); text, binary and a wall
    /// that needed escaping give none.
    #[test]
    fn recorded_places_hold_the_wall_and_body_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut w = Writer::create(&path, &Header::new("proxy", None, None), &[]).unwrap();
        let frame = |i: u32, wall: &str, payload| Frame {
            t_us: u64::from(i) * 1000,
            wall: wall.into(),
            conn: i,
            dir: Dir::Recv,
            payload,
        };
        let mut placed = Vec::new();
        for i in 0..20 {
            let f = frame(
                i,
                &format!("2026-11-27T12:00:00.{i:06}Z"),
                Payload::Json(format!(r#"{{"type":"x","n":{i},"s":"é"}}"#)),
            );
            let at = w
                .append_redacted(&f)
                .unwrap()
                .expect("a JSON frame is placed");
            placed.push((f, at));
            let text = frame(i, "w", Payload::Text("t".into()));
            assert_eq!(w.append_redacted(&text).unwrap(), None, "text is escaped");
        }
        let odd = frame(1, "a\"b", Payload::Json("{}".into()));
        assert_eq!(w.append_redacted(&odd).unwrap(), None);
        // Nothing reads back from a file that is not a regular one.
        let header = Header::new("proxy", None, None);
        let mut null = Writer::create(Path::new("/dev/null"), &header, &[]).unwrap();
        assert_eq!(null.append_redacted(&placed[0].0).unwrap(), None);
        w.flush().unwrap();
        let file = std::fs::read(&path).unwrap();
        for (f, at) in &placed {
            let wall = usize::try_from(at.wall).unwrap();
            let body = usize::try_from(at.body).unwrap();
            assert_eq!(&file[wall..wall + f.wall.len()], f.wall.as_bytes());
            assert_eq!(&file[body..body + f.payload.len()], f.payload.as_bytes());
            assert_eq!(at.recording.path, path);
        }
    }

    #[test]
    fn redacts_keys_and_bearer_tokens() {
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789".to_string();
        let line = format!(r#"{{"authorization":"Bearer {key}","x":"{key}","ok":"sk-short"}}"#);
        let clean = redact(&line, std::slice::from_ref(&key));
        assert!(!clean.contains("abcdefghijklmnop"), "{clean}");
        assert!(clean.contains("sk-short"));
        let word = "a task-abcdefghijklmnopqrstuvwx and risk-0123456789abcdefghij";
        assert_eq!(redact(word, &[]), word);
        let other = redact("Bearer abcdefghijklmnopqrstuvwx1234", &[]);
        assert_eq!(other, "Bearer [REDACTED]");
    }
}
