//! Writes a recording as a HAR in Chrome's representation: one `_resourceType: "websocket"`
//! entry with `_webSocketMessages` per WebSocket connection, one `POST` entry with its SSE
//! body per HTTP-mode turn. Every text goes through the transcript redaction; only the
//! recorded (non-secret) client headers are written.

use std::collections::BTreeMap;
use std::io::{self, Write};

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::read::parse_time;
use crate::frame::{Dir, Frame, Payload};
use crate::transcript::{Header, redact};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// WebSocket entries.
    pub websocket: u64,
    /// HTTP entries.
    pub http: u64,
    /// WebSocket messages.
    pub messages: u64,
    /// Meta lines other tools have no place for (errors, notes, reconnect reasons), kept in
    /// the entries' `_turnscopeMeta` for turnscope to read back.
    pub meta_kept: u64,
    /// Meta lines that were not JSON and could not be kept.
    pub meta_dropped: u64,
}

/// One connection's frames, gathered.
#[derive(Default)]
struct Conn<'a> {
    http: bool,
    url: Option<String>,
    headers: Map<String, Value>,
    status: Option<i64>,
    /// Close code and reason: Chrome's HAR has no place for them, so `_webSocketClose` keeps them.
    close: Option<Value>,
    /// Other meta lines, kept in `_turnscopeMeta` (other tools ignore `_` fields).
    meta: Vec<Value>,
    start_us: Option<u64>,
    end_us: u64,
    frames: Vec<&'a Frame>,
}

/// Writes `frames` (a whole recording) to `out` as a HAR.
pub fn write_har(header: &Header, frames: &[Frame], out: impl Write) -> io::Result<ExportSummary> {
    let mut out = io::BufWriter::new(out);
    let anchor = epoch_anchor(header, frames);
    let mut summary = ExportSummary::default();
    let mut conns: BTreeMap<u32, Conn<'_>> = BTreeMap::new();
    for f in frames {
        let c = conns.entry(f.conn).or_default();
        c.start_us.get_or_insert(f.t_us);
        c.end_us = c.end_us.max(f.t_us);
        match (&f.dir, f.payload.json()) {
            (Dir::Meta, Some(text)) => {
                let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                match body["event"].as_str().unwrap_or_default() {
                    "connect" => c.url = body["url"].as_str().map(str::to_owned),
                    "http_request" => {
                        c.http = true;
                        c.url = body["url"]
                            .as_str()
                            .or(body["path"].as_str())
                            .map(str::to_owned);
                    }
                    "client" => {
                        if let Some(h) = body["headers"].as_object() {
                            c.headers.clone_from(h);
                        }
                    }
                    "close" => {
                        c.close = Some(json!({"code": body["code"], "reason": body["reason"]}))
                    }
                    event => {
                        if event == "error" {
                            c.status = c.status.or_else(|| http_status(&body));
                        }
                        c.meta
                            .push(json!({"time": seconds(anchor + f.t_us), "meta": body}));
                    }
                }
            }
            (Dir::Meta, None) => summary.meta_dropped += 1,
            _ => c.frames.push(f),
        }
    }
    let creator = json!({"name": "turnscope", "version": env!("CARGO_PKG_VERSION")});
    write!(
        out,
        "{{\"log\":{{\"version\":\"1.2\",\"creator\":{creator},\"pages\":[],\"entries\":["
    )?;
    let mut first = true;
    for conn in conns
        .values()
        .filter(|c| !c.frames.is_empty() || c.url.is_some())
    {
        let entry = if conn.http {
            summary.http += 1;
            http_entry(conn, anchor)
        } else {
            summary.websocket += 1;
            summary.messages += conn.frames.len() as u64;
            ws_entry(conn, anchor)
        };
        summary.meta_kept += conn.meta.len() as u64;
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        serde_json::to_writer(&mut out, &entry)?;
    }
    out.write_all(b"]}}\n")?;
    out.flush()?;
    Ok(summary)
}

/// Epoch µs of `t_us = 0`: from the first frame with a readable wall clock, else the header.
fn epoch_anchor(header: &Header, frames: &[Frame]) -> u64 {
    frames
        .iter()
        .find_map(|f| parse_time(&f.wall).map(|w| w.saturating_sub(f.t_us)))
        .or_else(|| parse_time(&header.created))
        .unwrap_or(0)
}

