//! Wires the app to a running proxy: proxy events become actions; commands become breakpoint
//! decisions, breakpoint changes, or frames injected into the newest agent connection.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::app::App;
use super::breakpoint::{BreakpointAction, Held, ProxyCommand};
use super::run::{Source, forward, run_on_terminal};
use super::{Action, AppScreen, Command, Effects, LoopStats};
use crate::frame::{Dir, Frame};
use crate::proxy::{Breakpoints, Direction, Hold, ProxyControl, ProxyEvent, ProxyEvents};

/// Sentinel: no agent connection seen yet.
const NO_CONN: u32 = u32::MAX;

/// Bytes of frames queued for the screen past which it applies them before its draw gap ends:
/// a quarter of the proxy's budget, so pipelined 64 KB replies never wait on a screen that is
/// only pacing its draws (4 MiB per 33 ms gap would cap them near 120 MB/s), while small frames
/// (200 B: thousands per gap stay far below it) never ring at all.
const PRESSURE_BYTES: usize = crate::proxy::BUDGET_BYTES / 4;

/// Turns one proxy event into an action; notes the newest connection in `newest`.
pub fn proxy_action(event: ProxyEvent, newest: &AtomicU32) -> Action {
    match event {
        ProxyEvent::Frame(frame, recorded) => {
            if is_connect(&frame) {
                newest.store(frame.conn, Ordering::Relaxed);
            }
            match recorded {
                Some(at) => Action::FrameRecorded(frame, at),
                None => Action::FrameReceived(frame),
            }
        }
        ProxyEvent::Paused {
            id,
            conn,
            dir,
            text,
        } => Action::Breakpoint(BreakpointAction::Held(Held {
            id,
            conn,
            dir,
            text,
        })),
        ProxyEvent::Released { id } => Action::Breakpoint(BreakpointAction::Released { id }),
        ProxyEvent::Error(message) => Action::Breakpoint(BreakpointAction::Notice(message)),
    }
}

/// A connect note: its JSON is parsed (a prefix test missed one whose keys came in another
/// order or with spaces). Meta frames are few, so the parse is off the per-frame path.
fn is_connect(frame: &Frame) -> bool {
    frame.dir == Dir::Meta
        && frame
            .payload
            .json()
            .and_then(crate::replay::filter::meta_event)
            .is_some_and(|e| e == "connect")
}

/// Performs commands against the proxy.
pub struct ProxyEffects {
    /// The proxy's control handle.
    pub control: ProxyControl,
    /// The `--break` rules; the pause toggles add to them.
    pub rules: Breakpoints,
    /// The newest agent connection (frames typed in the composer are injected there).
    pub newest: Arc<AtomicU32>,
    /// Where results are reported.
    pub actions: UnboundedSender<Action>,
    /// The budget each frame sent to the screen still holds, in the order they were sent:
    /// given back as the App applies them, so frames the screen has not applied yet hold the
    /// relays back (given back when the forward task read them, a screen slower than the
    /// relay queued actions without bound: 99 MB RSS after 1 GB in the relay bench).
    pub holds: mpsc::UnboundedReceiver<(Hold, usize)>,
    /// The bytes of the frames sent to the screen and not applied yet.
    pub backlog: Arc<AtomicUsize>,
    /// Rung when `backlog` passes [`PRESSURE_BYTES`].
    pub bell: Arc<Notify>,
}

impl ProxyEffects {
    fn notice(&self, text: String) {
        let _ = self
            .actions
            .send(Action::Breakpoint(BreakpointAction::Notice(text)));
    }
}

impl Effects for ProxyEffects {
    fn perform(&mut self, command: Command) {
        match command {
            Command::Proxy(ProxyCommand::Decide { id, decision }) => {
                if let Err(e) = self.control.decide(id, decision) {
                    self.notice(e.to_string());
                }
            }
            Command::Proxy(ProxyCommand::PauseAll { client, server }) => {
                let mut rules = self.rules.clone();
                if client {
                    rules = rules.with(Direction::ClientToServer, crate::proxy::Condition::Any);
                }
                if server {
                    rules = rules.with(Direction::ServerToClient, crate::proxy::Condition::Any);
                }
                self.control.set_breakpoints(rules);
            }
            Command::Send(json) => {
                let conn = self.newest.load(Ordering::Relaxed);
                if conn == NO_CONN {
                    self.notice("no agent has connected yet: nothing to inject into".into());
                } else if let Err(e) = self.control.inject(conn, Dir::Sent, json) {
                    self.notice(e.to_string());
                }
            }
            Command::Reconnect => {
                self.notice("the agent owns its connections; reconnect it from the agent".into());
            }
            Command::LoadFile(path) => super::load_file(&self.actions, path),
            Command::Quit => {}
        }
    }

