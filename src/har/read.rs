//! Streams a HAR into frames: serde visits `log.entries` one entry at a time (no whole-file
//! DOM); each Responses API entry becomes a connection, everything else a skip count.
//!
//! Why serde's own visitor and not `struson` or `StreamDeserializer`: `StreamDeserializer`
//! reads whitespace-separated top-level values, not the elements of an array nested two
//! objects deep; a `DeserializeSeed` chain (root → `log` → `entries`) gets exactly that from
//! the `serde_json` already in the tree, keeps typed entry structs, and skips every other
//! key with `IgnoredAny` without building it. Only one entry's raw text is held at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use super::HarError;
use crate::frame::{Dir, Frame, Payload};
use crate::transcript::Header;

/// What was read from a HAR, beside the frames.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The tool that wrote the HAR (`log.creator`: name and version).
    pub creator: Option<String>,
    /// Entries in the file.
    pub entries: u64,
    /// WebSocket entries read as connections.
    pub websocket: u64,
    /// HTTP `POST …/responses` entries read as HTTP-mode turns.
    pub http: u64,
    /// WebSocket messages read.
    pub messages: u64,
    /// Of them, binary (kept as bytes; not part of the protocol).
    pub binary_messages: u64,
    /// Entries (or messages) skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// The file broke off after some entries: what serde said. The entries before it count.
    pub cut: Option<String>,
}

impl Summary {
    /// Entries skipped, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
    }

    /// One line for stderr: what was read and what was skipped.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} entries: {} WebSocket connection(s) ({} messages), {} HTTP turn(s)",
            self.entries, self.websocket, self.messages, self.http
        );
        if !self.skipped.is_empty() {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            out.push_str(&format!(
                "; skipped {}: {}",
                self.skipped_total(),
                reasons.join(", ")
            ));
        }
        if let Some(cut) = &self.cut {
            out.push_str(&format!("; the file breaks off after them ({cut})"));
        }
        out
    }
}

/// A HAR read into frames.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// A transcript header describing the capture (`source: "har"`).
    pub header: Header,
    /// Every frame, in time order; connections numbered by start time.
    pub frames: Vec<Frame>,
    /// What was read and skipped.
    pub summary: Summary,
}

/// Whether `path` holds a HAR: a `.har` name, or a JSON object whose first key is `log`.
pub fn is_har(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("har"))
    {
        return true;
    }
    let mut head = [0u8; 256];
    let Ok(n) = File::open(path).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    let text = String::from_utf8_lossy(&head[..n]);
    let rest = text.trim_start().strip_prefix('{').map(str::trim_start);
    rest.is_some_and(|r| r.starts_with("\"log\""))
}

/// Reads the HAR at `path`.
pub fn load(path: &Path) -> Result<Loaded, HarError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| HarError::Io {
        path: name.clone(),
        source,
    })?;
    read_from(BufReader::with_capacity(1 << 16, file), &name)
}

/// Reads a HAR from any input; `name` is used in errors.
pub fn read_from(input: impl Read, name: &str) -> Result<Loaded, HarError> {
    let mut sink = Sink::default();
    let mut de = serde_json::Deserializer::from_reader(input);
    let result = Root(&mut sink).deserialize(&mut de).and_then(|()| de.end());
    match result {
        Err(e) if sink.summary.entries > 0 => sink.summary.cut = Some(e.to_string()),
        Err(e) if e.is_eof() => {
            return Err(HarError::Broken {
                path: name.to_owned(),
                reason: e.to_string(),
            });
        }
        Err(e) if !sink.saw_log => {
            return Err(HarError::NotHar {
                path: name.to_owned(),
                reason: e.to_string(),
            });
        }
        Err(e) => {
            return Err(HarError::Broken {
                path: name.to_owned(),
                reason: e.to_string(),
            });
        }
        Ok(()) if !sink.saw_log => {
            return Err(HarError::NotHar {
                path: name.to_owned(),
                reason: "no \"log\" object".into(),
            });
        }
        Ok(()) if !sink.saw_entries => {
            return Err(HarError::NotHar {
                path: name.to_owned(),
                reason: "\"log\" has no \"entries\" array".into(),
            });
        }
        Ok(()) => {}
    }
    Ok(sink.finish())
}

