//! The recorder: a task that turns relayed messages into frames, writes them, then notifies.
//!
//! Relays hand over their bodies and return to relaying at once; JSON classification,
//! redaction, formatting and file I/O all happen here, off the relay path, each once per frame.
//! A body holds its share of the proxy's byte budget ([`super::events`]) from the relay until the
//! reader receives it.
//!
//! Handoffs are per burst, not per frame: a relay hands over every frame one flush of its socket
//! delivered as one job, and the task takes every job queued while it was busy, writes all their
//! lines with one write, and only then passes their events on. Each line is complete in the file
//! before the reader sees its frame and before the next batch starts. A wake, a budget wait and
//! a write per frame were most of the relay's CPU on small frames.
//!
//! It is a task on the proxy's runtime, not a thread of its own: a thread was woken (a futex and
//! a context switch) for every frame, and `perf` put ~9% of the relay's CPU in that switch alone.
//! Its file writes are small appends to the page cache, between two batches.

use std::path::Path;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};

use super::events::{Budget, EventsTx, Queued, Reservation};
use super::{ProxyError, ProxyEvent};
use crate::frame::{Dir, Frame, Payload};
use crate::secrets::Secrets;
use crate::transcript::{Header, Writer};

/// What a relayed frame carried.
#[derive(Debug)]
pub(crate) enum Body {
    /// A WebSocket binary message (or a text one that is not UTF-8).
    Binary(Vec<u8>),
    /// A WebSocket text message, or text from an HTTP exchange (a request body, an SSE event's
    /// data).
    Text(String),
    /// A meta frame's JSON object.
    Meta(String),
}

#[derive(Debug)]
enum Job {
    /// Frames of one connection and direction, in order: a relay hands over a whole burst at
    /// once (one wake of this task and one budget wait for the burst, not one per frame).
    Frames {
        wall: SystemTime,
        conn: u32,
        dir: Dir,
        frames: Vec<(u64, Body)>,
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
        self.frames(conn, dir, vec![(t_us, body)]).await;
    }

    /// Records frames relayed one after another on `conn` in `dir` (each with the time it was
    /// taken), after forwarding them; waits as [`RecorderTx::frame`] does, once for all.
    pub async fn frames(&self, conn: u32, dir: Dir, frames: Vec<(u64, Body)>) {
        if frames.is_empty() {
            return;
        }
        let wall = SystemTime::now();
        let held = self
            .budget
            .reserve(frames.iter().map(|(_, body)| body.len()).sum())
            .await;
        self.send(wall, conn, dir, frames, held);
    }

    /// Records a meta frame (a JSON object). Meta frames are small and few (one per connect,
    /// close or error), so they never wait for the budget.
    pub fn meta(&self, t_us: u64, conn: u32, json: String) {
        self.send(
            SystemTime::now(),
            conn,
            Dir::Meta,
            vec![(t_us, Body::Meta(json))],
            None,
        );
    }

