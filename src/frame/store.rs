//! Frames kept by number, nothing per frame in memory: each frame's body (wall time and payload)
//! and its fixed-size record (where the body is, time, connection, direction, and the head the
//! Frames tab draws and filters by) go to two spool files and are read back on demand, so a
//! screen that has seen millions of frames holds the newest [`TAIL_BYTES`] of bodies and
//! [`RECORDS_IN_MEMORY`] records, not the millions.
//!
//! The spools are unlinked temporary files (nothing to clean up, gone when the process ends).
//! The newest bodies and records — the ones a following screen shows — are still in memory,
//! older ones cost a positioned read. If no temporary file can be made or written the store
//! keeps everything in memory, as the `Vec<Frame>` it replaces did, and says so once through
//! [`FrameStore::spool_error`].
//!
//! A frame the proxy recorded whose line holds its wall time and JSON byte for byte
//! ([`FrameStore::push_recorded`], most of what a recording proxy relays) is not spooled at all:
//! its record says where those bytes are in the recording, and they are read back from there
//! (the recording's lines are in the file before the screen sees their frames). If the
//! recording was truncated or rewritten since, the frame reads back with a one-line message in
//! place of its body.

use std::borrow::Cow;
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::record::{CONN_BYTES, Kind, Names, RECORD, Record, UNNAMED, check};
use super::spool::Spool;
use super::{Dir, Frame, Payload, Recorded, Recording};
use crate::ledger::context::FrameSource;
use crate::replay::filter::{self, Filter, Head};

/// Bodies (wall time + payload) kept in memory before they are appended to the spool.
pub const TAIL_BYTES: usize = 1 << 20;

/// Records kept in memory before they are appended to their spool (128 KiB).
pub const RECORDS_IN_MEMORY: usize = 4096;

/// Records per cached block of the records spool (8 KiB).
const BLOCK_RECORDS: usize = 256;

/// Blocks of spooled records kept for reads (64 KiB): a screen reads records near each other
/// (a turn's frames, a chain walked in order), one positioned read per block, not per record.
const CACHED_BLOCKS: usize = 8;

