//! Rerun: a recording's client events sent again through the session actor, ids remapped,
//! and the old and new turns compared side by side.
//!
//! Events go out in recorded order. Before each one, the rerun waits for the new counterparts
//! of every turn whose id (`response.created`) or terminal event was recorded before it, so
//! lanes, steers, warm-ups and tool loops keep their original causality, and every id a later
//! event names is known. `previous_response_id` is rewritten from the recorded id to the id the
//! server gave this time; recorded `function_call_output`s are fed back with their `call_id`
//! rewritten to the new response's call in the same position.
//!
//! Old and new turns are paired by request identity, never by position: a create by the event
//! that sent it, a steered successor by the (mapped) response it continues. An event that
//! starts no turn, or a turn only one run has, cannot shift the rows.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub mod compare;

pub use compare::{Comparison, Row, TurnFigures, table};

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

/// One client event to send again.
#[derive(Debug)]
struct Step {
    /// Connection it was sent on (a change means reconnect first).
    conn: u32,
    /// The event text as recorded.
    text: String,
    /// Recorded turn (index) this event started, when it is a `response.create`.
    create: Option<usize>,
    /// Recorded turns whose response id was known before this event.
    named: Vec<usize>,
    /// Recorded turns whose terminal event came before this event.
    after: Vec<usize>,
    /// Not a create, and the server answered it with an `error` before the next client event:
    /// wait for that error, or it lands on the next turn sent.
    answered_by_error: bool,
}

/// An `error` event (the type is the first field the server writes, but do not rely on it).
fn is_error_event(json: &str) -> bool {
    json.contains("\"type\":\"error\"")
        && serde_json::from_str::<Value>(json)
            .is_ok_and(|v| v.get("type").and_then(Value::as_str) == Some("error"))
}

/// When each recorded turn got its id and its end (frame indices; `u64::MAX` = never).
fn milestones(frames: &[Frame], old: &Ledger) -> Vec<(u64, u64)> {
    old.turns()
        .iter()
        .map(|t| {
            let created = t
                .frames
                .iter()
                .find(|&f| {
                    usize::try_from(f)
                        .ok()
                        .and_then(|f| frames.get(f))
                        .and_then(|f| f.payload.json())
                        .is_some_and(|j| j.contains("\"response.created\""))
                })
                .filter(|_| t.response_id.is_some())
                .unwrap_or(u64::MAX);
            let end = match t.frames.last() {
                Some(last) if t.status.is_final() => last,
                _ => u64::MAX,
            };
            (created, end)
        })
        .collect()
}

/// The recorded client events in order, with what each must wait for.
fn plan(frames: &[Frame], old: &Ledger, notes: &mut Vec<String>) -> Vec<Step> {
    let marks = milestones(frames, old);
    let by_request: HashMap<u64, usize> = old
        .turns()
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.request_frame?, i)))
        .collect();
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
        let before = |pick: fn(&(u64, u64)) -> u64| {
            marks
                .iter()
                .enumerate()
                .filter(|(_, m)| pick(m) < i)
                .map(|(k, _)| k)
                .collect()
        };
        let create = by_request.get(&i).copied();
        let answered_by_error = create.is_none()
            && frames[i as usize + 1..]
                .iter()
                .take_while(|f| f.dir != Dir::Sent)
                .any(|f| f.dir == Dir::Recv && f.payload.json().is_some_and(is_error_event));
        steps.push(Step {
            conn: frame.conn,
            text,
            create,
            answered_by_error,
            named: before(|m| m.0),
            after: before(|m| m.1),
        });
    }
    steps
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
    /// Client frames seen so far: (frame index in the new ledger, text), in send order.
    sent: Vec<(u64, String)>,
    /// New request frame of each recorded create turn (by old turn index), once matched.
    requests: HashMap<usize, u64>,
    /// `error` events received so far.
    errors: usize,
}