    fn send(
        &self,
        wall: SystemTime,
        conn: u32,
        dir: Dir,
        frames: Vec<(u64, Body)>,
        held: Option<Reservation>,
    ) {
        let _ = self.jobs.send(Job::Frames {
            wall,
            conn,
            dir,
            frames,
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

/// The owner's end: waits for the task to drain.
#[derive(Debug)]
pub(crate) struct RecorderHandle {
    tx: mpsc::UnboundedSender<Job>,
    done: oneshot::Receiver<()>,
}

impl RecorderHandle {
    /// Writes everything queued so far, then stops the task.
    pub async fn finish(self) {
        let _ = self.tx.send(Job::Stop);
        let _ = self.done.await;
    }
}

/// Jobs taken from the queue at once: what the relays handed over while the task was busy.
const JOBS_PER_BATCH: usize = 256;

/// Opens the transcript (if any) and starts the recorder task.
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
        let mut recorder = Recorder {
            writer,
            secrets: Secrets::default(),
            ready: Vec::new(),
        };
        let mut jobs = Vec::with_capacity(JOBS_PER_BATCH);
        let mut stop = false;
        while !stop && rx.recv_many(&mut jobs, JOBS_PER_BATCH).await > 0 {
            for job in jobs.drain(..) {
                match job {
                    Job::Stop => stop = true,
                    job if !stop => recorder.take(job),
                    _ => {}
                }
            }
            // Every line of the batch reaches the file (one write) before its events go out:
            // a reader that sees a frame finds it in the transcript.
            recorder.flush();
            for queued in recorder.ready.drain(..) {
                let _ = events.send(queued);
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

/// The recorder task's state.
struct Recorder {
    writer: Option<Writer>,
    secrets: Secrets,
    /// Events of the batch being written, sent once its lines are in the file.
    ready: Vec<Queued>,
}

impl Recorder {
    fn take(&mut self, job: Job) {
        match job {
            Job::Frames {
                wall,
                conn,
                dir,
                frames,
                mut held,
            } => {
                let wall = humantime::format_rfc3339_micros(wall).to_string();
                let last = frames.len().saturating_sub(1);
                for (i, (t_us, body)) in frames.into_iter().enumerate() {
                    // Each frame holds its own bytes of the burst's reservation (the last one
                    // what is left), given back as the reader receives it.
                    let share = if i == last {
                        held.take()
                    } else {
                        held.as_mut().and_then(|h| h.split(body.len()))
                    };
                    let frame = Frame {
                        t_us,
                        wall: wall.clone(),
                        conn,
                        dir,
                        payload: body.into_payload(),
                    };
                    self.record(frame, share);
                }
            }
            Job::Event(ProxyEvent::Error(message)) => {
                let message = self.secrets.redact_json(&message).into_owned();
                self.send(ProxyEvent::Error(message), None);
            }
            Job::Event(event) => self.send(event, None),
            Job::Secret(secret) => {
                if self.secrets.add(&secret)
                    && let Some(w) = self.writer.as_mut()
                {
                    w.add_secret(&secret);
                }
            }
            Job::Stop => {}
        }
    }

    fn record(&mut self, mut frame: Frame, held: Option<Reservation>) {
        // Redacted before anyone sees it: the transcript, the TUI, exports.
        let changed = self.secrets.redact_frame(&mut frame);
        let mut recorded = None;
        if let Some(w) = self.writer.as_mut() {
            // The writer masks the same secrets: a frame redaction left as it was needs
            // neither that second pass nor a second JSON check. Only such a line holds the
            // frame byte for byte (the second pass may change a line), so only it is placed.
            let written = if changed {
                w.append(&frame).map(|()| None)
            } else {
                w.append_redacted(&frame)
            };
            match written {
                Ok(at) => recorded = at,
                Err(e) => self.failed(&e),
            }
        }
        self.send(ProxyEvent::Frame(frame, recorded), held);
    }

    fn flush(&mut self) {
        if let Some(Err(e)) = self.writer.as_mut().map(Writer::flush) {
            self.failed(&e);
        }
    }

    /// Recording stops at the first failed write; relaying goes on.
    fn failed(&mut self, e: &std::io::Error) {
        // The batch's lines may not all be in the file: its frames keep their own bodies.
        for queued in &mut self.ready {
            if let ProxyEvent::Frame(_, recorded) = &mut queued.event {
                *recorded = None;
            }
        }
        if let Some(w) = self.writer.take() {
            let message = format!(
                "recording to {} failed: {e}; recording stopped, relaying goes on",
                w.path().display()
            );
            self.send(ProxyEvent::Error(message), None);
        }
    }

    fn send(&mut self, event: ProxyEvent, held: Option<Reservation>) {
        self.ready.push(Queued { event, held });
    }
}

impl Body {
    /// Bytes the body holds.
    pub fn len(&self) -> usize {
        match self {
            Body::Binary(bytes) => bytes.len(),
            Body::Text(text) | Body::Meta(text) => text.len(),
        }
    }

    fn into_payload(self) -> Payload {
        match self {
            Body::Text(text) => Payload::from_text(text),
            Body::Binary(bytes) => Payload::Binary(bytes),
            Body::Meta(json) => Payload::Json(json),
        }
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

    /// A burst is one handoff, yet every line is in the file before the reader sees its frame,
    /// in order, and each frame gives its own share of the budget back.
    #[tokio::test]
    async fn a_burst_is_written_before_its_frames_reach_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("burst.tsjsonl");
        let (events_tx, mut events) = super::super::ProxyEvents::channel();
        let budget = Budget::new(1 << 20);
        let header = Header::new("proxy", None, None);
        let (tx, handle) = spawn(Some(&path), &header, events_tx, budget.clone()).unwrap();
        let burst: Vec<(u64, Body)> = (0..10u64)
            .map(|i| {
                (
                    i,
                    Body::Text(format!(
                        r#"{{"type":"response.output_text.delta","delta":"{i}"}}"#
                    )),
                )
            })
            .collect();
        let sizes: usize = burst.iter().map(|(_, b)| b.len()).sum();
        tx.frames(2, Dir::Recv, burst).await;
        let mut seen = 0;
        while seen < 10 {
            let Some(ProxyEvent::Frame(frame, _)) = events.recv().await else {
                panic!("expected a frame event");
            };
            assert_eq!(frame.t_us, seen);
            seen += 1;
            // Header plus all ten lines, complete, before the first frame is seen.
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.lines().count(), 11, "{text}");
            assert!(text.ends_with('\n'));
            // Frames not read yet still hold their bytes.
            assert!(budget.free() < 1 << 20 || seen == 10);
        }
        assert_eq!(
            budget.free(),
            1 << 20,
            "every frame gave back its share of {sizes}"
        );
        handle.finish().await;
    }

    /// Frames carry their place in the recording until a write fails: then the frames of the
    /// failed batch lose theirs (their lines may not be in the file) and later ones get none.
    #[test]
    fn a_failed_write_takes_the_places_of_its_batch_and_of_every_later_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failing.tsjsonl");
        let header = Header::new("proxy", None, None);
        let mut recorder = Recorder {
            writer: Some(Writer::create(&path, &header, &[]).unwrap()),
            secrets: Secrets::default(),
            ready: Vec::new(),
        };
        let json = |i: u64| Frame {
            t_us: i,
            wall: "2026-11-28T11:00:00.000000Z".into(),
            conn: 0,
            dir: Dir::Recv,
            payload: Payload::Json(format!(r#"{{"n":{i}}}"#)),
        };
        let places = |ready: &[Queued]| -> Vec<bool> {
            ready
                .iter()
                .filter_map(|q| match &q.event {
                    ProxyEvent::Frame(_, at) => Some(at.is_some()),
                    _ => None,
                })
                .collect()
        };
        recorder.record(json(0), None);
        recorder.flush();
        assert_eq!(places(&recorder.ready), [true], "a flushed line is placed");
        recorder.ready.clear();
        recorder.record(json(1), None);
        recorder.record(json(2), None);
        assert_eq!(places(&recorder.ready), [true, true]);
        recorder.failed(&std::io::Error::other("disk full"));
        recorder.record(json(3), None);
        assert_eq!(places(&recorder.ready), [false, false, false]);
        assert!(
            recorder.ready.iter().any(
                |q| matches!(&q.event, ProxyEvent::Error(m) if m.contains("recording stopped"))
            )
        );
    }

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
