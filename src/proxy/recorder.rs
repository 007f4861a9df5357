//! The recorder: a task that turns relayed messages into frames, writes them, then notifies.
//!
//! Relays hand over their bodies and return to relaying at once; JSON classification,
//! redaction, formatting and file I/O all happen here, off the relay path, each once per frame.
//! A body holds its share of the proxy's byte budget ([`super::events`]) from the relay until the
//! reader receives it.
//!
//! It is a task on the proxy's runtime, not a thread of its own: a thread was woken (a futex and
//! a context switch) for every frame, and `perf` put ~9% of the relay's CPU in that switch alone.
//! A task woken by the relay runs on the same worker once the relay yields. Its file writes are
//! small appends to the page cache (one per frame, flushed per line) — the same blocking the
//! thread did, now between two frames on one worker.

use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::events::{Budget, EventsTx, Queued, Reservation};
use super::{ProxyError, ProxyEvent};
use crate::frame::{Dir, Frame, Payload};
use crate::secrets::Secrets;
use crate::transcript::{Header, Writer};

/// What a relayed frame carried.
#[derive(Debug)]
pub(crate) enum Body {
    /// A WebSocket text frame.
    Ws(Utf8Bytes),
    /// A WebSocket binary frame.
    Binary(Bytes),
    /// Text from an HTTP exchange (a request body, an SSE event's data).
    Text(String),
    /// A meta frame's JSON object.
    Meta(String),
}

#[derive(Debug)]
enum Job {
    Frame {
        t_us: u64,
        wall: SystemTime,
        conn: u32,
        dir: Dir,
        body: Body,
        held: Option<Reservation>,
    },
    Event(ProxyEvent),
    /// A credential seen on an agent's request: masked in everything recorded after it.
    Secret(String),
    Stop,
}

/// The relays' end of the recorder.
#[derive(Debug, Clone)]
pub(crate) struct RecorderTx {
    jobs: mpsc::UnboundedSender<Job>,
    budget: Budget,
}

impl RecorderTx {
    /// Records a relayed frame taken at `t_us`; call it after forwarding the frame. Waits only
    /// while the proxy's byte budget is spent (a reader far behind; see [`super::events`]).
    pub async fn frame(&self, t_us: u64, conn: u32, dir: Dir, body: Body) {
        let wall = SystemTime::now();
        let held = self.budget.reserve(body.len()).await;
        self.send_frame(t_us, wall, conn, dir, body, held);
    }

    /// Records a meta frame (a JSON object). Meta frames are small and few (one per connect,
    /// close or error), so they never wait for the budget.
    pub fn meta(&self, t_us: u64, conn: u32, json: String) {
        self.send_frame(
            t_us,
            SystemTime::now(),
            conn,
            Dir::Meta,
            Body::Meta(json),
            None,
        );
    }

    fn send_frame(
        &self,
        t_us: u64,
        wall: SystemTime,
        conn: u32,
        dir: Dir,
        body: Body,
        held: Option<Reservation>,
    ) {
        let _ = self.jobs.send(Job::Frame {
            t_us,
            wall,
            conn,
            dir,
            body,
            held,
        });
    }

    /// Lets every relay waiting for the budget go on: at shutdown, frames in flight are
    /// recorded even if no one reads the events any more.
    pub fn lift_budget(&self) {
        self.budget.lift();
    }

    /// Masks the credentials of an agent's request (its `Authorization` bearer, key headers and
    /// query-string keys) in every frame and message recorded after this call.
    pub fn secrets_of(&self, headers: &hyper::HeaderMap, path_and_query: &str) {
        for (name, value) in headers {
            if crate::secrets::is_credential_name(name.as_str())
                && let Ok(value) = value.to_str()
            {
                let _ = self.jobs.send(Job::Secret(value.to_owned()));
                let _ = self
                    .jobs
                    .send(Job::Secret(crate::secrets::credential_of(value).to_owned()));
            }
        }
        for secret in crate::secrets::query_credentials(path_and_query) {
            let _ = self.jobs.send(Job::Secret(secret));
        }
    }

    /// Passes an event to the user, in order with the frames.
    pub fn event(&self, event: ProxyEvent) {
        let _ = self.jobs.send(Job::Event(event));
    }
}

/// The owner's end: waits for the thread to drain.
#[derive(Debug)]
pub(crate) struct RecorderHandle {
    tx: mpsc::UnboundedSender<Job>,
    done: oneshot::Receiver<()>,
}

