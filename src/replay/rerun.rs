//! Rerun: a recording's client events sent again through the session actor, ids remapped,
//! and the old and new turns compared side by side.
//!
//! Events go out in recorded order. Before each one, the rerun waits for the new counterparts
//! of every turn whose terminal event was recorded before it, so lanes, steers and tool loops
//! keep their original causality. `previous_response_id` is rewritten from the recorded id to
//! the id the server gave this time; recorded `function_call_output`s are fed back with their
//! `call_id` rewritten to the new response's call in the same position.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::frame::{Dir, Frame, Payload};
use crate::ledger::{Ledger, Turn};
use crate::session::{self, ConnState, SessionCommand, SessionConfig, SessionEvent};

/// Why a rerun stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RerunError {
    /// The server could not be reached.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The server did not finish a turn in time.
    #[error(
        "timed out after {secs} s waiting for new turn {turn} (recorded turn {old_turn}); raise --timeout or check the server"
    )]
    Timeout {
        /// The limit.
        secs: u64,
        /// New turn number (1-based).
        turn: usize,
        /// Recorded turn number (1-based).
        old_turn: usize,
    },
    /// The session task ended.
    #[error("the session ended before the rerun finished: {0}")]
    SessionEnded(String),
}

/// How to rerun.
#[derive(Debug, Clone)]
pub struct RerunConfig {
    /// The server (`ws://…/v1/responses`).
    pub url: String,
    /// Bearer key for the server, if any (never recorded).
    pub api_key: Option<String>,
    /// Where the new transcript goes.
    pub record: Option<PathBuf>,
    /// Replace the model of every `response.create`.
    pub model: Option<String>,
    /// Longest wait for one turn.
    pub timeout: Duration,
}

/// A turn's figures for the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnFigures {
    /// Status label (`done`, `error`, …).
    pub status: String,
    /// Error code or message, when the turn failed.
    pub error: Option<String>,
    /// `resp_…`.
    pub response_id: Option<String>,
    /// send → terminal event, ms.
    pub latency_ms: Option<f64>,
    /// send → first output, ms.
    pub ttft_ms: Option<f64>,
    /// Server-reported input tokens.
    pub input_tokens: Option<u64>,
    /// Server-reported cached input tokens.
    pub cached_tokens: Option<u64>,
    /// Server-reported output tokens.
    pub output_tokens: Option<u64>,
    /// Bytes of the request as sent.
    pub request_bytes: u64,
}

impl TurnFigures {
    /// The figures of a ledger turn.
    pub fn of(turn: &Turn) -> Self {
        let ms = |us: Option<u64>| us.map(|u| u as f64 / 1000.0);
        let error = match &turn.status {
            crate::ledger::TurnStatus::Error { code, message } => {
                Some(code.clone().unwrap_or_else(|| message.clone()))
            }
            _ => None,
        };
        TurnFigures {
            status: turn.status.label().to_owned(),
            error,
            response_id: turn.response_id.clone(),
            latency_ms: ms(turn.latency_total_us()),
            ttft_ms: ms(turn.ttft_us()),
            input_tokens: turn.usage.as_ref().map(|u| u.input_tokens),
            cached_tokens: turn.cached_tokens(),
            output_tokens: turn.usage.as_ref().map(|u| u.output_tokens),
            request_bytes: turn.incremental.bytes,
        }
    }
}

/// One recorded turn beside its rerun.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Recorded turn number (1-based).
    pub turn: usize,
    /// As recorded.
    pub old: TurnFigures,
    /// This time; `None` when it was never sent (the rerun stopped first).
    pub new: Option<TurnFigures>,
}

/// The result of a rerun.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The server used.
    pub url: String,
    /// The new transcript.
    pub recorded_to: Option<PathBuf>,
    /// One row per recorded `response.create`.
    pub rows: Vec<Row>,
    /// Client events that were not sent (binary frames, unsent at close).
    pub notes: Vec<String>,
    /// Why the rerun stopped early, if it did.
    pub stopped: Option<String>,
}

/// One client event to send again.
#[derive(Debug)]
struct Step {
    /// Connection it was sent on (a change means reconnect first).
    conn: u32,
    /// The event text as recorded.
    text: String,
    /// Recorded create-turn ordinal, when the event is a `response.create`.
    create: Option<usize>,
    /// Recorded create-turn ordinals whose terminal event came before this event.
    after: Vec<usize>,
}