impl Live {
    fn absorb(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Frame(frame) => {
                if frame.dir == Dir::Sent {
                    let text = String::from_utf8_lossy(frame.payload.as_bytes()).into_owned();
                    self.sent.push((self.ledger.frame_count(), text));
                } else if frame.dir == Dir::Recv && frame.payload.json().is_some_and(is_error_event)
                {
                    self.errors += 1;
                }
                self.ledger.push(&frame);
            }
            SessionEvent::State(ConnState::Connected { conn }) => {
                self.conn = Some(conn);
                self.opened += 1;
            }
            SessionEvent::State(ConnState::Failed { message }) => self.failed = Some(message),
            SessionEvent::State(
                ConnState::Idle | ConnState::Closed { .. } | ConnState::Connecting { .. },
            ) => {
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

    /// The new counterpart of recorded turn `i`: the turn its request started, or for a steered
    /// successor, the successor of the (mapped) response it continues.
    fn counterpart(&self, old: &Ledger, i: usize, ids: &HashMap<String, String>) -> Option<&Turn> {
        let recorded = old.turns().get(i)?;
        if let Some(&frame) = self.requests.get(&i) {
            return self
                .ledger
                .turns()
                .iter()
                .find(|t| t.request_frame == Some(frame));
        }
        if !recorded.steered_successor {
            return None;
        }
        let parent = ids.get(recorded.previous_response_id.as_deref()?)?;
        self.ledger
            .turns()
            .iter()
            .find(|t| t.steered_successor && t.previous_response_id.as_ref() == Some(parent))
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
    let steps = plan(frames, &old, &mut notes);
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
        sent: Vec::new(),
        requests: HashMap::new(),
        errors: 0,
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut calls: HashMap<String, String> = HashMap::new();
    let mut learned_calls: Vec<bool> = vec![false; old.turns().len()];
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
        // Every id this event may name: wait for the counterpart's `response.created` (or end).
        for &k in &step.named {
            if ids.contains_key(old.turns()[k].response_id.as_deref().unwrap_or_default()) {
                continue;
            }
            let waited = live
                .until(config.timeout, |l| {
                    l.counterpart(&old, k, &ids)
                        .is_some_and(|t| t.response_id.is_some() || t.status.is_final())
                })
                .await;
            if let Err(why) = waited {
                stopped = Some(stop_reason(why, &live, secs, old.turns()[k].index));
                break;
            }
            learn_id(&old, k, live.counterpart(&old, k, &ids), &mut ids);
        }
        if stopped.is_some() {
            break;
        }
        for &k in &step.after {
            if learned_calls[k] {
                continue;
            }
            let waited = live
                .until(config.timeout, |l| {
                    l.counterpart(&old, k, &ids)
                        .is_some_and(|t| t.status.is_final())
                })
                .await;
            if let Err(why) = waited {
                stopped = Some(stop_reason(why, &live, secs, old.turns()[k].index));
                break;
            }
            learned_calls[k] = true;
            let new = live.counterpart(&old, k, &ids);
            learn_id(&old, k, new, &mut ids);
            learn_calls(&old, k, new, &mut calls);
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
        let errors = live.errors;
        if !live.handle.send(SessionCommand::Send(text.clone())) {
            stopped = Some(RerunError::SessionEnded("session task gone".into()).to_string());
            break;
        }
        if step.answered_by_error
            && let Err(why) = live.until(config.timeout, |l| l.errors > errors).await
        {
            stopped = Some(format!(
                "no error came back for a client event the server refused in the recording ({why})"
            ));
            break;
        }
        if let Some(k) = step.create {
            // A lane may hold a create back: wait until it is on the wire, then pair it with its
            // recorded turn by its text (the order of sends across lanes may differ).
            let found = live
                .until(config.timeout, |l| l.sent.iter().any(|(_, t)| *t == text))
                .await;
            if let Err(why) = found {
                stopped = Some(stop_reason(why, &live, secs, old.turns()[k].index));
                break;
            }
            let claimed: Vec<u64> = live.requests.values().copied().collect();
            if let Some(&(frame, _)) = live
                .sent
                .iter()
                .find(|(f, t)| *t == text && !claimed.contains(f))
            {
                live.requests.insert(k, frame);
            }
        }
    }
    if stopped.is_none() {
        let all_final = |l: &Live| {
            l.requests.len() == steps.iter().filter(|s| s.create.is_some()).count()
                && l.ledger.turns().iter().all(|t| t.status.is_final())
        };
        if let Err(why) = live.until(config.timeout, all_final).await {
            let first_open = live
                .ledger
                .turns()
                .iter()
                .find(|t| !t.status.is_final())
                .map_or(0, |t| t.index);
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
    // Ids of turns that ended after the last event was sent (successors of late steers).
    for k in 0..old.turns().len() {
        learn_id(&old, k, live.counterpart(&old, k, &ids), &mut ids);
    }
    let rows: Vec<Row> = old
        .turns()
        .iter()
        .enumerate()
        .map(|(k, t)| Row {
            turn: t.index,
            old: TurnFigures::of(t),
            new: live.counterpart(&old, k, &ids).map(TurnFigures::of),
        })
        .collect();
    let status_changes = rows
        .iter()
        .filter(|r| r.new.as_ref().is_none_or(|n| n.status != r.old.status))
        .map(|r| r.turn)
        .collect();
    Comparison {
        url: crate::endpoint::display_url(&config.url),
        recorded_to: live.recorded_to.clone(),
        rows,
        status_changes,
        notes,
        stopped,
    }
}

/// Why the rerun stopped, waiting on recorded turn number `turn` (1-based).
fn stop_reason(why: &str, live: &Live, secs: u64, turn: usize) -> String {
    match why {
        "timeout" => RerunError::Timeout {
            secs,
            turn,
            old_turn: turn,
        }
        .to_string(),
        "failed" => RerunError::Connect(live.failed.clone().unwrap_or_default()).to_string(),
        "unsent" => format!(
            "the event for turn {turn} could not be sent: {}",
            live.unsent.last().cloned().unwrap_or_default()
        ),
        _ => RerunError::SessionEnded("the session task stopped".into()).to_string(),
    }
}

/// Records the new response id of recorded turn `old_index`.
fn learn_id(old: &Ledger, old_index: usize, new: Option<&Turn>, ids: &mut HashMap<String, String>) {
    let recorded = &old.turns()[old_index];
    if let (Some(o), Some(n)) = (
        &recorded.response_id,
        new.and_then(|t| t.response_id.as_ref()),
    ) {
        ids.insert(o.clone(), n.clone());
    }
}

/// Records the new call ids of a finished turn, by position.
fn learn_calls(
    old: &Ledger,
    old_index: usize,
    new: Option<&Turn>,
    calls: &mut HashMap<String, String>,
) {
    let recorded = &old.turns()[old_index];
    for (o, n) in recorded
        .tool_calls
        .iter()
        .zip(new.map_or(&[][..], |t| &t.tool_calls))
    {
        calls.insert(o.call_id.clone(), n.call_id.clone());
    }
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