impl RecorderHandle {
    /// Writes everything queued so far, then stops the thread.
    pub async fn finish(self) {
        let _ = self.tx.send(Job::Stop);
        let _ = self.done.await;
    }
}

/// Opens the transcript (if any) and starts the recorder thread.
pub(crate) fn spawn(
    record: Option<&Path>,
    header: &Header,
    events: EventsTx,
    budget: Budget,
) -> Result<(RecorderTx, RecorderHandle), ProxyError> {
    let writer = match record {
        Some(path) => {
            Some(
                Writer::create(path, header, &[]).map_err(|source| ProxyError::Record {
                    path: path.to_owned(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let (done_tx, done) = oneshot::channel();
    tokio::spawn(async move {
        let mut writer = writer;
        let mut secrets = Secrets::default();
        let send = |event, held| {
            let _ = events.send(Queued { event, held });
        };
        while let Some(job) = rx.recv().await {
            match job {
                Job::Frame {
                    t_us,
                    wall,
                    conn,
                    dir,
                    body,
                    held,
                } => {
                    let mut frame = to_frame(t_us, wall, conn, dir, body);
                    // Redacted before anyone sees it: the transcript, the TUI, exports.
                    let changed = secrets.redact_frame(&mut frame);
                    if let Some(w) = writer.as_mut() {
                        // The writer masks the same secrets: a frame redaction left as it
                        // was needs neither that second pass nor a second JSON check.
                        let written = if changed {
                            w.write(&frame)
                        } else {
                            w.write_redacted(&frame)
                        };
                        if let Err(e) = written {
                            send(
                                ProxyEvent::Error(format!(
                                    "recording to {} failed: {e}; recording stopped, relaying goes on",
                                    w.path().display()
                                )),
                                None,
                            );
                            writer = None;
                        }
                    }
                    send(ProxyEvent::Frame(frame), held);
                }
                Job::Event(ProxyEvent::Error(message)) => {
                    let message = secrets.redact_json(&message).into_owned();
                    send(ProxyEvent::Error(message), None);
                }
                Job::Event(event) => {
                    send(event, None);
                }
                Job::Secret(secret) => {
                    if secrets.add(&secret)
                        && let Some(w) = writer.as_mut()
                    {
                        w.add_secret(&secret);
                    }
                }
                Job::Stop => break,
            }
        }
        let _ = done_tx.send(());
    });
    let relays = RecorderTx {
        jobs: tx.clone(),
        budget,
    };
    Ok((relays, RecorderHandle { tx, done }))
}

impl Body {
    /// Bytes the body holds.
    fn len(&self) -> usize {
        match self {
            Body::Ws(text) => text.len(),
            Body::Binary(bytes) => bytes.len(),
            Body::Text(text) | Body::Meta(text) => text.len(),
        }
    }
}

fn to_frame(t_us: u64, wall: SystemTime, conn: u32, dir: Dir, body: Body) -> Frame {
    let payload = match body {
        Body::Ws(text) => Payload::from_text(text.as_str()),
        Body::Text(text) => Payload::from_text(text),
        Body::Binary(bytes) => Payload::Binary(bytes.to_vec()),
        Body::Meta(json) => Payload::Json(json),
    };
    Frame {
        t_us,
        wall: humantime::format_rfc3339_micros(wall).to_string(),
        conn,
        dir,
        payload,
    }
}

/// A meta object with `original` holding a frame's text: raw when it is one-line JSON, so the
/// original stays byte-exact, else as a JSON string.
pub(crate) fn meta_with_original(event: &str, dir: Dir, original: &str) -> String {
    let dir = match dir {
        Dir::Sent => "sent",
        Dir::Recv => "recv",
        Dir::Meta => "meta",
    };
    let original = match Payload::from_text(original) {
        Payload::Json(raw) => raw,
        other => serde_json::Value::String(String::from_utf8_lossy(other.as_bytes()).into_owned())
            .to_string(),
    };
    format!(r#"{{"event":"{event}","dir":"{dir}","original":{original}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn originals_stay_raw_when_json_and_become_strings_otherwise() {
        let m = meta_with_original("edited", Dir::Sent, r#"{"type":"x", "a":1}"#);
        assert_eq!(
            m,
            r#"{"event":"edited","dir":"sent","original":{"type":"x", "a":1}}"#
        );
        let m = meta_with_original("dropped", Dir::Recv, "not \"json\"");
        assert_eq!(
            m,
            r#"{"event":"dropped","dir":"recv","original":"not \"json\""}"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(&m).is_ok());
    }
}