/// The recorded client events in order, with what each must wait for.
fn plan(frames: &[Frame], old: &Ledger, notes: &mut Vec<String>) -> (Vec<Step>, Vec<usize>) {
    // Recorded create turns, in send order: (turn index, request frame, last frame).
    let creates: Vec<(usize, u64, u64)> = old
        .turns()
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let req = t.request_frame?;
            let last = t.frames.last().copied().unwrap_or(req);
            Some((i, req, if t.status.is_final() { last } else { u64::MAX }))
        })
        .collect();
    let by_request: HashMap<u64, usize> =
        creates.iter().enumerate().map(|(k, c)| (c.1, k)).collect();
    let mut steps = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        if frame.dir != Dir::Sent {
            continue;
        }
        let i = i as u64;
        let text = match &frame.payload {
            Payload::Json(s) | Payload::Text(s) => s.clone(),
            Payload::Binary(b) => {
                notes.push(format!(
                    "skipped a {}-byte binary client frame (t={} µs)",
                    b.len(),
                    frame.t_us
                ));
                continue;
            }
        };
        let after = creates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.1 < i && c.2 < i)
            .map(|(k, _)| k)
            .collect();
        steps.push(Step {
            conn: frame.conn,
            text,
            create: by_request.get(&i).copied(),
            after,
        });
    }
    (steps, creates.iter().map(|c| c.0).collect())
}

/// Rewrites a recorded client event for this run; unchanged events stay byte-exact.
fn rewrite(
    text: &str,
    ids: &HashMap<String, String>,
    calls: &HashMap<String, String>,
    model: Option<&str>,
) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return text.to_owned();
    };
    let Some(event) = value.as_object_mut() else {
        return text.to_owned();
    };
    let mut changed = false;
    for key in ["previous_response_id", "response_id"] {
        if let Some(new) = event
            .get(key)
            .and_then(Value::as_str)
            .and_then(|old| ids.get(old))
        {
            event.insert(key.to_owned(), Value::String(new.clone()));
            changed = true;
        }
    }
    if let Some(items) = event.get_mut("input").and_then(Value::as_array_mut) {
        for item in items {
            let is_output = item["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("_call_output"));
            let new = item["call_id"].as_str().and_then(|c| calls.get(c));
            if let (true, Some(new)) = (is_output, new) {
                item["call_id"] = Value::String(new.clone());
                changed = true;
            }
        }
    }
    if let Some(model) = model
        && event.get("type").and_then(Value::as_str) == Some("response.create")
    {
        event.insert("model".into(), Value::String(model.to_owned()));
        changed = true;
    }
    if changed {
        value.to_string()
    } else {
        text.to_owned()
    }
}

/// The live side of a rerun: the session and the ledger of what it sent and received.
struct Live {
    handle: session::SessionHandle,
    ledger: Ledger,
    /// The open connection, `None` while connecting or closed.
    conn: Option<u32>,
    /// Connections opened so far.
    opened: u32,
    unsent: Vec<String>,
    unsent_events: usize,
    failed: Option<String>,
    recorded_to: Option<PathBuf>,
}

impl Live {
    fn absorb(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Frame(frame) => {
                self.ledger.push(&frame);
            }
            SessionEvent::State(ConnState::Connected { conn, .. }) => {
                self.conn = Some(conn);
                self.opened += 1;
            }
            SessionEvent::State(ConnState::Failed { message }) => self.failed = Some(message),
            SessionEvent::State(ConnState::Closed { .. } | ConnState::Connecting { .. }) => {
                self.conn = None;
            }
            SessionEvent::Recording(Ok(path)) => self.recorded_to = Some(path),
            SessionEvent::Recording(Err(e)) => self.unsent.push(e),
            SessionEvent::Unsent { events, why } => {
                self.unsent_events += events.len();
                self.unsent
                    .push(format!("{} client event(s) not sent: {why}", events.len()));
            }
            SessionEvent::Queued { .. } => {}
        }
    }

    /// The new create turns, in send order.
    fn creates(&self) -> Vec<&Turn> {
        self.ledger
            .turns()
            .iter()
            .filter(|t| t.request_frame.is_some())
            .collect()
    }

    /// Pumps session events until `done` holds; `Err` with why when it cannot.
    async fn until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Live) -> bool,
    ) -> Result<(), &'static str> {
        let deadline = tokio::time::Instant::now() + timeout;
        let unsent = self.unsent_events;
        while !done(self) {
            if self.failed.is_some() {
                return Err("failed");
            }
            if self.unsent_events > unsent {
                return Err("unsent");
            }
            match tokio::time::timeout_at(deadline, self.handle.events.recv()).await {
                Ok(Some(event)) => self.absorb(event),
                Ok(None) => return Err("ended"),
                Err(_) => return Err("timeout"),
            }
        }
        Ok(())
    }
}

