//! Breakpoints: which text frames to hold, and the held frames waiting for a decision.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use tokio::sync::oneshot;

use super::recorder::RecorderTx;
use super::{ProxyError, ProxyEvent};
use crate::frame::Dir;
use crate::protocol::{EventHead, ServerEventKind};

/// Which way a breakpoint watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Agent → upstream (`Dir::Sent`).
    ClientToServer,
    /// Upstream → agent (`Dir::Recv`).
    ServerToClient,
    /// Both ways.
    Both,
}

impl Direction {
    fn covers(self, dir: Dir) -> bool {
        matches!(
            (self, dir),
            (Direction::Both, _)
                | (Direction::ClientToServer, Dir::Sent)
                | (Direction::ServerToClient, Dir::Recv)
        )
    }
}

/// Which frames a breakpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every text frame.
    Any,
    /// Frames whose `type` is this (`response.create`, `response.completed`, …).
    EventType(String),
    /// Frames where the JSON pointer resolves to this value (`/response/status == "failed"`).
    Pointer {
        /// An RFC 6901 JSON pointer, e.g. `/response/status`.
        pointer: String,
        /// The value to compare with; `None` means "exists and is not null".
        equals: Option<Value>,
    },
}

impl Condition {
    /// Parses `*`, a known event type, `/pointer`, or `/pointer == JSON` (a bare word on the
    /// right is taken as a string). An unknown event type is refused: it would never fire, and
    /// a typo (`response.complete`) must not pass silently; other types match by `/type == NAME`.
    pub fn parse(spec: &str) -> Result<Self, ProxyError> {
        let s = spec.trim();
        let bad = |detail: &str| ProxyError::BadBreakpoint {
            spec: spec.to_owned(),
            detail: detail.to_owned(),
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s == "*" || s == "all" {
            return Ok(Condition::Any);
        }
        if !s.starts_with('/') {
            if s.contains(char::is_whitespace) || s.contains("==") {
                return Err(bad(
                    "an event type has no spaces; a condition starts with a JSON pointer (/…)",
                ));
            }
            if !known_event_type(s) {
                return Err(bad(
                    "not an event type of the protocol (match any other type with /type == NAME)",
                ));
            }
            return Ok(Condition::EventType(s.to_owned()));
        }
        let (pointer, equals) = match s.split_once("==") {
            Some((p, v)) => {
                let v = v.trim();
                if v.is_empty() {
                    return Err(bad("nothing after =="));
                }
                let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.into()));
                (p.trim(), Some(value))
            }
            None => (s, None),
        };
        if pointer.contains(char::is_whitespace) {
            return Err(bad("the JSON pointer has a space; compare with =="));
        }
        Ok(Condition::Pointer {
            pointer: pointer.to_owned(),
            equals,
        })
    }

    fn matches(&self, text: &str, parsed: &mut Option<Option<Value>>) -> bool {
        match self {
            Condition::Any => true,
            Condition::EventType(kind) => EventHead::parse(text)
                .and_then(|h| h.kind)
                .is_some_and(|k| k == kind.as_str()),
            Condition::Pointer { pointer, equals } => {
                let value = parsed.get_or_insert_with(|| serde_json::from_str(text).ok());
                let found = value.as_ref().and_then(|v| v.pointer(pointer));
                match (found, equals) {
                    (Some(v), Some(want)) => v == want,
                    (Some(v), None) => !v.is_null(),
                    (None, _) => false,
                }
            }
        }
    }
}

/// True for the event types the protocol defines (client or server): `--break` accepts these
/// by name. Server types are those [`ServerEventKind::of`] knows (tool and reasoning families
/// included).
fn known_event_type(kind: &str) -> bool {
    matches!(kind, "response.create" | "response.steer")
        || ServerEventKind::of(kind) != ServerEventKind::Other
}

/// One breakpoint: a direction and a condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakpoint {
    /// Which way it watches.
    pub direction: Direction,
    /// Which frames it holds.
    pub condition: Condition,
}

