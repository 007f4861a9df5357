//! Which responses are still running on one relayed WebSocket connection, so a graceful
//! shutdown closes it between turns instead of in the middle of a stream.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

use crate::frame::Dir;
use crate::protocol::LifecycleHead;

/// Requests sent and not yet answered, and responses created and not yet ended.
#[derive(Debug, Default)]
struct Open {
    /// `response.create` frames the agent sent that have no `response.created` or `error` yet.
    requests: usize,
    /// Ids of responses between `response.created` and their terminal event.
    responses: HashSet<String>,
}

/// The running responses of one connection, fed every text frame the relay forwards.
#[derive(Debug)]
pub(crate) struct InFlight {
    open: Mutex<Open>,
    idle: watch::Sender<bool>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            open: Mutex::default(),
            idle: watch::Sender::new(true),
        }
    }
}

/// Cheap test before parsing: only these events change what is open. Most frames are deltas,
/// told apart by the type they open with; other texts are scanned for the names.
fn may_matter(dir: Dir, leading: Option<&str>, text: &str) -> bool {
    if let Some(kind) = leading {
        return match dir {
            Dir::Sent => kind == "response.create",
            _ => matches!(
                kind,
                "response.created"
                    | "response.completed"
                    | "response.failed"
                    | "response.incomplete"
                    | "error"
            ),
        };
    }
    match dir {
        Dir::Sent => text.contains("response.create"),
        _ => {
            text.contains("response.c")
                || text.contains("response.failed")
                || text.contains("response.incomplete")
                || text.contains("error")
        }
    }
}

impl InFlight {
    /// Notes a text frame forwarded in `dir` (call it before the frame can be answered).
    pub fn observe(&self, dir: Dir, text: &str) {
        let leading = crate::protocol::head::scan::leading_type(text);
        if !may_matter(dir, leading, text) {
            return;
        }
        // A request or a refusal that opens with its type only moves a count: it is not parsed
        // (a request is kilobytes; its parse was most of this tracking's ~5% of the headless
        // proxy's CPU on the relay bench).
        match (dir, leading) {
            (Dir::Sent, Some(kind @ "response.create")) | (Dir::Recv, Some(kind @ "error")) => {
                self.apply(dir, kind, None);
            }
            _ => {
                // One parse for the type and the response's id; the event head and then the
                // response's head were two, each reading all of `response` (~14k instructions
                // a 200 B turn, callgrind).
                match LifecycleHead::parse(text) {
                    Some(event) => {
                        let id = event.response_id().map(str::to_owned);
                        self.apply(dir, event.kind.as_deref().unwrap_or_default(), id);
                    }
                    // An odd-shaped response (a string, an id that is a number): its event
                    // still moves the count its type says, without an id.
                    None => {
                        if let Some(kind) = leading {
                            self.apply(dir, kind, None);
                        }
                    }
                }
            }
        }
    }

    /// Counts an event of `kind` (with its response's id, where it has one).
    fn apply(&self, dir: Dir, kind: &str, id: Option<String>) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        match (dir, kind) {
            (Dir::Sent, "response.create") => open.requests += 1,
            (Dir::Sent, _) => {}
            // A steered response's successor is created without a request of its own.
            (_, "response.created") => {
                open.requests = open.requests.saturating_sub(1);
                open.responses.extend(id);
            }
            (_, "response.completed" | "response.failed" | "response.incomplete") => {
                if let Some(id) = id {
                    open.responses.remove(&id);
                }
            }
            // A refused request never gets a response.
            (_, "error") => open.requests = open.requests.saturating_sub(1),
            _ => {}
        }
        let idle = open.requests == 0 && open.responses.is_empty();
        drop(open);
        self.idle
            .send_if_modified(|was| std::mem::replace(was, idle) != idle);
    }

    /// Resolves once no request is waiting and no response is running.
    pub async fn idle(&self) {
        let mut rx = self.idle.subscribe();
        let _ = rx.wait_for(|idle| *idle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_now(f: &InFlight) -> bool {
        *f.idle.borrow()
    }

    #[test]
    fn a_turn_is_open_from_request_to_terminal_event() {
        let f = InFlight::default();
        assert!(idle_now(&f));
        f.observe(Dir::Sent, r#"{"type":"response.create","input":[]}"#);
        assert!(!idle_now(&f));
        f.observe(
            Dir::Recv,
            r#"{"type":"response.created","response":{"id":"resp_1"}}"#,
        );
        f.observe(
            Dir::Recv,
            r#"{"type":"response.output_text.delta","delta":"error"}"#,
        );
        assert!(!idle_now(&f));
        f.observe(
            Dir::Recv,
            r#"{"type": "response.completed", "response": {"id": "resp_1"}}"#,
        );
        assert!(idle_now(&f));
    }

    /// A request is counted from the type it opens with, unparsed, so one the upstream cannot
    /// parse either still waits for its refusal.
    #[test]
    fn a_request_is_counted_from_its_leading_type() {
        let f = InFlight::default();
        f.observe(Dir::Sent, r#"{"type":"response.create","input":[{"#);
        assert!(!idle_now(&f));
        f.observe(
            Dir::Recv,
            r#"{"type":"error","error":{"code":"invalid_json"}}"#,
        );
        assert!(idle_now(&f));
        // Spaced or reordered: parsed as before.
        f.observe(Dir::Sent, r#"{ "model": "m", "type": "response.create" }"#);
        assert!(!idle_now(&f));
        f.observe(Dir::Recv, r#"{"error":{"code":"x"},"type":"error"}"#);
        assert!(idle_now(&f));
    }

    /// A lifecycle event whose response has an odd shape still counts by its type: the
    /// request it answers is no longer waiting, so a graceful shutdown need not wait it out.
    #[test]
    fn an_odd_response_still_counts_by_its_type() {
        for created in [
            r#"{"type":"response.created","response":{"id":null}}"#,
            r#"{"type":"response.created","response":"resp_1"}"#,
            r#"{"type":"response.created","response":{"id":7}}"#,
        ] {
            let f = InFlight::default();
            f.observe(Dir::Sent, r#"{"type":"response.create"}"#);
            f.observe(Dir::Recv, created);
            assert!(idle_now(&f), "{created}");
        }
    }

    #[test]
    fn refusals_and_steered_successors_are_counted() {
        let f = InFlight::default();
        f.observe(Dir::Sent, r#"{"type":"response.create"}"#);
        f.observe(Dir::Recv, r#"{"type":"error","error":{"code":"x"}}"#);
        assert!(idle_now(&f));
        f.observe(Dir::Sent, r#"{"type":"response.create"}"#);
        f.observe(
            Dir::Recv,
            r#"{"type":"response.created","response":{"id":"a"}}"#,
        );
        f.observe(
            Dir::Sent,
            r#"{"type":"response.steer","previous_response_id":"a"}"#,
        );
        f.observe(
            Dir::Recv,
            r#"{"type":"response.incomplete","response":{"id":"a"}}"#,
        );
        f.observe(
            Dir::Recv,
            r#"{"type":"response.created","response":{"id":"b"}}"#,
        );
        assert!(!idle_now(&f), "the successor is still running");
        f.observe(
            Dir::Recv,
            r#"{"type":"response.completed","response":{"id":"b"}}"#,
        );
        assert!(idle_now(&f));
    }
}
