//! Live export from the proxy: a tee on its event stream feeds a ledger of its own; each turn
//! becomes a span when it ends, spans go out in batches from a separate task.
//!
//! The relay never waits for any of this: the proxy forwards a frame before it emits the event
//! the tee sees, the tee only clones and queues, and a slow or dead collector stalls only the
//! sender task, whose queue is bounded (excess batches are dropped and counted). The user hears
//! once that the collector is down, and once when it answers again.
//!
//! Memory: frames waiting for the fold hold at most [`QUEUED_FRAME_BYTES`]. A frame that would
//! exceed it is dropped and counted, not waited for: waiting would hold back the UI's events and,
//! through the proxy's byte budget, the relay — telemetry must never slow the agent. The
//! recording keeps every frame, so `turnscope export --otlp` rebuilds exact spans afterwards;
//! the user is told once when frames are dropped and how many at the end. Each turn's frame
//! numbers and text are shed once its span is built, so the fold keeps figures, not bodies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{SessionTrace, Sink, TimeBase};
use crate::frame::{Dir, Frame};
use crate::ledger::Ledger;
use crate::proxy::events::Queued;
use crate::proxy::{ProxyEvent, ProxyEvents};

/// Spans per batch at most.
pub const BATCH_SPANS: usize = 64;
/// A span waits at most this long for its batch to fill.
pub const BATCH_DELAY: Duration = Duration::from_millis(500);
/// How long one live export may take: shorter than `export`'s, a proxy is stopped by hand.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Batches waiting for the sender at most; more are dropped (the collector is not keeping up).
pub const QUEUED_BATCHES: usize = 16;
/// Bytes of frame bodies waiting for the span fold at most; more are dropped and counted.
pub const QUEUED_FRAME_BYTES: usize = 8 << 20;

/// Bytes of frames queued for the fold, shared by the tee (adds) and the fold (gives back).
#[derive(Debug, Default)]
struct Queue {
    bytes: AtomicUsize,
    dropped_frames: AtomicU64,
    dropped_bytes: AtomicU64,
}

impl Queue {
    /// Takes room for `len` bytes; `false` (and counted as dropped) when the queue is full.
    /// A frame larger than the whole queue still goes when the queue is empty.
    fn admit(&self, len: usize, limit: usize) -> bool {
        let admitted = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued == 0 || queued + len <= limit).then_some(queued + len)
            })
            .is_ok();
        if !admitted {
            self.dropped_frames.fetch_add(1, Ordering::Relaxed);
            self.dropped_bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
        admitted
    }

    fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }
}

/// Puts a tee on the proxy's `events`: returns the stream to hand to the UI (the same events,
/// plus one-line export notices as [`ProxyEvent::Error`]) and the pipeline's handle, which
/// finishes after the proxy's stream ends and the last spans were sent (or failed).
pub fn tee(
    mut events: ProxyEvents,
    sink: Sink,
    session: String,
    include_content: bool,
) -> (ProxyEvents, JoinHandle<()>) {
    let limit = QUEUED_FRAME_BYTES;
    let (out_tx, out_rx) = ProxyEvents::channel();
    let (frames_tx, frames_rx) = mpsc::unbounded_channel::<Frame>();
    let queue = Arc::new(Queue::default());
    let tee_queue = queue.clone();
    let (batches_tx, batches_rx) = mpsc::channel::<Vec<SpanData>>(QUEUED_BATCHES);
    let (notices, mut notices_rx) = mpsc::unbounded_channel::<ProxyEvent>();
    let notices_out = out_tx.clone();
    tokio::spawn(async move {
        while let Some(event) = notices_rx.recv().await {
            let _ = notices_out.send(Queued { event, held: None });
        }
    });
    let tee_notices = notices.clone();
    let tee = tokio::spawn(async move {
        let queue = tee_queue;
        // Each event keeps its share of the proxy's memory budget until the UI reads it.
        while let Some(queued) = events.rx.recv().await {
            if let ProxyEvent::Frame(frame, _) = &queued.event {
                if queue.admit(frame.payload.len(), limit) {
                    let _ = frames_tx.send(frame.clone());
                } else if queue.dropped_frames.load(Ordering::Relaxed) == 1 {
                    let _ = tee_notices.send(ProxyEvent::Error(format!(
                        "OTLP export: the span fold is {} MiB behind, frames are dropped from it (not from the relay or the recording); spans of the turns they belong to are incomplete — `turnscope export --otlp` rebuilds them from the recording",
                        limit >> 20
                    )));
                }
            }
            // The UI may have quit already; the spans still go out.
            let _ = out_tx.send(queued);
        }
    });
    let folder = tokio::spawn(fold(
        frames_rx,
        batches_tx,
        notices.clone(),
        (session, include_content),
        queue,
    ));
    let sender = tokio::spawn(send(batches_rx, sink, notices));
    let done = tokio::spawn(async move {
        let _ = tee.await;
        let _ = folder.await;
        let _ = sender.await;
    });
    (out_rx, done)
}

