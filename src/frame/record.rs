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

/// What a frame's payload was, so it can be rebuilt from its bytes, and where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Json,
    Text,
    Binary,
    /// JSON whose wall time and body are in the recording, not the bodies spool.
    Recorded,
}

/// One frame's record, as spooled: everything but its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    /// Where its wall time starts in the bodies spool (in the recording: [`Kind::Recorded`]).
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
    /// [`Kind::Recorded`]: bytes of the line between the wall time and the body.
    pub(super) gap: u8,
    /// [`Kind::Recorded`]: [`check`] of the wall time and body, to tell a recording changed
    /// under the store from the bytes it wrote.
    pub(super) check: u8,
}

/// A byte that changes with a frame's wall time (microseconds) and its body's ends: cheap to
/// take (eight bytes a step, never the body's middle), and a recording rewritten in place hardly
/// ever holds the same there (a changed byte changes it but for 1 in 256).
pub(super) fn check(wall: &[u8], body: &[u8]) -> u8 {
    // Multiplying by an odd constant keeps every difference, and carries it to the top byte.
    const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
    let ends = [body.first(), body.last()].map(|b| u64::from(b.copied().unwrap_or(0)));
    let (words, rest) = wall.as_chunks::<8>();
    let mut h = words.iter().fold(ends[0] << 8 | ends[1], |h, w| {
        (h ^ u64::from_le_bytes(*w)).wrapping_mul(MIX)
    });
    for &b in rest {
        h = h.rotate_left(8) ^ u64::from(b);
    }
    h.wrapping_mul(MIX).to_be_bytes()[0]
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
        // Direction, kind and error share a byte, so the recording's gap and check fit.
        let dir = match self.dir {
            Dir::Sent => 0,
            Dir::Recv => 1,
            Dir::Meta => 2,
        };
        let kind = match self.kind {
            Kind::Json => 0,
            Kind::Text => 1,
            Kind::Binary => 2,
            Kind::Recorded => 3,
        };
        b[29] = dir | kind << 2 | u8::from(self.error) << 4;
        b[30] = self.gap;
        b[31] = self.check;
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
            dir: match b.get(29)? & 3 {
                0 => Dir::Sent,
                1 => Dir::Recv,
                _ => Dir::Meta,
            },
            kind: match b.get(29)? >> 2 & 3 {
                0 => Kind::Json,
                1 => Kind::Text,
                2 => Kind::Binary,
                _ => Kind::Recorded,
            },
            error: b.get(29)? & 16 != 0,
            gap: *b.get(30)?,
            check: *b.get(31)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every direction, kind and error flag survives the shared byte, beside the gap and check.
    #[test]
    fn records_round_trip() {
        for dir in [Dir::Sent, Dir::Recv, Dir::Meta] {
            for kind in [Kind::Json, Kind::Text, Kind::Binary, Kind::Recorded] {
                for error in [false, true] {
                    let r = Record {
                        at: u64::MAX - 1,
                        t_us: 7,
                        len: u32::MAX,
                        conn: 3,
                        kind_name: UNNAMED,
                        lane: 2,
                        wall_len: 27,
                        dir,
                        kind,
                        error,
                        gap: 255,
                        check: 254,
                    };
                    assert_eq!(Record::decode(&r.encode()), Some(r));
                }
            }
        }
    }
}