fn http_status(body: &Value) -> Option<i64> {
    let message = body["message"].as_str()?;
    let after = message.split("with HTTP ").nth(1)?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn iso(epoch_us: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(epoch_us);
    humantime::format_rfc3339_micros(time).to_string()
}

/// Epoch µs as epoch seconds (exact to the µs: such values stay below 2^53).
#[allow(clippy::cast_precision_loss)]
fn seconds(epoch_us: u64) -> f64 {
    epoch_us as f64 / 1e6
}

/// µs as HAR milliseconds.
#[allow(clippy::cast_precision_loss)]
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn header_list(headers: &Map<String, Value>) -> Vec<Value> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = redact(value.as_str().unwrap_or_default(), &[]);
            json!({"name": name, "value": value})
        })
        .collect()
}

fn text_of(frame: &Frame) -> String {
    redact(&String::from_utf8_lossy(frame.payload.as_bytes()), &[])
}

fn ws_entry(conn: &Conn<'_>, anchor: u64) -> Value {
    let start = conn.start_us.unwrap_or(0);
    let messages: Vec<Value> = conn
        .frames
        .iter()
        .map(|f| {
            let kind = if f.dir == Dir::Sent {
                "send"
            } else {
                "receive"
            };
            let time = seconds(anchor + f.t_us);
            let (opcode, data) = match &f.payload {
                Payload::Binary(b) => (2, base64::engine::general_purpose::STANDARD.encode(b)),
                _ => (1, text_of(f)),
            };
            json!({"type": kind, "time": time, "opcode": opcode, "data": data})
        })
        .collect();
    json!({
        "startedDateTime": iso(anchor + start),
        "time": ms(conn.end_us - start),
        "request": {
            "method": "GET",
            "url": conn.url.as_deref().map_or_else(String::new, |u| redact(u, &[])),
            "httpVersion": "HTTP/1.1",
            "headers": header_list(&conn.headers),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 101,
            "statusText": "Switching Protocols",
            "httpVersion": "HTTP/1.1",
            "headers": [],
            "cookies": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 0, "receive": ms(conn.end_us - start)},
        "_resourceType": "websocket",
        "_webSocketMessages": messages,
        "_webSocketClose": conn.close,
        "_turnscopeMeta": conn.meta,
    })
}

fn http_entry(conn: &Conn<'_>, anchor: u64) -> Value {
    let start = conn.start_us.unwrap_or(0);
    let body = conn
        .frames
        .iter()
        .find(|f| f.dir == Dir::Sent)
        .map(|f| text_of(f))
        .unwrap_or_default();
    let received: Vec<&&Frame> = conn.frames.iter().filter(|f| f.dir == Dir::Recv).collect();
    let first = received.first().map_or(conn.end_us, |f| f.t_us);
    let last = received.last().map_or(conn.end_us, |f| f.t_us);
    // A single body without an event `type` was a plain JSON answer, not a stream.
    let plain = received.len() == 1
        && received[0]
            .payload
            .json()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .is_some_and(|v| v.get("type").is_none());
    let (mime, text) = if plain {
        ("application/json", text_of(received[0]))
    } else {
        let mut sse = String::new();
        for f in &received {
            let data = text_of(f);
            let kind = serde_json::from_str::<Value>(&data)
                .ok()
                .and_then(|v| v["type"].as_str().map(str::to_owned));
            if let Some(kind) = kind {
                sse.push_str(&format!("event: {kind}\n"));
            }
            for line in data.split('\n') {
                sse.push_str(&format!("data: {line}\n"));
            }
            sse.push('\n');
        }
        ("text/event-stream", sse)
    };
    let status = conn.status.unwrap_or(200);
    let wait = first.saturating_sub(start);
    let receive = last.saturating_sub(first);
    json!({
        "startedDateTime": iso(anchor + start),
        "time": ms(wait + receive),
        "request": {
            "method": "POST",
            "url": conn.url.as_deref().map_or_else(String::new, |u| redact(u, &[])),
            "httpVersion": "HTTP/1.1",
            "headers": header_list(&conn.headers),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": body.len(),
            "postData": {"mimeType": "application/json", "text": body},
        },
        "response": {
            "status": status,
            "statusText": if status == 200 { "OK" } else { "" },
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "content-type", "value": mime}],
            "cookies": [],
            "content": {"size": text.len(), "mimeType": mime, "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": text.len(),
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": ms(wait), "receive": ms(receive)},
        "_resourceType": "fetch",
        "_turnscopeMeta": conn.meta,
    })
}
