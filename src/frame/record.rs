//! One frame's fixed-size record in the frame store's records spool (everything but its body),
//! and the table of event-type and lane names the records refer to by number.

use std::collections::HashMap;

use super::Dir;

/// Bytes of one record in the records spool: frame `n`'s is at `n * RECORD`.
pub(super) const RECORD: usize = 32;

/// Where a record keeps its connection (little-endian `u32`): a scan for one connection's
/// frames reads only these bytes of the others.
pub(super) const CONN_BYTES: std::ops::Range<usize> = 20..24;

/// Event types and lanes remembered by name (a head refers to them by number); past this many
/// distinct names a frame's head is read back from its body instead (a stream with an unbounded
/// set of names must not grow the table without bound).
pub(super) const NAMES_LIMIT: usize = 4096;

/// A name's number in a record when it is not in the table: read the head from the body.
pub(super) const UNNAMED: u16 = u16::MAX;

/// What a frame's payload was, so it can be rebuilt from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Json,
    Text,
    Binary,
}

/// One frame's record, as spooled: everything but its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    /// Where its wall time starts in the bodies spool.
    pub(super) at: u64,
    pub(super) t_us: u64,
    /// Payload bytes; the wall time's bytes come first.
    pub(super) len: u32,
    pub(super) conn: u32,
    /// The head's event type (a number in [`Names`], or [`UNNAMED`]).
    pub(super) kind_name: u16,
    /// The head's lane: 0 for none, else a number in [`Names`] + 1, or [`UNNAMED`].
    pub(super) lane: u16,
    pub(super) wall_len: u8,
    pub(super) dir: Dir,
    pub(super) kind: Kind,
    /// The head is an error.
    pub(super) error: bool,
}

impl Record {
    pub(super) fn encode(&self) -> [u8; RECORD] {
        let mut b = [0; RECORD];
        b[0..8].copy_from_slice(&self.at.to_le_bytes());
        b[8..16].copy_from_slice(&self.t_us.to_le_bytes());
        b[16..20].copy_from_slice(&self.len.to_le_bytes());
        b[CONN_BYTES].copy_from_slice(&self.conn.to_le_bytes());
        b[24..26].copy_from_slice(&self.kind_name.to_le_bytes());
        b[26..28].copy_from_slice(&self.lane.to_le_bytes());
        b[28] = self.wall_len;
        b[29] = match self.dir {
            Dir::Sent => 0,
            Dir::Recv => 1,
            Dir::Meta => 2,
        };
        b[30] = match self.kind {
            Kind::Json => 0,
            Kind::Text => 1,
            Kind::Binary => 2,
        };
        b[31] = u8::from(self.error);
        b
    }

    /// The record in `b` (at least [`RECORD`] bytes); `None` if they are not one.
    pub(super) fn decode(b: &[u8]) -> Option<Record> {
        let u64_at = |i: usize| Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?));
        let u32_at = |i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
        let u16_at = |i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?));
        Some(Record {
            at: u64_at(0)?,
            t_us: u64_at(8)?,
            len: u32_at(16)?,
            conn: u32_at(CONN_BYTES.start)?,
            kind_name: u16_at(24)?,
            lane: u16_at(26)?,
            wall_len: *b.get(28)?,
            dir: match b.get(29)? {
                0 => Dir::Sent,
                1 => Dir::Recv,
                _ => Dir::Meta,
            },
            kind: match b.get(30)? {
                0 => Kind::Json,
                1 => Kind::Text,
                _ => Kind::Binary,
            },
            error: *b.get(31)? != 0,
        })
    }
}

/// Event types and lanes by number: a few dozen names cover every frame of a session.
#[derive(Debug, Default)]
pub(super) struct Names {
    pub(super) list: Vec<Box<str>>,
    ids: HashMap<Box<str>, u16>,
    /// The number given last: a stream of deltas asks for the same name over and over.
    last: Option<u16>,
}

impl Names {
    /// The number of `name`, added if new; [`UNNAMED`] once the table is full.
    pub(super) fn id(&mut self, name: &str) -> u16 {
        if let Some(last) = self.last
            && self.name(last) == Some(name)
        {
            return last;
        }
        if let Some(&id) = self.ids.get(name) {
            self.last = Some(id);
            return id;
        }
        if self.list.len() >= NAMES_LIMIT {
            return UNNAMED;
        }
        let id = u16::try_from(self.list.len()).unwrap_or(UNNAMED);
        self.list.push(name.into());
        self.ids.insert(name.into(), id);
        self.last = Some(id);
        id
    }

    pub(super) fn name(&self, id: u16) -> Option<&str> {
        self.list.get(usize::from(id)).map(AsRef::as_ref)
    }
}