/// Collects each entry's frames as it is read.
#[derive(Default)]
struct Sink {
    saw_log: bool,
    saw_entries: bool,
    summary: Summary,
    /// (start µs since the epoch, url, frames with epoch-µs times and no connection yet).
    connections: Vec<(u64, String, Vec<Frame>)>,
}

impl Sink {
    fn entry(&mut self, raw: &RawValue) {
        self.summary.entries += 1;
        let entry: Entry = match serde_json::from_str(raw.get()) {
            Ok(e) => e,
            Err(_) => return self.summary.skip("malformed entries"),
        };
        let path = url_path(&entry.request.url);
        if !path.ends_with("/responses") {
            return self.summary.skip("entries not to /v1/responses");
        }
        let Some(start) = parse_time(&entry.started) else {
            return self
                .summary
                .skip("entries without a readable startedDateTime");
        };
        let websocket = entry.messages.is_some()
            || entry.resource_type.as_deref() == Some("websocket")
            || entry.response.status == 101;
        let frames = if websocket {
            self.websocket(&entry, start)
        } else if entry.request.method.eq_ignore_ascii_case("POST") {
            self.http(&entry, start, &path)
        } else {
            return self.summary.skip("other requests to /v1/responses");
        };
        if let Some(frames) = frames {
            let url = if websocket {
                ws_url(&entry.request.url)
            } else {
                entry.request.url.clone()
            };
            self.connections.push((start, url, frames));
        }
    }

    fn websocket(&mut self, entry: &Entry, start: u64) -> Option<Vec<Frame>> {
        let messages = entry.messages.as_deref().unwrap_or_default();
        if messages.is_empty() {
            self.summary
                .skip("WebSocket entries without _webSocketMessages");
            return None;
        }
        self.summary.websocket += 1;
        let url = ws_url(&entry.request.url);
        let mut frames = vec![meta(
            start,
            &json!({"event": "connect", "url": url, "store": null}),
        )];
        frames.extend(client_meta(start, &entry.request.headers));
        frames.extend(kept_meta(entry, start));
        let mut end = start + millis(entry.time);
        for m in messages {
            let dir = match m.kind.as_str() {
                "send" => Dir::Sent,
                "receive" => Dir::Recv,
                _ => {
                    self.summary.skip("messages of unknown type");
                    continue;
                }
            };
            let payload = match m.opcode {
                1 => Payload::from_text(m.data.clone()),
                2 => {
                    self.summary.binary_messages += 1;
                    Payload::Binary(
                        base64::engine::general_purpose::STANDARD
                            .decode(m.data.as_bytes())
                            .unwrap_or_else(|_| m.data.clone().into_bytes()),
                    )
                }
                _ => {
                    self.summary.skip("control messages (close, ping, pong)");
                    continue;
                }
            };
            let t = seconds(m.time).unwrap_or(start).max(start);
            end = end.max(t);
            self.summary.messages += 1;
            frames.push(frame(t, dir, payload));
        }
        // Chrome keeps no close frame; turnscope's own export keeps it in `_webSocketClose`.
        let (code, reason) = match &entry.close {
            Some(c) => (c.code, c.reason.clone()),
            None => (None, Some("the HAR entry ends here".to_owned())),
        };
        frames.push(meta(
            end,
            &json!({"event": "close", "code": code, "reason": reason, "by": "har"}),
        ));
        Some(frames)
    }