/// Reruns `frames` (a recording, header excluded) against `config.url`.
pub async fn rerun(frames: &[Frame], config: &RerunConfig) -> Comparison {
    let old = Ledger::from_frames(frames);
    let mut notes = Vec::new();
    let (steps, create_turns) = plan(frames, &old, &mut notes);
    let cancel = CancellationToken::new();
    let session_config = SessionConfig {
        url: config.url.clone(),
        api_key: config.api_key.clone(),
        record: config.record.clone(),
        model: config.model.clone(),
        ..SessionConfig::default()
    };
    let mut live = Live {
        handle: session::spawn(session_config, cancel.clone()),
        ledger: Ledger::without_tokens(),
        conn: None,
        opened: 0,
        unsent: Vec::new(),
        unsent_events: 0,
        failed: None,
        recorded_to: None,
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut calls: HashMap<String, String> = HashMap::new();
    let mut sent_creates = 0usize;
    let mut recorded_conn = None;
    let mut stopped = None;
    let secs = config.timeout.as_secs();
    let connected = live.until(config.timeout, |l| l.conn.is_some()).await;
    if connected.is_err() {
        stopped = Some(match live.failed.clone() {
            Some(m) => RerunError::Connect(m).to_string(),
            None => {
                RerunError::Connect(format!("no connection to {} opened", config.url)).to_string()
            }
        });
    }
    for step in &steps {
        if stopped.is_some() {
            break;
        }
        for &k in &step.after {
            let waited = live
                .until(config.timeout, |l| {
                    l.creates().get(k).is_some_and(|t| t.status.is_final())
                })
                .await;
            if let Err(why) = waited {
                stopped = Some(stop_reason(why, &live, secs, k));
                break;
            }
            learn(
                &old,
                create_turns[k],
                live.creates()[k],
                &mut ids,
                &mut calls,
            );
        }
        if stopped.is_some() {
            break;
        }
        if recorded_conn.is_some_and(|c| c != step.conn) {
            // The recording moved to a new connection here: so does the rerun.
            let opened = live.opened;
            live.handle.send(SessionCommand::Reconnect);
            let reconnected = live
                .until(config.timeout, |l| l.opened > opened && l.conn.is_some())
                .await;
            if let Err(why) = reconnected {
                stopped = Some(format!("reconnect failed ({why})"));
                break;
            }
        }
        recorded_conn = Some(step.conn);
        let text = rewrite(&step.text, &ids, &calls, config.model.as_deref());
        if !live.handle.send(SessionCommand::Send(text)) {
            stopped = Some(RerunError::SessionEnded("session task gone".into()).to_string());
            break;
        }
        if step.create.is_some() {
            sent_creates += 1;
            let n = sent_creates;
            if let Err(why) = live.until(config.timeout, |l| l.creates().len() >= n).await {
                stopped = Some(stop_reason(why, &live, secs, n - 1));
                break;
            }
        }
    }
    if stopped.is_none() {
        let n = sent_creates;
        let all_final = |l: &Live| {
            let creates = l.creates();
            creates.len() >= n && creates.iter().all(|t| t.status.is_final())
        };
        if let Err(why) = live.until(config.timeout, all_final).await {
            let first_open = live
                .creates()
                .iter()
                .position(|t| !t.status.is_final())
                .unwrap_or(0);
            stopped = Some(stop_reason(why, &live, secs, first_open));
        }
    }
    live.handle.send(SessionCommand::Close);
    // Drain until the task ends so the close and the transcript's last lines are recorded.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(event) = live.handle.events.recv().await {
            live.absorb(event);
        }
    })
    .await;
    if drained.is_err() {
        cancel.cancel();
    }
    notes.append(&mut live.unsent);
    let creates = live.creates();
    let rows = create_turns
        .iter()
        .enumerate()
        .map(|(k, &i)| Row {
            turn: old.turns()[i].index,
            old: TurnFigures::of(&old.turns()[i]),
            new: creates.get(k).map(|t| TurnFigures::of(t)),
        })
        .collect();
    Comparison {
        url: session::display_url(&config.url),
        recorded_to: live.recorded_to.clone(),
        rows,
        notes,
        stopped,
    }
}