/// Every frame a screen has seen, numbered from 0 in push order (the ledger's frame numbers).
#[derive(Debug)]
pub struct FrameStore {
    /// Frame `n`'s record at `n * RECORD`.
    records: Spool,
    /// Wall times and payloads, where the records say.
    bodies: Spool,
    /// The recording [`Kind::Recorded`] records point into (one per proxy run).
    recording: Option<Arc<Recording>>,
    names: Names,
    /// `t_us` of the newest frame that went over the wire, per connection (the stall warning).
    last_wire: HashMap<u32, u64>,
    /// Blocks of spooled records read lately, newest last: `(first record, their bytes)`.
    cache: Mutex<Vec<(usize, Box<[u8]>)>>,
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
        Self::spooled_in(None, tail_limit, RECORDS_IN_MEMORY)
    }

    /// An empty store whose spools are made in `dir` (`None`: the temporary directory), written
    /// once `tail_limit` bytes of bodies or `records` records wait.
    pub fn spooled_in(dir: Option<PathBuf>, tail_limit: usize, records: usize) -> Self {
        FrameStore {
            records: Spool::new("frame records", dir.clone(), records.max(1) * RECORD),
            bodies: Spool::new("frame bodies", dir, tail_limit),
            recording: None,
            names: Names::default(),
            last_wire: HashMap::new(),
            cache: Mutex::new(Vec::new()),
        }
    }

    /// Frames pushed so far.
    pub fn len(&self) -> usize {
        usize::try_from(self.records.len() / RECORD as u64).unwrap_or(usize::MAX)
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.records.len() == 0
    }

    /// Keeps `frame` as number [`FrameStore::len`].
    pub fn push(&mut self, frame: Frame) {
        self.keep(&frame, None);
    }

    /// Keeps `frame` as [`FrameStore::push`] does, but reads its wall time and body back from
    /// the recording where `at` says instead of spooling them (unless its record cannot say
    /// where: then it is spooled).
    pub fn push_recorded(&mut self, frame: Frame, at: &Recorded) {
        let place = self.place(&frame, at);
        self.keep(&frame, place);
    }

    /// `at` as a record keeps it — the wall time's offset, the gap to the body, the check — if
    /// it can: a JSON frame, its wall time whole, in the store's one recording.
    fn place(&mut self, frame: &Frame, at: &Recorded) -> Option<(u64, u8, u8)> {
        let Payload::Json(body) = &frame.payload else {
            return None;
        };
        let wall = frame.wall.as_bytes();
        if wall.len() > usize::from(u8::MAX) || u32::try_from(body.len()).is_err() {
            return None;
        }
        let gap = at
            .body
            .checked_sub(at.wall)?
            .checked_sub(wall.len() as u64)?;
        let gap = u8::try_from(gap).ok()?;
        match &self.recording {
            Some(r) if !Arc::ptr_eq(r, &at.recording) => return None,
            Some(_) => {}
            None => self.recording = Some(at.recording.clone()),
        }
        Some((at.wall, gap, check(wall, body.as_bytes())))
    }

    /// Keeps `frame`; its wall time and body go to the bodies spool unless `recorded` says
    /// where they are in the recording.
    fn keep(&mut self, frame: &Frame, recorded: Option<(u64, u8, u8)>) {
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
        // The head is read once, here, as the Frames tab's head per frame was.
        let head = filter::of_frame(frame);
        let lane = match &head.lane {
            None => 0,
            Some(l) => match self.names.id(l) {
                UNNAMED => UNNAMED,
                id => id + 1,
            },
        };
        let (at, kind, gap, check) = match recorded {
            Some((at, gap, check)) => (at, Kind::Recorded, gap, check),
            None => (self.bodies.len(), kind, 0, 0),
        };
        let record = Record {
            at,
            t_us: frame.t_us,
            len: u32::try_from(body.len()).unwrap_or(u32::MAX),
            conn: frame.conn,
            kind_name: self.names.id(&head.kind),
            lane,
            wall_len: u8::try_from(wall_len).unwrap_or(u8::MAX),
            dir: frame.dir,
            kind,
            error: head.error,
            gap,
            check,
        };
        self.records.append(&record.encode());
        if recorded.is_none() {
            self.bodies.append(&frame.wall.as_bytes()[..wall_len]);
            // A body over 4 GiB is beyond any message size limit; it is kept cut, like the wall.
            self.bodies
                .append(&body[..body.len().min(u32::MAX as usize)]);
        }
        if frame.dir != Dir::Meta {
            self.last_wire.insert(frame.conn, frame.t_us);
        }
    }

    /// Why frame bodies or records are kept in memory instead of spooled, if they are.
    pub fn spool_error(&self) -> Option<&str> {
        self.bodies.error().or(self.records.error())
    }

    /// Bytes of wall times and bodies appended to the bodies spool so far (in memory or on
    /// disk): frames read back from the recording add none.
    pub fn spooled_body_bytes(&self) -> u64 {
        self.bodies.len()
    }

    /// Bytes of bodies held in memory now (the tail); the rest are in the spool file.
    pub fn resident_body_bytes(&self) -> usize {
        self.bodies.resident()
    }

    /// Bytes of records held in memory now; the rest are in their spool file.
    pub fn resident_record_bytes(&self) -> usize {
        self.records.resident()
    }

    /// Frame `i`'s record: from memory, a cached block, or one read of its block.
    fn record(&self, i: usize) -> Option<Record> {
        let first = i - i % BLOCK_RECORDS;
        let block_end = ((first + BLOCK_RECORDS) * RECORD) as u64;
        if block_end > self.records.on_disk() {
            // Not all on disk yet: the newest records, in memory (or past the end).
            let at = (i as u64).checked_mul(RECORD as u64)?;
            return Record::decode(&self.records.read(at, RECORD)?);
        }
        let offset = (i - first) * RECORD;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = cache.iter().position(|(f, _)| *f == first) {
            let hit = cache.remove(k);
            let record = hit.1.get(offset..offset + RECORD).and_then(Record::decode);
            cache.push(hit);
            return record;
        }
        let block: Box<[u8]> = self
            .records
            .read((first * RECORD) as u64, BLOCK_RECORDS * RECORD)?
            .into_owned()
            .into();
        let record = block.get(offset..offset + RECORD).and_then(Record::decode);
        if cache.len() == CACHED_BLOCKS {
            cache.remove(0);
        }
        cache.push((first, block));
        record
    }

    /// Frame `s`'s wall time and body, and where the body starts in them: from the bodies
    /// spool, or the recording. `None` if they cannot be read (or the recording no longer holds
    /// the bytes it did: a truncated file fails the read, a rewritten one the check).
    fn span(&self, s: &Record) -> Option<(Cow<'_, [u8]>, usize)> {
        let wall = usize::from(s.wall_len);
        if s.kind != Kind::Recorded {
            return Some((self.bodies.read(s.at, wall + s.len as usize)?, wall));
        }
        let body = wall + usize::from(s.gap);
        let mut buf = vec![0; body + s.len as usize];
        self.recording
            .as_ref()?
            .file
            .read_exact_at(&mut buf, s.at)
            .ok()?;
        (check(&buf[..wall], &buf[body..]) == s.check).then_some((Cow::Owned(buf), body))
    }

    /// Frame `i`, read back; `None` past the end (or if the spool cannot be read). A frame the
    /// recording no longer holds comes with a one-line message as its body, and no wall time.
    pub fn get(&self, i: usize) -> Option<Frame> {
        let s = self.record(i)?;
        let Some((bytes, body)) = self.span(&s) else {
            return self.unreadable(&s);
        };
        let (wall, body) = (&bytes[..usize::from(s.wall_len)], &bytes[body..]);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let payload = match s.kind {
            Kind::Json | Kind::Recorded => Payload::Json(text(body)),
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

    /// A recorded frame whose bytes the recording no longer holds: a one-line message in place
    /// of its body, and no wall time. `None` for a spooled one.
    fn unreadable(&self, s: &Record) -> Option<Frame> {
        let recording = self
            .recording
            .as_ref()
            .filter(|_| s.kind == Kind::Recorded)?;
        let why = format!(
            "this frame's body cannot be read back: the recording {} was truncated or rewritten while the proxy ran; leave it alone until the proxy exits",
            recording.path.display()
        );
        Some(Frame {
            t_us: s.t_us,
            wall: String::new(),
            conn: s.conn,
            dir: s.dir,
            payload: Payload::Text(why),
        })
    }

    /// The frame the ledger numbered `k`.
    pub fn frame(&self, k: u64) -> Option<Frame> {
        self.get(usize::try_from(k).ok()?)
    }

    /// The JSON text of the frame the ledger numbered `k`, if it is JSON.
    pub fn json(&self, k: u64) -> Option<Cow<'_, str>> {
        let i = usize::try_from(k).ok()?;
        let s = self.record(i)?;
        if !matches!(s.kind, Kind::Json | Kind::Recorded) {
            return None;
        }
        match self.body(&s)? {
            Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
            Cow::Owned(b) => String::from_utf8(b).ok().map(Cow::Owned),
        }
    }

    /// Frame `s`'s body, read with its wall time (a recorded frame's check needs it).
    fn body(&self, s: &Record) -> Option<Cow<'_, [u8]>> {
        let (bytes, body) = self.span(s)?;
        Some(match bytes {
            Cow::Borrowed(b) => Cow::Borrowed(&b[body..]),
            Cow::Owned(mut b) => {
                b.drain(..body);
                Cow::Owned(b)
            }
        })
    }

    /// The payload bytes of frame `i`, without rebuilding the frame (for searches).
    pub fn payload_bytes(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        self.body(&self.record(i)?)
    }

    /// `t_us` of frame `i`.
    pub fn t_us(&self, i: usize) -> Option<u64> {
        self.record(i).map(|s| s.t_us)
    }

    /// Connection and direction of frame `i`.
    pub fn route(&self, i: usize) -> Option<(u32, Dir)> {
        self.record(i).map(|s| (s.conn, s.dir))
    }

    /// `t_us` of the newest frame on `conn` that went over the wire (not a meta note).
    pub fn last_wire_t_us(&self, conn: u32) -> Option<u64> {
        self.last_wire.get(&conn).copied()
    }

    /// What the Frames tab and the timeline show of frame `i` (its event type, lane, size).
    pub fn head(&self, i: usize) -> Option<Head> {
        let s = self.record(i)?;
        self.head_of(i, &s)
    }

    fn head_of(&self, i: usize, s: &Record) -> Option<Head> {
        let lane = match s.lane {
            0 => None,
            UNNAMED => return self.get(i).map(|f| filter::of_frame(&f)),
            id => Some(self.names.name(id - 1)?.to_owned()),
        };
        let kind = match s.kind_name {
            UNNAMED => return self.get(i).map(|f| filter::of_frame(&f)),
            id => self.names.name(id)?.to_owned(),
        };
        Some(Head {
            t_us: s.t_us,
            conn: s.conn,
            dir: s.dir,
            kind,
            bytes: s.len as usize,
            lane,
            error: s.error,
        })
    }

    /// Whether `filter` keeps frame `i` (record `s`), reading names only when it must.
    fn keeps(&self, i: usize, s: &Record, filter: &Filter) -> bool {
        match filter {
            Filter::All => true,
            Filter::Errors => s.error,
            Filter::Dir(d) => s.dir == *d,
            Filter::Conn(c) => s.conn == *c,
            Filter::Kind(_) | Filter::Lane(_) => filter.keeps(self.head_of(i, s).as_ref()),
        }
    }

    /// The frames on `conn` that `filter` keeps (ascending), and how many frames `conn` has:
    /// one pass over the records, read in blocks (the Frames tab draws from it).
    pub fn shown(&self, conn: Option<u32>, filter: &Filter) -> (Vec<usize>, usize) {
        /// Records read at once: 64 KiB.
        const BLOCK: usize = 2048;
        let mut shown = Vec::new();
        let mut on_conn = 0;
        let Some(conn) = conn else {
            return (shown, 0);
        };
        let len = self.len();
        let mut start = 0;
        while start < len {
            let n = BLOCK.min(len - start);
            let Some(block) = self.records.read((start * RECORD) as u64, n * RECORD) else {
                break;
            };
            for (k, bytes) in block.chunks_exact(RECORD).enumerate() {
                // The connection first: most draws show every frame of one connection, which
                // needs nothing else of the record.
                if bytes.get(CONN_BYTES) != Some(&conn.to_le_bytes()[..]) {
                    continue;
                }
                on_conn += 1;
                let keep = match filter {
                    Filter::All => true,
                    _ => Record::decode(bytes).is_some_and(|s| self.keeps(start + k, &s, filter)),
                };
                if keep {
                    shown.push(start + k);
                }
            }
            start += n;
        }
        (shown, on_conn)
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
    use crate::frame::record::NAMES_LIMIT;

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
        assert!(store.bodies.on_disk() > 0, "the bodies went to the spool");
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

    fn event(i: u64, conn: u32, dir: Dir, json: &str) -> Frame {
        Frame {
            t_us: i,
            wall: format!("2026-11-27T15:00:00.{i:06}Z"),
            conn,
            dir,
            payload: Payload::from_text(json),
        }
    }

    /// Frame `i` of a varied stream on `conn`: a create on lane `a`, an error, a connect note,
    /// a text frame, and events of seven types each on a lane of its own.
    fn varied(i: u64, conn: u32) -> Frame {
        match i % 5 {
            0 => event(
                i,
                conn,
                Dir::Sent,
                r#"{"type":"response.create","stream_id":"a"}"#,
            ),
            1 => event(
                i,
                conn,
                Dir::Recv,
                r#"{"type":"error","error":{"code":"x"}}"#,
            ),
            2 => event(i, conn, Dir::Meta, r#"{"event":"connect"}"#),
            3 => event(i, conn, Dir::Recv, "not json"),
            _ => event(
                i,
                conn,
                Dir::Recv,
                &format!(r#"{{"type":"t{}","stream_id":"l{i}"}}"#, i % 7),
            ),
        }
    }

    /// Records leave memory as frames arrive: past [`RECORDS_IN_MEMORY`] frames, the records and
    /// heads of old frames are read back from their spool, each exactly the head the frame has.
    #[test]
    fn records_and_heads_read_back_from_their_spool() {
        let mut store = FrameStore::spooled_in(None, 4096, 64);
        let mut pushed = Vec::new();
        for i in 0..1000u64 {
            let f = varied(i, u32::try_from(i / 400).unwrap());
            store.push(f.clone());
            pushed.push(f);
        }
        assert!(store.records.on_disk() > 0, "old records went to the spool");
        assert!(store.resident_record_bytes() < 64 * RECORD);
        for (i, f) in pushed.iter().enumerate() {
            assert_eq!(store.head(i), Some(filter::of_frame(f)), "head {i}");
            assert_eq!(store.get(i).as_ref(), Some(f), "frame {i}");
        }
        assert_eq!(store.head(1000), None);
        // Scattered reads go through the block cache's misses and evictions: the same frames.
        for k in 0..3000 {
            let i = (k * 7919) % pushed.len();
            assert_eq!(
                store.get(i).as_ref(),
                Some(&pushed[i]),
                "frame {i}, read {k}"
            );
        }
        assert!(store.records.on_disk() >= (3 * BLOCK_RECORDS * RECORD) as u64);
        // One pass finds what the Frames tab shows, as filtering every head would.
        for filter in [
            Filter::All,
            Filter::Errors,
            Filter::Dir(Dir::Meta),
            Filter::Kind("t3".into()),
            Filter::Lane("a".into()),
            Filter::Lane("l9".into()),
        ] {
            for conn in 0..3u32 {
                let want: Vec<usize> = (0..pushed.len())
                    .filter(|&i| pushed[i].conn == conn)
                    .filter(|&i| filter.keeps(Some(&filter::of_frame(&pushed[i]))))
                    .collect();
                let on_conn = pushed.iter().filter(|f| f.conn == conn).count();
                assert_eq!(
                    store.shown(Some(conn), &filter),
                    (want, on_conn),
                    "{filter:?} {conn}"
                );
            }
        }
        assert_eq!(store.shown(None, &Filter::All), (Vec::new(), 0));
    }

    /// Past [`NAMES_LIMIT`] distinct event types a frame's head comes from its body: the same.
    #[test]
    fn heads_past_the_names_table_are_read_from_the_body() {
        let mut store = FrameStore::spooled_in(None, 1 << 16, 256);
        let n = NAMES_LIMIT + 10;
        for i in 0..n as u64 {
            store.push(event(i, 0, Dir::Recv, &format!(r#"{{"type":"kind{i}"}}"#)));
        }
        assert_eq!(store.names.list.len(), NAMES_LIMIT);
        for i in [0, NAMES_LIMIT - 1, NAMES_LIMIT, n - 1] {
            assert_eq!(store.head(i).unwrap().kind, format!("kind{i}"));
        }
        let last = Filter::Kind(format!("kind{}", n - 1));
        assert_eq!(store.shown(Some(0), &last).0, vec![n - 1]);
    }

    /// A recording proxy's frames, written by the transcript writer: JSON placed in the file,
    /// text and binary not (nor a wall time that needed escaping).
    fn recorded(path: &std::path::Path, frames: &[Frame]) -> Vec<Option<Recorded>> {
        let header = crate::transcript::Header::new("proxy", None, None);
        let mut writer = crate::transcript::Writer::create(path, &header, &[]).unwrap();
        let places = frames
            .iter()
            .map(|f| writer.append_redacted(f).unwrap())
            .collect();
        writer.flush().unwrap();
        places
    }

    /// [`varied`] frames, every sixth a binary one.
    fn mixed(n: u64) -> Vec<Frame> {
        (0..n)
            .map(|i| match i % 6 {
                5 => frame(i, Payload::Binary(vec![7; 3])),
                _ => varied(i, u32::try_from(i / 300).unwrap()),
            })
            .collect()
    }

    /// A store fed recorded frames with their places reads back what one fed the bodies does —
    /// frames, heads, JSON, payload bytes, filters — and spools only the frames not placed (text
    /// and binary): no JSON body is written a second time.
    #[test]
    fn recorded_frames_read_back_from_the_recording_as_spooled_ones_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut frames = mixed(1200);
        frames[6].wall = "odd \"wall\"".into();
        let places = recorded(&dir.path().join("r.tsjsonl"), &frames);
        let mut spooled = FrameStore::spooled_in(None, 4096, 64);
        let mut placed = FrameStore::spooled_in(None, 4096, 64);
        let mut unplaced = 0;
        for (f, at) in frames.iter().zip(&places) {
            spooled.push(f.clone());
            match at {
                Some(at) => placed.push_recorded(f.clone(), at),
                None => {
                    unplaced += (f.wall.len() + f.payload.len()) as u64;
                    placed.push(f.clone());
                }
            }
        }
        let json = |f: &&Frame| matches!(f.payload, Payload::Json(_));
        let odd = frames.iter().filter(json).filter(|f| f.wall.contains('"'));
        let not_json = frames.iter().filter(|f| !json(f)).count();
        assert_eq!(
            places.iter().filter(|p| p.is_none()).count(),
            not_json + odd.count()
        );
        assert_eq!(placed.spooled_body_bytes(), unplaced);
        let all: usize = frames.iter().map(|f| f.wall.len() + f.payload.len()).sum();
        assert_eq!(spooled.spooled_body_bytes(), all as u64);
        assert!(unplaced < all as u64 / 2);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(placed.get(i).as_ref(), Some(f), "frame {i}");
            assert_eq!(placed.head(i), spooled.head(i), "head {i}");
            assert_eq!(placed.json(i as u64), spooled.json(i as u64), "json {i}");
            assert_eq!(
                placed.payload_bytes(i),
                spooled.payload_bytes(i),
                "bytes {i}"
            );
        }
        assert_eq!(placed.get(frames.len()), None);
        for filter in [Filter::All, Filter::Errors, Filter::Kind("t3".into())] {
            for conn in 0..4 {
                assert_eq!(
                    placed.shown(Some(conn), &filter),
                    spooled.shown(Some(conn), &filter)
                );
            }
        }
    }

    /// A recording cut short or rewritten under the store: its frames read back with a one-line
    /// message naming the file in place of their body (no JSON, no bytes), never other bytes;
    /// their heads still come from their records, and frames before the cut read back whole.
    #[test]
    fn a_recording_changed_under_the_store_gives_a_message_not_other_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.tsjsonl");
        let frames = mixed(60);
        let places = recorded(&path, &frames);
        let mut store = FrameStore::new();
        for (f, at) in frames.iter().zip(&places) {
            match at {
                Some(at) => store.push_recorded(f.clone(), at),
                None => store.push(f.clone()),
            }
        }
        let file = std::fs::read(&path).unwrap();
        let last = places.iter().rposition(Option::is_some).unwrap();
        let first = places.iter().position(Option::is_some).unwrap();
        let unreadable = |store: &FrameStore, i: usize| {
            let f = store.get(i).unwrap();
            let Payload::Text(why) = &f.payload else {
                panic!("frame {i}: {f:?}")
            };
            assert!(
                why.contains("cannot be read back")
                    && why.contains(&path.display().to_string())
                    && !why.contains('\n'),
                "{why}"
            );
            assert_eq!(store.json(i as u64), None);
            assert_eq!(store.payload_bytes(i), None);
            assert_eq!(store.head(i).unwrap().bytes, frames[i].payload.len());
        };
        // Cut inside the last placed frame's body.
        let cut = places[last].as_ref().unwrap().body + 2;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
        unreadable(&store, last);
        assert_eq!(store.get(first).as_ref(), Some(&frames[first]));
        // The same length, other wall times (a run recorded again to the same path).
        std::fs::write(
            &path,
            String::from_utf8(file).unwrap().replace("T15:", "T16:"),
        )
        .unwrap();
        unreadable(&store, first);
        unreadable(&store, last);
        // Text and binary frames are in the spool, whatever happens to the recording.
        assert_eq!(store.get(3).as_ref(), Some(&frames[3]));
        assert_eq!(store.get(5).as_ref(), Some(&frames[5]));
    }

    /// No spool can be made: every frame stays in memory, reads back, and the store says why.
    #[test]
    fn a_store_without_a_spool_keeps_frames_in_memory_and_says_so() {
        let missing = PathBuf::from("/nonexistent/turnscope-spool");
        let mut store = FrameStore::spooled_in(Some(missing), 64, 4);
        let frames: Vec<Frame> = (0..50)
            .map(|i| event(i, 0, Dir::Recv, &format!(r#"{{"type":"x","n":{i}}}"#)))
            .collect();
        for f in &frames {
            store.push(f.clone());
        }
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(store.get(i).as_ref(), Some(f));
            assert_eq!(store.head(i).unwrap().kind, "x");
        }
        assert_eq!(store.resident_record_bytes(), 50 * RECORD);
        let error = store.spool_error().unwrap();
        assert!(error.contains("/nonexistent/turnscope-spool"), "{error}");
    }
}