impl Breakpoint {
    /// Parses `[c2s:|s2c:]CONDITION` (no prefix = both ways), e.g. `c2s:response.create`,
    /// `s2c:/response/status == "failed"`, `*`.
    pub fn parse(spec: &str) -> Result<Self, ProxyError> {
        let s = spec.trim();
        let (direction, rest) = if let Some(rest) = s.strip_prefix("c2s:") {
            (Direction::ClientToServer, rest)
        } else if let Some(rest) = s.strip_prefix("s2c:") {
            (Direction::ServerToClient, rest)
        } else {
            (Direction::Both, s)
        };
        // `x2y:*` is a mistyped direction, not an event type: no event type has a colon.
        if direction == Direction::Both
            && let Some((prefix, _)) = s.split_once(':')
            && !s.starts_with('/')
        {
            return Err(ProxyError::BadBreakpoint {
                spec: spec.to_owned(),
                detail: format!("unknown direction {prefix:?} (c2s: or s2c:)"),
            });
        }
        Ok(Breakpoint {
            direction,
            condition: Condition::parse(rest)?,
        })
    }
}

/// A set of breakpoints; a frame is held when any one matches. The default holds nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breakpoints {
    /// The breakpoints.
    pub rules: Vec<Breakpoint>,
}

impl Breakpoints {
    /// Holds every text frame going `direction`.
    pub fn all(direction: Direction) -> Self {
        Breakpoints {
            rules: vec![Breakpoint {
                direction,
                condition: Condition::Any,
            }],
        }
    }

    /// Adds one breakpoint.
    #[must_use]
    pub fn with(mut self, direction: Direction, condition: Condition) -> Self {
        self.rules.push(Breakpoint {
            direction,
            condition,
        });
        self
    }

    /// True when a text frame going `dir` is to be held.
    pub fn matches(&self, dir: Dir, text: &str) -> bool {
        let mut parsed = None;
        self.rules
            .iter()
            .any(|r| r.direction.covers(dir) && r.condition.matches(text, &mut parsed))
    }

    fn watches(&self, dir: Dir) -> bool {
        self.rules.iter().any(|r| r.direction.covers(dir))
    }
}

/// What to do with a held frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakpointDecision {
    /// Send it on unchanged.
    Forward,
    /// Send this instead (must be valid JSON); recorded after an `edited` meta frame holding the original.
    Edit(String),
    /// Do not send it; recorded as a `dropped` meta frame holding the original.
    Drop,
}

/// The breakpoints in force and the frames held now.
#[derive(Debug)]
pub(crate) struct Gate {
    rules: RwLock<Arc<Breakpoints>>,
    /// Fast path: does any rule watch `Sent` / `Recv`? (no lock, no parse when not)
    armed: [AtomicBool; 2],
    held: Mutex<BTreeMap<u64, oneshot::Sender<BreakpointDecision>>>,
    next_id: AtomicU64,
    recorder: RecorderTx,
}

fn slot(dir: Dir) -> usize {
    usize::from(dir == Dir::Recv)
}

impl Gate {
    pub fn new(rules: Breakpoints, recorder: RecorderTx) -> Self {
        let gate = Gate {
            rules: RwLock::new(Arc::new(Breakpoints::default())),
            armed: [AtomicBool::new(false), AtomicBool::new(false)],
            held: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            recorder,
        };
        gate.set(rules);
        gate
    }

    pub fn set(&self, rules: Breakpoints) {
        self.armed[0].store(rules.watches(Dir::Sent), Ordering::Release);
        self.armed[1].store(rules.watches(Dir::Recv), Ordering::Release);
        if let Ok(mut guard) = self.rules.write() {
            *guard = Arc::new(rules);
        }
    }

    /// True when `text` going `dir` is to be held.
    pub fn should_hold(&self, dir: Dir, text: &str) -> bool {
        if !self.armed[slot(dir)].load(Ordering::Acquire) {
            return false;
        }
        let rules = match self.rules.read() {
            Ok(guard) => guard.clone(),
            Err(_) => return false,
        };
        rules.matches(dir, text)
    }