    fn frame_applied(&mut self) {
        // Every frame action comes from the forward task, which queued its hold first.
        if let Ok((hold, len)) = self.holds.try_recv() {
            drop(hold);
            self.backlog.fetch_sub(len, Ordering::Relaxed);
        }
    }

    fn pressure(&self) -> Option<Arc<Notify>> {
        Some(self.bell.clone())
    }
}

/// Runs the TUI on the real terminal over a running proxy until the user quits.
pub async fn run(
    app: App,
    events: ProxyEvents,
    control: ProxyControl,
    rules: Breakpoints,
    cancel: CancellationToken,
) -> io::Result<LoopStats> {
    let (effects, mut rx) = wire(events, control, rules, &cancel);
    let mut screen = AppScreen::new(app, effects);
    let stats = run_on_terminal(&mut screen, &mut rx, &cancel).await;
    cancel.cancel();
    stats
}

/// Starts the task that turns the proxy's events into the screen's actions (until `cancel`):
/// the effects an [`AppScreen`] over the proxy performs its commands with, and its actions.
/// Each frame holds its bytes of the proxy's budget until the screen has applied it.
pub fn wire(
    events: ProxyEvents,
    control: ProxyControl,
    rules: Breakpoints,
    cancel: &CancellationToken,
) -> (ProxyEffects, mpsc::UnboundedReceiver<Action>) {
    let newest = Arc::new(AtomicU32::new(NO_CONN));
    let (tx, rx) = mpsc::unbounded_channel();
    let (hold_tx, holds) = mpsc::unbounded_channel();
    let seen = newest.clone();
    let backlog = Arc::new(AtomicUsize::new(0));
    let bell = Arc::new(Notify::new());
    let (queued, ring) = (backlog.clone(), bell.clone());
    let map = move |(event, hold): (ProxyEvent, Hold)| {
        let action = proxy_action(event, &seen);
        if let Some(frame) = action.frame() {
            let len = frame.payload.len();
            let _ = hold_tx.send((hold, len));
            // Rung once as the backlog crosses the mark (a stored permit if the screen is busy).
            let before = queued.fetch_add(len, Ordering::Relaxed);
            if before < PRESSURE_BYTES && before + len >= PRESSURE_BYTES {
                ring.notify_one();
            }
        }
        Some(action)
    };
    tokio::spawn(forward(events, tx.clone(), map, cancel.child_token()));
    let effects = ProxyEffects {
        control,
        rules,
        newest,
        actions: tx,
        holds,
        backlog,
        bell,
    };
    (effects, rx)
}

/// Each event comes with its share of the budget, which the screen gives back once applied.
impl Source for ProxyEvents {
    type Event = (ProxyEvent, Hold);
    fn recv(&mut self) -> impl Future<Output = Option<(ProxyEvent, Hold)>> + Send {
        ProxyEvents::recv_held(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: &str) -> Frame {
        Frame {
            t_us: 0,
            wall: String::new(),
            conn: 3,
            dir: Dir::Meta,
            payload: crate::frame::Payload::from_text(json),
        }
    }

    /// The newest connection is found by parsing the note, whatever its key order or spacing.
    #[test]
    fn a_connect_note_is_found_by_its_event_not_its_prefix() {
        assert!(is_connect(&meta(r#"{"event":"connect","url":"ws://x"}"#)));
        assert!(is_connect(&meta(r#"{"url":"ws://x","event":"connect"}"#)));
        assert!(is_connect(&meta(r#"{ "event" : "connect" }"#)));
        assert!(!is_connect(&meta(r#"{"event":"connected"}"#)));
        assert!(!is_connect(&meta(r#"{"event":"close","code":1000}"#)));
        let mut sent = meta(r#"{"event":"connect"}"#);
        sent.dir = Dir::Sent;
        assert!(!is_connect(&sent));
    }
}
