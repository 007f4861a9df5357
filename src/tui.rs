//! The live session TUI: state (`app`), inputs (`action`), the pure `update` and `view`, and the loop.
//!
//! ```text
//!  session task ─Action─┐
//!  terminal keys ───────┼─▶ update(&mut App, Action) ─▶ Vec<Command> ─▶ Effects (session, files)
//!  1 s timer ───────────┘            │
//!                                    └─▶ dirty ─▶ view::render(&App) once per batch
//! ```
//! The loop draws only after something happened: an idle screen does no work.

pub mod action;
pub mod app;
pub mod breakpoint;
pub mod compose;
pub mod keymap;
pub mod live;
pub mod proxy;
pub mod replay;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

use std::io;

use crossterm::event::{Event, MouseButton, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

pub use action::{Action, Command};
pub use app::App;

/// Performs the side effects `update` asks for.
pub trait Effects {
    /// Performs one command (never `Quit`, which the loop handles).
    fn perform(&mut self, command: Command);
}

/// What the loop did, for benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Frames drawn.
    pub draws: u64,
    /// Actions applied.
    pub actions: u64,
}

/// Maps a terminal event to an action in the app's current state.
pub fn event_action(app: &App, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => keymap::resolve(app, key),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Clicked {
                column: m.column,
                row: m.row,
            }),
            MouseEventKind::ScrollDown => Some(Action::Scrolled {
                column: m.column,
                row: m.row,
                delta: 1,
            }),
            MouseEventKind::ScrollUp => Some(Action::Scrolled {
                column: m.column,
                row: m.row,
                delta: -1,
            }),
            _ => None,
        },
        Event::Resize(width, height) => Some(Action::Resized { width, height }),
        Event::Paste(text) => Some(Action::Pasted(text)),
        Event::FocusGained | Event::FocusLost => None,
    }
}

/// Applies one action and performs its commands; false once the app should quit.
pub fn apply(app: &mut App, effects: &mut impl Effects, action: Action) -> bool {
    for command in update::update(app, action) {
        if command == Command::Quit {
            return false;
        }
        effects.perform(command);
    }
    true
}

/// Runs until quit or cancel: waits for an action or a terminal event, applies everything
/// queued, then draws once if anything changed.
pub async fn run_loop<B, S, E>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    actions: &mut UnboundedReceiver<Action>,
    input: &mut S,
    effects: &mut E,
    cancel: &CancellationToken,
) -> io::Result<LoopStats>
where
    B: Backend,
    S: Stream<Item = io::Result<Event>> + Unpin,
    E: Effects,
{
    let mut stats = LoopStats::default();
    let mut dirty = true;
    let mut input_open = true;
    let mut actions_open = true;
    loop {
        if dirty {
            terminal.draw(|f| view::render(app, f))?;
            stats.draws += 1;
            dirty = false;
        }
        let first = tokio::select! {
            biased;
            a = actions.recv(), if actions_open => match a {
                Some(a) => Some(a),
                None => { actions_open = false; None }
            },
            ev = input.next(), if input_open => match ev {
                Some(Ok(ev)) => event_action(app, ev),
                Some(Err(e)) => return Err(e),
                None => { input_open = false; None }
            },
            () = cancel.cancelled() => return Ok(stats),
        };
        if !actions_open && !input_open {
            return Ok(stats);
        }
        let mut next = first;
        loop {
            if let Some(action) = next.take() {
                stats.actions += 1;
                dirty = true;
                if !apply(app, effects, action) {
                    return Ok(stats);
                }
            }
            // Drain the actions already queued before drawing. Terminal input is not drained
            // here: crossterm's EventStream keeps the waker of its first pending poll, so a poll
            // with a throwaway waker would lose the wake-up of the next key.
            if let Ok(a) = actions.try_recv() {
                next = Some(a);
            } else {
                break;
            }
        }
    }
}