    fn http(&mut self, entry: &Entry, start: u64, path: &str) -> Option<Vec<Frame>> {
        let Some(body) = entry
            .request
            .post_data
            .as_ref()
            .and_then(|p| p.text.clone())
        else {
            self.summary
                .skip("POST /v1/responses entries without a body");
            return None;
        };
        self.summary.http += 1;
        let mut frames = vec![meta(
            start,
            &json!({"event": "http_request", "path": path, "method": "POST", "url": entry.request.url}),
        )];
        frames.extend(client_meta(start, &entry.request.headers));
        frames.push(frame(start, Dir::Sent, Payload::from_text(body)));
        let status = entry.response.status;
        let end = start + millis(entry.time);
        let kept: Vec<Frame> = kept_meta(entry, start).collect();
        if kept.is_empty() && !(200..300).contains(&status) {
            let message = format!("upstream answered POST {path} with HTTP {status}");
            frames.push(meta(start, &json!({"event": "error", "message": message})));
        }
        frames.extend(kept);
        let first_byte = entry
            .timings
            .as_ref()
            .map_or(end, |t| start + t.before_first_byte())
            .min(end);
        let content = &entry.response.content;
        let text = match (&content.text, content.encoding.as_deref()) {
            (Some(t), Some("base64")) => base64::engine::general_purpose::STANDARD
                .decode(t.as_bytes())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            (Some(t), _) => t.clone(),
            (None, _) => String::new(),
        };
        let sse = content.mime_type.starts_with("text/event-stream")
            || text.starts_with("event:")
            || text.starts_with("data:");
        if sse {
            let events = crate::protocol::SseParser::parse_all(&text);
            let last = events.len().saturating_sub(1);
            for (i, event) in events.into_iter().enumerate() {
                let t = if i == last { end } else { first_byte };
                frames.push(frame(t, Dir::Recv, Payload::from_text(event.data)));
            }
        } else if !text.is_empty() {
            frames.push(frame(end, Dir::Recv, Payload::from_text(text)));
        }
        frames.push(meta(
            end,
            &json!({"event": "close", "code": null, "reason": "the HTTP response ended", "by": "upstream"}),
        ));
        Some(frames)
    }

    /// Numbers connections by start time, makes times relative to the first, sorts frames.
    fn finish(mut self) -> Loaded {
        self.connections.sort_by_key(|(start, _, _)| *start);
        let base = self.connections.first().map_or(0, |(s, _, _)| *s);
        let url = self.connections.first().map(|(_, u, _)| u.clone());
        let mut frames = Vec::new();
        for (conn, (_, _, list)) in self.connections.into_iter().enumerate() {
            let conn = u32::try_from(conn).unwrap_or(u32::MAX);
            frames.extend(list.into_iter().map(|mut f| {
                f.wall = wall(f.t_us);
                f.t_us = f.t_us.saturating_sub(base);
                f.conn = conn;
                f
            }));
        }
        // Stable: frames at the same instant keep their order within a connection.
        frames.sort_by_key(|f| f.t_us);
        // Said once, where every view shows notes: what HAR's timing limits.
        let note = json!({"event": "note", "text": format!("HAR capture: {}", super::TIMING_NOTE)});
        frames.insert(0, Frame::meta(0, wall(base), 0, &note));
        let header = Header {
            turnscope: crate::transcript::FORMAT_VERSION,
            created: wall(base),
            source: "har".into(),
            url,
            model: None,
        };
        Loaded {
            header,
            frames,
            summary: self.summary,
        }
    }
}

fn frame(t_us: u64, dir: Dir, payload: Payload) -> Frame {
    Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload,
    }
}

fn meta(t_us: u64, body: &serde_json::Value) -> Frame {
    Frame::meta(t_us, String::new(), 0, body)
}

/// Meta lines turnscope's own export kept in `_turnscopeMeta`.
fn kept_meta(entry: &Entry, start: u64) -> impl Iterator<Item = Frame> + '_ {
    entry
        .meta
        .iter()
        .map(move |m| meta(seconds(m.time).unwrap_or(start), &m.meta))
}

/// The `client` meta line for the handshake's non-secret headers, if any.
fn client_meta(t_us: u64, headers: &[NameValue]) -> Option<Frame> {
    let pairs = headers.iter().map(|h| (h.name.as_str(), h.value.as_str()));
    crate::ledger::client::meta_body(pairs).map(|body| meta(t_us, &body))
}

fn wall(epoch_us: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(epoch_us);
    humantime::format_rfc3339_micros(time).to_string()
}

/// Milliseconds (a HAR duration; `-1` means unknown) as µs.
fn millis(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        // Rounded to whole µs; HAR durations are far below u64's range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let us = (ms * 1000.0).round() as u64;
        us
    } else {
        0
    }
}

/// Epoch seconds (a WebSocket message's `time`) as epoch µs.
fn seconds(s: f64) -> Option<u64> {
    (s.is_finite() && s > 0.0).then(|| millis(s * 1000.0))
}