    /// Holds a frame: announces it and waits for the decision. Dropping the returned future
    /// (the connection closed) releases it.
    pub async fn hold(&self, conn: u32, dir: Dir, text: &str) -> BreakpointDecision {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut held) = self.held.lock() {
            held.insert(id, tx);
        }
        self.recorder.event(ProxyEvent::Paused {
            id,
            conn,
            dir,
            text: text.to_owned(),
        });
        let guard = Release { gate: self, id };
        let decision = rx.await.unwrap_or(BreakpointDecision::Forward);
        drop(guard);
        decision
    }

    pub fn decide(&self, id: u64, decision: BreakpointDecision) -> Result<(), ProxyError> {
        if let BreakpointDecision::Edit(text) = &decision
            && let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(text)
        {
            return Err(ProxyError::InvalidEdit {
                detail: e.to_string(),
            });
        }
        let tx = self.held.lock().ok().and_then(|mut h| h.remove(&id));
        match tx {
            Some(tx) => tx.send(decision).map_err(|_| ProxyError::NotPaused { id }),
            None => Err(ProxyError::NotPaused { id }),
        }
    }

    pub fn paused(&self) -> Vec<u64> {
        self.held
            .lock()
            .map(|h| h.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// Unregisters a held frame and tells the user, however the wait ends.
struct Release<'a> {
    gate: &'a Gate,
    id: u64,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if let Ok(mut held) = self.gate.held.lock() {
            held.remove(&self.id);
        }
        self.gate
            .recorder
            .event(ProxyEvent::Released { id: self.id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_match() {
        let failed = Condition::parse(r#"/response/status == "failed""#).unwrap();
        let bare = Condition::parse("/response/status == failed").unwrap();
        assert_eq!(failed, bare);
        let frame = r#"{"type":"response.failed","response":{"status":"failed"}}"#;
        let bp = Breakpoints::default().with(Direction::ServerToClient, failed);
        assert!(bp.matches(Dir::Recv, frame));
        assert!(!bp.matches(Dir::Sent, frame));
        assert!(!bp.matches(Dir::Recv, r#"{"response":{"status":"completed"}}"#));

        let create = Breakpoint::parse("c2s:response.create").unwrap();
        assert_eq!(create.direction, Direction::ClientToServer);
        let bp = Breakpoints {
            rules: vec![create],
        };
        assert!(bp.matches(Dir::Sent, r#"{"type":"response.create","input":[]}"#));
        assert!(!bp.matches(Dir::Sent, r#"{"type":"response.steer"}"#));
        assert!(!bp.matches(Dir::Sent, "not json"));

        assert!(Breakpoints::all(Direction::Both).matches(Dir::Recv, "anything"));
        assert!(Condition::parse("/a/b").unwrap() != Condition::Any);
        let exists = Breakpoints::default().with(Direction::Both, Condition::parse("/a").unwrap());
        assert!(exists.matches(Dir::Sent, r#"{"a":0}"#));
        assert!(!exists.matches(Dir::Sent, r#"{"a":null}"#));
    }

    #[test]
    fn bad_conditions_say_how_to_write_them() {
        for spec in ["", "response create", "/a ==", "/a b == 1"] {
            let err = Condition::parse(spec).unwrap_err().to_string();
            assert!(err.contains("JSON pointer"), "{err}");
        }
    }

    /// `--break bogus` and `--break x2y:*` used to be accepted and never fired (issue 16
    /// item 11): refused, with one line that lists the valid forms.
    #[test]
    fn unknown_event_types_and_directions_are_refused_with_the_valid_forms() {
        for (spec, why) in [
            ("bogus", "not an event type"),
            ("c2s:response.complete", "not an event type"),
            ("x2y:*", "unknown direction \"x2y\""),
            ("s2x:response.create", "unknown direction \"s2x\""),
        ] {
            let err = Breakpoint::parse(spec).unwrap_err().to_string();
            assert!(err.contains(why), "{spec}: {err}");
            for form in ["*", "response.create", "/response/status", "c2s:", "s2c:"] {
                assert!(err.contains(form), "{spec}: {err}");
            }
            assert!(!err.contains('\n'), "{err}");
        }
        for spec in [
            "*",
            "c2s:response.create",
            "s2c:response.completed",
            "response.output_text.delta",
            "s2c:response.web_search_call.searching",
            "error",
            "/type == response.future_thing",
            "s2c:/response/status == failed",
        ] {
            assert!(Breakpoint::parse(spec).is_ok(), "{spec}");
        }
    }
}