/// The live fold: frames in, finished spans out in batches.
struct Folder {
    ledger: Ledger,
    trace: Option<SessionTrace>,
    session: String,
    include_content: bool,
    /// Sent frames by push index, kept until their turn's span is built.
    sent: BTreeMap<u64, Frame>,
    turn_done: Vec<bool>,
    conn_done: Vec<bool>,
    /// Every turn before this one has its span.
    first_open: usize,
    batch: Vec<SpanData>,
}

async fn fold(
    mut frames: mpsc::UnboundedReceiver<Frame>,
    batches: mpsc::Sender<Vec<SpanData>>,
    notices: mpsc::UnboundedSender<ProxyEvent>,
    (session, include_content): (String, bool),
    queue: Arc<Queue>,
) {
    let mut f = Folder {
        ledger: Ledger::new(),
        trace: None,
        session,
        include_content,
        sent: BTreeMap::new(),
        turn_done: Vec::new(),
        conn_done: Vec::new(),
        first_open: 0,
        batch: Vec::new(),
    };
    let mut dropped = 0usize;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let frame = match deadline {
            Some(at) => tokio::select! {
                frame = frames.recv() => frame,
                () = tokio::time::sleep_until(at) => {
                    deadline = None;
                    hand_over(&mut f.batch, &batches, &notices, &mut dropped);
                    continue;
                }
            },
            None => frames.recv().await,
        };
        let Some(frame) = frame else { break };
        queue.release(frame.payload.len());
        f.push(frame);
        if f.batch.len() >= BATCH_SPANS {
            deadline = None;
            hand_over(&mut f.batch, &batches, &notices, &mut dropped);
        } else if !f.batch.is_empty() && deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + BATCH_DELAY);
        }
    }
    f.finish();
    hand_over(&mut f.batch, &batches, &notices, &mut dropped);
    let lost = queue.dropped_frames.load(Ordering::Relaxed);
    if lost > 0 {
        let _ = notices.send(ProxyEvent::Error(format!(
            "OTLP export: {lost} frame(s), {} bytes, were dropped from the span fold because it fell behind; the recording has them all",
            queue.dropped_bytes.load(Ordering::Relaxed)
        )));
    }
}

/// Queues `batch` for the sender without waiting; a full queue drops it and says so once.
fn hand_over(
    batch: &mut Vec<SpanData>,
    batches: &mpsc::Sender<Vec<SpanData>>,
    notices: &mpsc::UnboundedSender<ProxyEvent>,
    dropped: &mut usize,
) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::take(batch);
    let n = spans.len();
    if batches.try_send(spans).is_err() {
        if *dropped == 0 {
            let _ = notices.send(ProxyEvent::Error(format!(
                "OTLP export is not keeping up: dropped {n} span(s); the relay is not affected"
            )));
        }
        *dropped += n;
    }
}