/// An RFC 3339 time with `Z` or a `±hh:mm` offset (mitmproxy writes `+00:00`) as epoch µs.
pub(super) fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let (local, offset_s) = match text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        Some(rest) => (rest, 0i64),
        None => {
            let split = text.len().checked_sub(6)?;
            let (rest, zone) = text.split_at_checked(split)?;
            let sign = match zone.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let hours: i64 = zone.get(1..3)?.parse().ok()?;
            let minutes: i64 = zone.get(4..6)?.parse().ok()?;
            (rest, sign * (hours * 3600 + minutes * 60))
        }
    };
    let time = humantime::parse_rfc3339_weak(local).ok()?;
    let us = i64::try_from(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros()).ok()?;
    u64::try_from(us - offset_s * 1_000_000).ok()
}

/// The path of a URL (`scheme://host/path?query` → `/path`).
fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.to_owned()
}

/// The WebSocket URL of an entry (mitmproxy writes the handshake's `http://` URL).
fn ws_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_owned()
    }
}

/// The fields of a HAR entry turnscope reads; every other field is skipped unread.
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "startedDateTime", default)]
    started: String,
    #[serde(default)]
    time: f64,
    #[serde(default)]
    request: Request,
    #[serde(default)]
    response: Response,
    #[serde(default)]
    timings: Option<Timings>,
    #[serde(rename = "_resourceType", default)]
    resource_type: Option<String>,
    #[serde(rename = "_webSocketMessages", default)]
    messages: Option<Vec<Message>>,
    #[serde(rename = "_webSocketClose", default)]
    close: Option<Close>,
    #[serde(rename = "_turnscopeMeta", default)]
    meta: Vec<KeptMeta>,
}

/// A meta line turnscope's own export kept (an error, a note, a reconnect reason).
#[derive(Deserialize)]
struct KeptMeta {
    #[serde(default)]
    time: f64,
    meta: serde_json::Value,
}

/// How a WebSocket connection closed (turnscope's own field; other tools do not write it).
#[derive(Deserialize)]
struct Close {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Request {
    #[serde(default)]
    method: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(rename = "postData", default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize, Default)]
struct Response {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    content: Content,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(rename = "mimeType", default)]
    mime_type: String,
}

#[derive(Deserialize, Default)]
struct PostData {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    #[serde(default)]
    value: String,
}

/// HAR phase durations, ms; `-1` (or absent) means not applicable.
#[derive(Deserialize, Default)]
struct Timings {
    #[serde(default)]
    blocked: f64,
    #[serde(default)]
    dns: f64,
    #[serde(default)]
    connect: f64,
    #[serde(default)]
    send: f64,
    #[serde(default)]
    wait: f64,
}

impl Timings {
    /// µs from the entry's start to the response's first byte (`ssl` is inside `connect`).
    fn before_first_byte(&self) -> u64 {
        [self.blocked, self.dns, self.connect, self.send, self.wait]
            .into_iter()
            .map(millis)
            .sum()
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    time: f64,
    #[serde(default = "text_opcode")]
    opcode: u8,
    #[serde(default)]
    data: String,
}

fn text_opcode() -> u8 {
    1
}

/// The whole file: finds `log`, skips everything else.
struct Root<'s>(&'s mut Sink);

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with a \"log\" key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "log" {
                self.0.saw_log = true;
                map.next_value_seed(Log(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `log`: reads `creator`, streams `entries`.
struct Log<'s>(&'s mut Sink);

#[derive(Deserialize)]
struct Creator {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
}

impl<'de> DeserializeSeed<'de> for Log<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the \"log\" object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "entries" => {
                    self.0.saw_entries = true;
                    map.next_value_seed(Entries(&mut *self.0))?;
                }
                "creator" => {
                    let c: Creator = map.next_value()?;
                    self.0.summary.creator =
                        Some(format!("{} {}", c.name, c.version).trim().to_owned());
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `log.entries`: hands each entry's raw text to the sink, then drops it.
struct Entries<'s>(&'s mut Sink);

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the \"entries\" array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            self.0.entry(&raw);
        }
        Ok(())
    }
}
