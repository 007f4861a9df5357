//! What a timeline row shows, and which rows a filter keeps, read from a line's raw bytes.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::frame::{Dir, Frame, Payload};
use crate::protocol::EventHead;

/// The few facts a timeline row needs about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Monotonic µs.
    pub t_us: u64,
    /// Connection.
    pub conn: u32,
    /// Direction.
    pub dir: Dir,
    /// Event `type` (or a meta frame's `event`; `(text)`/`(binary)` for non-JSON frames).
    pub kind: String,
    /// Payload size in bytes (as stored).
    pub bytes: usize,
    /// `stream_id`, when the frame names one.
    pub lane: Option<String>,
    /// An `error` event, a failed response, or a client-side error note.
    pub error: bool,
}

#[derive(Deserialize)]
struct LineHead<'a> {
    #[serde(default)]
    t_us: u64,
    #[serde(default)]
    conn: u32,
    dir: Dir,
    #[serde(borrow, default)]
    frame: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    binary: Option<Cow<'a, str>>,
}

/// A meta line's event name (`connect`, `close`, …): turnscope's own frames, not the wire's.
#[derive(Deserialize)]
struct MetaHead<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
}

/// A meta frame's event name (`connect`, `close`, …), read from its JSON; `None` when it names
/// none or is not JSON.
pub fn meta_event(json: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<MetaHead<'_>>(json)
        .ok()
        .and_then(|m| m.event)
}

/// An event's `type` (a meta frame's `event`) and `stream_id`.
fn kind_and_lane(dir: Dir, json: &str) -> (String, Option<String>) {
    // Both callers hold checked JSON (a frame kept as JSON, a transcript line's raw value), so
    // the head is scanned rather than parsed: the proxy TUI reads every relayed frame's head
    // here on its screen thread, and serde's parse was ~an eighth of that thread's time (perf).
    let ev = EventHead::scan(json);
    let mut kind = ev.as_ref().and_then(|e| e.kind.clone());
    if kind.is_none() && dir == Dir::Meta {
        kind = meta_event(json);
    }
    let kind = kind.map_or_else(|| "(json)".to_owned(), Cow::into_owned);
    let lane = ev.and_then(|e| e.lane());
    (kind, lane)
}

fn is_error(dir: Dir, kind: &str) -> bool {
    match dir {
        Dir::Meta => kind == "error",
        Dir::Recv => kind == "error" || kind == "response.failed",
        Dir::Sent => false,
    }
}

/// Reads a line's head; `None` for a line that is not a frame.
pub fn head(line: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(line).ok()?;
    let parsed: LineHead<'_> = serde_json::from_str(text).ok()?;
    let (kind, bytes, lane) = match (parsed.frame, &parsed.text, &parsed.binary) {
        (Some(raw), _, _) => {
            let (kind, lane) = kind_and_lane(parsed.dir, raw.get());
            (kind, raw.get().len(), lane)
        }
        (None, Some(t), _) => ("(text)".to_owned(), t.len(), None),
        (None, None, Some(hex)) => ("(binary)".to_owned(), hex.len() / 2, None),
        (None, None, None) => return None,
    };
    Some(Head {
        t_us: parsed.t_us,
        conn: parsed.conn,
        dir: parsed.dir,
        error: is_error(parsed.dir, &kind),
        kind,
        bytes,
        lane,
    })
}

/// The same head for a frame in memory (the Frames tab keeps one per frame).
pub fn of_frame(frame: &Frame) -> Head {
    let (kind, lane) = match &frame.payload {
        Payload::Json(json) => kind_and_lane(frame.dir, json),
        Payload::Text(_) => ("(text)".to_owned(), None),
        Payload::Binary(_) => ("(binary)".to_owned(), None),
    };
    Head {
        t_us: frame.t_us,
        conn: frame.conn,
        dir: frame.dir,
        error: is_error(frame.dir, &kind),
        kind,
        bytes: frame.payload.len(),
        lane,
    }
}

/// Which timeline rows are shown and stepped through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Filter {
    /// Every line.
    #[default]
    All,
    /// Errors, failed responses, client-side errors, and lines that are not frames.
    Errors,
    /// One direction.
    Dir(Dir),
    /// One event type.
    Kind(String),
    /// One connection.
    Conn(u32),
    /// One lane (`stream_id`).
    Lane(String),
}

impl Filter {
    /// The quick filters `f` cycles through, in order.
    pub fn cycle(&self) -> Filter {
        match self {
            Filter::All => Filter::Errors,
            Filter::Errors => Filter::Dir(Dir::Sent),
            Filter::Dir(Dir::Sent) => Filter::Dir(Dir::Recv),
            Filter::Dir(Dir::Recv) => Filter::Dir(Dir::Meta),
            _ => Filter::All,
        }
    }

    /// Short label for the header.
    pub fn label(&self) -> String {
        match self {
            Filter::All => "all".into(),
            Filter::Errors => "errors".into(),
            Filter::Dir(Dir::Sent) => "sent".into(),
            Filter::Dir(Dir::Recv) => "received".into(),
            Filter::Dir(Dir::Meta) => "meta".into(),
            Filter::Kind(k) => format!("type {k}"),
            Filter::Conn(c) => format!("connection {c}"),
            Filter::Lane(l) => format!("lane {l}"),
        }
    }

    /// Whether a line with this head (`None` = not a frame) is shown.
    pub fn keeps(&self, head: Option<&Head>) -> bool {
        let Some(h) = head else {
            return matches!(self, Filter::All | Filter::Errors);
        };
        match self {
            Filter::All => true,
            Filter::Errors => h.error,
            Filter::Dir(d) => h.dir == *d,
            Filter::Kind(k) => &h.kind == k,
            Filter::Conn(c) => h.conn == *c,
            Filter::Lane(l) => h.lane.as_deref() == Some(l),
        }
    }

    /// Whether a raw line is shown (parses only when the filter needs it).
    pub fn keeps_line(&self, line: &[u8]) -> bool {
        match self {
            Filter::All => true,
            _ => self.keeps(head(line).as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_name_kind_lane_size_and_errors() {
        let h =
            head(br#"{"t_us":5,"conn":1,"dir":"recv","frame":{"type":"error","stream_id":"a"}}"#)
                .unwrap();
        assert_eq!((h.t_us, h.conn, h.kind.as_str()), (5, 1, "error"));
        assert_eq!(h.lane.as_deref(), Some("a"));
        assert!(h.error && Filter::Errors.keeps(Some(&h)));
        let meta = head(br#"{"t_us":0,"dir":"meta","frame":{"event":"connect"}}"#).unwrap();
        assert_eq!(meta.kind, "connect");
        assert!(!Filter::Errors.keeps(Some(&meta)));
        assert!(Filter::Dir(Dir::Meta).keeps(Some(&meta)));
        let text = head(br#"{"t_us":0,"dir":"recv","text":"oops"}"#).unwrap();
        assert_eq!((text.kind.as_str(), text.bytes), ("(text)", 4));
        assert!(head(b"garbage").is_none());
        assert!(Filter::Errors.keeps_line(b"garbage"));
        assert!(!Filter::Conn(0).keeps_line(b"garbage"));
        let frame = Frame {
            t_us: 5,
            wall: String::new(),
            conn: 1,
            dir: Dir::Recv,
            payload: Payload::Json(r#"{"type":"error","stream_id":"a"}"#.into()),
        };
        assert_eq!(of_frame(&frame), h, "a frame in memory has the line's head");
    }
}