impl Folder {
    fn push(&mut self, frame: Frame) {
        if self.trace.is_none()
            && let Some(time) = TimeBase::from_frame(&frame)
        {
            self.trace = Some(SessionTrace::new(&self.session, time, self.include_content));
        }
        let index = self.ledger.frame_count();
        self.ledger.push(&frame);
        if frame.dir == Dir::Sent && (self.include_content || is_steer(&frame)) {
            self.sent.insert(index, frame);
        }
        let Some(trace) = &self.trace else { return };
        let turns = self.ledger.turns();
        self.turn_done.resize(turns.len(), false);
        let mut spanned = Vec::new();
        for (i, turn) in turns.iter().enumerate().skip(self.first_open) {
            if !self.turn_done[i] && turn.status.is_final() {
                self.turn_done[i] = true;
                let sent = &self.sent;
                let lookup = move |k: u64| sent.get(&k);
                self.batch
                    .push(trace.turn_span(&self.ledger, turn, &lookup));
                spanned.push(i);
            }
        }
        // A span is built once: its turn's text and frame numbers are not needed again.
        for i in spanned {
            self.ledger.shed_detail(i);
        }
        let turns = self.ledger.turns();
        while self.turn_done.get(self.first_open) == Some(&true) {
            self.first_open += 1;
        }
        let conns = self.ledger.connections();
        self.conn_done.resize(conns.len(), false);
        for (i, conn) in conns.iter().enumerate() {
            if !self.conn_done[i] && conn.closed_us.is_some() {
                self.conn_done[i] = true;
                self.batch.push(trace.connection_span(&self.ledger, conn));
            }
        }
        // Frames older than the oldest open turn's request are no longer needed.
        let floor = turns
            .get(self.first_open)
            .map_or(index + 1, |t| t.request_frame.unwrap_or(index + 1));
        self.sent = self.sent.split_off(&floor);
    }

    /// The proxy stopped: spans for turns still open, connections still open, and the session.
    fn finish(&mut self) {
        let Some(trace) = &self.trace else { return };
        let sent = &self.sent;
        let lookup = move |k: u64| sent.get(&k);
        for (i, turn) in self.ledger.turns().iter().enumerate() {
            if !self.turn_done.get(i).copied().unwrap_or(false) {
                self.batch
                    .push(trace.turn_span(&self.ledger, turn, &lookup));
            }
        }
        for (i, conn) in self.ledger.connections().iter().enumerate() {
            if !self.conn_done.get(i).copied().unwrap_or(false) {
                self.batch.push(trace.connection_span(&self.ledger, conn));
            }
        }
        self.batch.push(trace.session_span(&self.ledger));
    }
}

fn is_steer(frame: &Frame) -> bool {
    frame.payload.json().is_some_and(super::spans::is_steer)
}

/// Sends batches one after the other; tells the user once when the collector fails and once
/// when it answers again.
async fn send(
    mut batches: mpsc::Receiver<Vec<SpanData>>,
    sink: Sink,
    notices: mpsc::UnboundedSender<ProxyEvent>,
) {
    let mut down = false;
    while let Some(batch) = batches.recv().await {
        let n = batch.len();
        match sink.send(batch).await {
            Ok(()) if down => {
                down = false;
                let _ = notices.send(ProxyEvent::Error(format!(
                    "OTLP export to {} works again",
                    sink.endpoint().unwrap_or("the file")
                )));
            }
            Ok(()) => {}
            Err(e) if !down => {
                down = true;
                let _ = notices.send(ProxyEvent::Error(format!(
                    "{e} ({n} span(s) lost); the proxy keeps relaying and will say when export works again"
                )));
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fold's queue takes frames while they fit, drops and counts the rest, takes a frame
    /// larger than itself only when empty, and has room again once the fold catches up.
    #[test]
    fn the_fold_queue_drops_and_counts_what_does_not_fit() {
        let q = Queue::default();
        assert!(q.admit(60, 100));
        assert!(q.admit(40, 100));
        assert!(!q.admit(1, 100), "full: dropped");
        assert_eq!(q.dropped_frames.load(Ordering::Relaxed), 1);
        assert_eq!(q.dropped_bytes.load(Ordering::Relaxed), 1);
        q.release(60);
        q.release(40);
        assert!(
            q.admit(500, 100),
            "an oversized frame goes when nothing waits"
        );
        assert!(!q.admit(10, 100));
        assert_eq!(q.dropped_frames.load(Ordering::Relaxed), 2);
        q.release(500);
        assert_eq!(q.bytes.load(Ordering::Relaxed), 0);
    }
}
