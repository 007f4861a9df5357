//! Frames kept by number with their bodies on disk: a few bytes per frame stay in memory, the
//! wall time and payload go to a spool file and are read back on demand, so a screen that has
//! seen a gigabyte holds the newest [`TAIL_BYTES`] of bodies, not the gigabyte.
//!
//! The spool is an unlinked temporary file (nothing to clean up, gone when the process ends),
//! written in [`TAIL_BYTES`] blocks: the newest bodies — the ones a following screen shows —
//! are still in memory, older ones cost one positioned read. If no temporary file can be made
//! the store keeps every body in memory, as the `Vec<Frame>` it replaces did, and says so once
//! through [`FrameStore::spool_error`].

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

use super::{Dir, Frame, Payload};
use crate::ledger::context::FrameSource;

/// Bodies (wall time + payload) kept in memory before they are appended to the spool.
pub const TAIL_BYTES: usize = 1 << 20;

/// What a frame's payload was, so it can be rebuilt from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Text,
    Binary,
}

/// The part of a frame that stays in memory.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Where its wall time starts in the spool (file, then tail).
    at: u64,
    t_us: u64,
    /// Payload bytes; the wall time's bytes come first.
    len: u32,
    conn: u32,
    wall_len: u8,
    dir: Dir,
    kind: Kind,
}

/// Every frame a screen has seen, numbered from 0 in push order (the ledger's frame numbers).
#[derive(Debug)]
pub struct FrameStore {
    slots: Vec<Slot>,
    /// Bytes not yet in the spool file; the file holds `spooled` bytes before them.
    tail: Vec<u8>,
    spooled: u64,
    file: Option<File>,
    /// Why bodies stay in memory (the spool could not be made or written).
    spool_error: Option<String>,
    tail_limit: usize,
}

impl Default for FrameStore {
    fn default() -> Self {
        Self::with_tail(TAIL_BYTES)
    }
}

impl FrameStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that spools once `tail_limit` bytes of bodies wait (small in tests).
    pub fn with_tail(tail_limit: usize) -> Self {
        FrameStore {
            slots: Vec::new(),
            tail: Vec::new(),
            spooled: 0,
            file: None,
            spool_error: None,
            tail_limit: tail_limit.max(1),
        }
    }

    /// Frames pushed so far.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Keeps `frame` as number [`FrameStore::len`].
    pub fn push(&mut self, frame: Frame) {
        // RFC 3339 with microseconds is 27 bytes; a longer one (never written by turnscope) is
        // cut rather than refused, it is only shown.
        let mut wall_len = frame.wall.len().min(usize::from(u8::MAX));
        while !frame.wall.is_char_boundary(wall_len) {
            wall_len -= 1;
        }
        let (kind, body) = match &frame.payload {
            Payload::Json(s) => (Kind::Json, s.as_bytes()),
            Payload::Text(s) => (Kind::Text, s.as_bytes()),
            Payload::Binary(b) => (Kind::Binary, b.as_slice()),
        };
        self.slots.push(Slot {
            at: self.spooled + self.tail.len() as u64,
            t_us: frame.t_us,
            len: u32::try_from(body.len()).unwrap_or(u32::MAX),
            conn: frame.conn,
            wall_len: u8::try_from(wall_len).unwrap_or(u8::MAX),
            dir: frame.dir,
            kind,
        });
        self.tail
            .extend_from_slice(&frame.wall.as_bytes()[..wall_len]);
        // A body over 4 GiB is beyond any message size limit; it is kept cut, like the wall.
        self.tail
            .extend_from_slice(&body[..body.len().min(u32::MAX as usize)]);
        if self.tail.len() >= self.tail_limit {
            self.spool();
        }
    }

    /// Appends the tail to the spool file; on failure the bodies stay in memory.
    fn spool(&mut self) {
        if self.spool_error.is_some() {
            return;
        }
        if self.file.is_none() {
            match tempfile::tempfile() {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    self.spool_error = Some(format!(
                        "cannot create a spool file for frame bodies in {} ({e}): they stay in memory; set TMPDIR to a writable directory",
                        std::env::temp_dir().display()
                    ));
                    return;
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write_all(&self.tail) {
            Ok(()) => {
                self.spooled += self.tail.len() as u64;
                self.tail.clear();
                // A burst of huge frames must not leave a huge buffer behind.
                self.tail.shrink_to(self.tail_limit);
            }
            Err(e) => {
                // The file may hold part of the tail now; those bytes are never read.
                self.spool_error = Some(format!(
                    "cannot write the spool file for frame bodies ({e}): they stay in memory; free space in {}",
                    std::env::temp_dir().display()
                ));
            }
        }
    }

    /// Why frame bodies are kept in memory instead of spooled, if they are.
    pub fn spool_error(&self) -> Option<&str> {
        self.spool_error.as_deref()
    }

    /// Bytes of bodies held in memory now (the tail); the rest are in the spool file.
    pub fn resident_body_bytes(&self) -> usize {
        self.tail.len()
    }

    /// The bytes `at..at+len` of the spool (file or tail).
    fn bytes(&self, at: u64, len: usize) -> Option<Cow<'_, [u8]>> {
        if at >= self.spooled {
            let start = usize::try_from(at - self.spooled).ok()?;
            return self
                .tail
                .get(start..start.checked_add(len)?)
                .map(Cow::Borrowed);
        }
        let mut buf = vec![0; len];
        self.file.as_ref()?.read_exact_at(&mut buf, at).ok()?;
        Some(Cow::Owned(buf))
    }

    /// Frame `i`, read back; `None` past the end (or if the spool cannot be read).
    pub fn get(&self, i: usize) -> Option<Frame> {
        let s = *self.slots.get(i)?;
        let wall_len = usize::from(s.wall_len);
        let bytes = self.bytes(s.at, wall_len + s.len as usize)?;
        let (wall, body) = bytes.split_at(wall_len);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let payload = match s.kind {
            Kind::Json => Payload::Json(text(body)),
            Kind::Text => Payload::Text(text(body)),
            Kind::Binary => Payload::Binary(body.to_vec()),
        };
        Some(Frame {
            t_us: s.t_us,
            wall: text(wall),
            conn: s.conn,
            dir: s.dir,
            payload,
        })
    }

    /// The frame the ledger numbered `k`.
    pub fn frame(&self, k: u64) -> Option<Frame> {
        self.get(usize::try_from(k).ok()?)
    }

    /// The JSON text of the frame the ledger numbered `k`, if it is JSON.
    pub fn json(&self, k: u64) -> Option<Cow<'_, str>> {
        let i = usize::try_from(k).ok()?;
        if self.slots.get(i)?.kind != Kind::Json {
            return None;
        }
        match self.payload_bytes(i)? {
            Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
            Cow::Owned(b) => String::from_utf8(b).ok().map(Cow::Owned),
        }
    }

    /// The payload bytes of frame `i`, without rebuilding the frame (for searches).
    pub fn payload_bytes(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        let s = self.slots.get(i)?;
        let wall = u64::from(s.wall_len);
        self.bytes(s.at + wall, s.len as usize)
    }

    /// `t_us` of frame `i`.
    pub fn t_us(&self, i: usize) -> Option<u64> {
        self.slots.get(i).map(|s| s.t_us)
    }

    /// Connection and direction of frame `i`.
    pub fn route(&self, i: usize) -> Option<(u32, Dir)> {
        self.slots.get(i).map(|s| (s.conn, s.dir))
    }

    /// `t_us` of the newest frame on `conn` that went over the wire (not a meta note).
    pub fn last_wire_t_us(&self, conn: u32) -> Option<u64> {
        self.slots
            .iter()
            .rev()
            .find(|s| s.conn == conn && s.dir != Dir::Meta)
            .map(|s| s.t_us)
    }
}

