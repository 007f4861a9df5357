//! Wires the app to a running proxy: proxy events become actions; commands become breakpoint
//! decisions, breakpoint changes, or frames injected into the newest agent connection.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::EventStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::app::App;
use super::breakpoint::{BreakpointAction, Held, ProxyCommand};
use super::terminal::TerminalGuard;
use super::{Action, Command, Effects, LoopStats, run_loop};
use crate::frame::{Dir, Frame};
use crate::proxy::{Breakpoints, Direction, ProxyControl, ProxyEvent};

/// Sentinel: no agent connection seen yet.
const NO_CONN: u32 = u32::MAX;

/// Turns one proxy event into an action; notes the newest connection in `newest`.
pub fn proxy_action(event: ProxyEvent, epoch: &mut Option<Instant>, newest: &AtomicU32) -> Action {
    match event {
        ProxyEvent::Frame(frame) => {
            if epoch.is_none() {
                *epoch = Instant::now().checked_sub(Duration::from_micros(frame.t_us));
            }
            if is_connect(&frame) {
                newest.store(frame.conn, Ordering::Relaxed);
            }
            Action::FrameReceived(frame)
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

fn is_connect(frame: &Frame) -> bool {
    frame.dir == Dir::Meta
        && frame
            .payload
            .json()
            .is_some_and(|j| j.starts_with(r#"{"event":"connect""#))
}

async fn forward(
    mut events: UnboundedReceiver<ProxyEvent>,
    actions: UnboundedSender<Action>,
    newest: Arc<AtomicU32>,
    cancel: CancellationToken,
) {
    let mut epoch: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let action = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            ev = events.recv() => match ev {
                Some(ev) => proxy_action(ev, &mut epoch, &newest),
                None => return,
            },
            _ = tick.tick() => match epoch {
                Some(e) => Action::Ticked { now_us: u64::try_from(e.elapsed().as_micros()).unwrap_or(u64::MAX) },
                None => continue,
            },
        };
        if actions.send(action).is_err() {
            return;
        }
    }
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
            Command::LoadFile(path) => {
                let actions = self.actions.clone();
                tokio::spawn(async move {
                    let result = tokio::fs::read_to_string(&path)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = actions.send(Action::FileLoaded { path, result });
                });
            }
            Command::Quit => {}
        }
    }
}

/// Runs the TUI on the real terminal over a running proxy until the user quits.
pub async fn run(
    mut app: App,
    events: UnboundedReceiver<ProxyEvent>,
    control: ProxyControl,
    rules: Breakpoints,
    cancel: CancellationToken,
) -> io::Result<LoopStats> {
    let newest = Arc::new(AtomicU32::new(NO_CONN));
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(forward(
        events,
        tx.clone(),
        newest.clone(),
        cancel.child_token(),
    ));
    let mut effects = ProxyEffects {
        control,
        rules,
        newest,
        actions: tx,
    };
    let mut guard = TerminalGuard::enter()?;
    let terminal = guard.terminal();
    let size = terminal.size()?;
    super::update::update(
        &mut app,
        Action::Resized {
            width: size.width,
            height: size.height,
        },
    );
    let mut input = EventStream::new();
    let stats = run_loop(
        terminal,
        &mut app,
        &mut rx,
        &mut input,
        &mut effects,
        &cancel,
    )
    .await;
    drop(guard);
    cancel.cancel();
    stats
}