fn stop_reason(why: &str, live: &Live, secs: u64, k: usize) -> String {
    match why {
        "timeout" => RerunError::Timeout {
            secs,
            turn: k + 1,
            old_turn: k + 1,
        }
        .to_string(),
        "failed" => RerunError::Connect(live.failed.clone().unwrap_or_default()).to_string(),
        "unsent" => format!(
            "new turn {} could not be sent: {}",
            k + 1,
            live.unsent.last().cloned().unwrap_or_default()
        ),
        _ => RerunError::SessionEnded("the session task stopped".into()).to_string(),
    }
}

/// Records the new ids of a finished turn: its response id and its calls, by position.
fn learn(
    old: &Ledger,
    old_index: usize,
    new: &Turn,
    ids: &mut HashMap<String, String>,
    calls: &mut HashMap<String, String>,
) {
    let recorded = &old.turns()[old_index];
    if let (Some(o), Some(n)) = (&recorded.response_id, &new.response_id) {
        ids.insert(o.clone(), n.clone());
    }
    for (o, n) in recorded.tool_calls.iter().zip(&new.tool_calls) {
        calls.insert(o.call_id.clone(), n.call_id.clone());
    }
}

/// The side-by-side table: one line per turn, old │ new for each figure.
pub fn table(c: &Comparison) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<28} {:<28}  {:>17}  {:>15}  {:>15}  {:>13}",
        "turn",
        "status (old)",
        "status (new)",
        "latency ms",
        "input tokens",
        crate::report::PROMPT_CACHE,
        "output tokens"
    );
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), crate::report::fmt_tokens);
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    let status = |f: &TurnFigures| {
        let s = match &f.error {
            Some(e) => format!("{} ({e})", f.status),
            None => f.status.clone(),
        };
        s.chars().take(28).collect::<String>()
    };
    for row in &c.rows {
        let new = row.new.as_ref();
        let pair = |a: String, b: String| format!("{a:>7} │ {b:<7}");
        let _ = writeln!(
            out,
            "{:>4}  {:<28} {:<28}  {:>17}  {:>15}  {:>15}  {:>13}",
            row.turn,
            status(&row.old),
            new.map_or("not sent".to_owned(), status),
            pair(ms(row.old.latency_ms), ms(new.and_then(|n| n.latency_ms))),
            pair(
                opt(row.old.input_tokens),
                opt(new.and_then(|n| n.input_tokens))
            ),
            pair(
                opt(row.old.cached_tokens),
                opt(new.and_then(|n| n.cached_tokens))
            ),
            pair(
                opt(row.old.output_tokens),
                opt(new.and_then(|n| n.output_tokens))
            ),
        );
    }
    for note in &c.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if let Some(why) = &c.stopped {
        let _ = writeln!(out, "stopped early: {why}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_maps_ids_and_call_ids_and_keeps_other_events_exact() {
        let ids = HashMap::from([("resp_old".to_owned(), "resp_new".to_owned())]);
        let calls = HashMap::from([("call_a".to_owned(), "call_b".to_owned())]);
        let create = r#"{"type":"response.create","previous_response_id":"resp_old","input":[{"type":"function_call_output","call_id":"call_a","output":"x"}]}"#;
        let out: Value = serde_json::from_str(&rewrite(create, &ids, &calls, Some("m2"))).unwrap();
        assert_eq!(out["previous_response_id"], "resp_new");
        assert_eq!(out["input"][0]["call_id"], "call_b");
        assert_eq!(out["model"], "m2");
        let untouched = r#"{"type":"response.create",  "input":[]}"#;
        assert_eq!(rewrite(untouched, &ids, &calls, None), untouched);
        assert_eq!(rewrite("not json", &ids, &calls, None), "not json");
    }
}