impl FrameSource for FrameStore {
    fn json(&self, k: u64) -> Option<Cow<'_, str>> {
        FrameStore::json(self, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: u64, payload: Payload) -> Frame {
        Frame {
            t_us: i,
            wall: format!("2026-11-27T15:00:00.{i:06}Z"),
            conn: u32::try_from(i % 3).unwrap(),
            dir: [Dir::Sent, Dir::Recv, Dir::Meta][usize::try_from(i % 3).unwrap()],
            payload,
        }
    }

    /// Every frame reads back exactly, whether its body is in the spool file or the tail, and
    /// only the tail stays in memory.
    #[test]
    fn frames_read_back_exactly_from_file_and_tail() {
        let mut store = FrameStore::with_tail(1000);
        let mut pushed = Vec::new();
        for i in 0..500u64 {
            let payload = match i % 4 {
                0 => Payload::Json(format!(
                    r#"{{"type":"x","n":{i},"pad":"{}"}}"#,
                    "é".repeat(usize::try_from(i).unwrap())
                )),
                1 => Payload::Text(format!("not json {i}\n")),
                2 => Payload::Binary(vec![
                    u8::try_from(i % 256).unwrap();
                    usize::try_from(i).unwrap()
                ]),
                _ => Payload::Json(String::new()),
            };
            let f = frame(i, payload);
            store.push(f.clone());
            pushed.push(f);
        }
        assert_eq!(store.len(), 500);
        assert!(store.spooled > 0, "the bodies went to the spool");
        assert!(store.resident_body_bytes() < 1000 + 2000);
        for (i, f) in pushed.iter().enumerate() {
            assert_eq!(store.get(i).as_ref(), Some(f), "frame {i}");
            assert_eq!(
                store.payload_bytes(i).unwrap().as_ref(),
                f.payload.as_bytes()
            );
            assert_eq!(store.json(i as u64).as_deref(), f.payload.json());
        }
        assert_eq!(store.get(500), None);
        assert_eq!(store.last_wire_t_us(1), Some(499));
        assert_eq!(store.last_wire_t_us(2), None);
    }
}
