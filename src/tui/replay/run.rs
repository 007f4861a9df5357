//! The replay screen on the one loop: keys and index progress in, a clock only while playing
//! (or while a progress redraw is held back), one draw per batch.

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{Event, MouseEventKind};
use ratatui::Frame;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio_util::sync::CancellationToken;

use super::app::{ReplayAction, ReplayApp, update};
use super::keys;
use super::resolve::resolve;
use crate::replay::Index;
use crate::tui::run::{Screen, Step, forward, run_on_terminal};

/// Playback tick.
const TICK: Duration = Duration::from_millis(40);
/// Background progress redraws at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// While the inspector catches up with the cursor: come back for the next chunk at once,
/// after any key that arrived meanwhile.
const CATCH_UP: Duration = Duration::from_millis(1);

/// The action a terminal event means.
pub fn event_action(app: &ReplayApp, event: Event) -> Option<ReplayAction> {
    match event {
        Event::Key(key) => keys::resolve(app, key),
        Event::Resize(width, height) => Some(ReplayAction::Resized { width, height }),
        // Over the inspector the mouse does what it does live (turn list, tabs, detail).
        Event::Mouse(_) if app.inspect && app.diff.is_none() => {
            crate::tui::event_action(app.inspector.as_ref().map(|i| &i.app)?, event)
                .map(ReplayAction::Inspect)
        }
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(ReplayAction::StepFrame(1)),
            MouseEventKind::ScrollUp => Some(ReplayAction::StepFrame(-1)),
            _ => None,
        },
        _ => None,
    }
}

/// The replay app over its index, as a screen.
pub struct ReplayScreen<'a> {
    /// The screen's state.
    pub app: ReplayApp,
    index: &'a Index,
    /// The clock playback runs on.
    clock: Instant,
    /// When progress last caused a draw.
    last_progress: Option<Instant>,
    /// Progress arrived too soon after the last one and waits for the next tick.
    progress_held: bool,
}

impl<'a> ReplayScreen<'a> {
    /// `app` reading from `index`.
    pub fn new(app: ReplayApp, index: &'a Index) -> Self {
        ReplayScreen {
            app,
            index,
            clock: Instant::now(),
            last_progress: None,
            progress_held: false,
        }
    }
}

impl ReplayScreen<'_> {
    /// The inspector is still being fed up to the cursor.
    fn catching_up(&self) -> bool {
        self.app.inspect
            && self
                .app
                .inspector
                .as_ref()
                .is_some_and(|i| i.catching_up().is_some())
    }
}

impl Screen for ReplayScreen<'_> {
    type Action = ReplayAction;

    fn on_event(&self, event: Event) -> Option<ReplayAction> {
        event_action(&self.app, event)
    }

    fn apply(&mut self, action: ReplayAction) -> Step {
        if action == ReplayAction::Progressed {
            let now = Instant::now();
            if self
                .last_progress
                .is_some_and(|last| now.duration_since(last) < PROGRESS_EVERY)
            {
                self.progress_held = true;
                return Step::Unchanged;
            }
            self.last_progress = Some(now);
            self.progress_held = false;
        }
        if update(&mut self.app, action) {
            Step::Quit
        } else {
            Step::Redraw
        }
    }

    fn tick_every(&self) -> Option<Duration> {
        if self.app.play.playing {
            Some(TICK)
        } else if self.catching_up() {
            Some(CATCH_UP)
        } else if self.progress_held {
            Some(PROGRESS_EVERY)
        } else {
            None
        }
    }

    fn tick(&mut self, now: Instant) -> Option<ReplayAction> {
        // A tick redraws, and the draw's `prepare` feeds the next chunk.
        if self.app.play.playing || self.catching_up() {
            let now_us = u64::try_from(now.duration_since(self.clock).as_micros());
            return Some(ReplayAction::Ticked {
                now_us: now_us.unwrap_or(u64::MAX),
            });
        }
        self.progress_held.then(|| {
            self.last_progress = None;
            ReplayAction::Progressed
        })
    }

    fn draw_gap(&self) -> Duration {
        // Catching up draws as fast as it can: each draw feeds the next chunk, and a chunk
        // already bounds how long one takes.
        if self.catching_up() {
            Duration::ZERO
        } else {
            crate::tui::run::MIN_DRAW_GAP
        }
    }

    fn prepare(&mut self) {
        resolve(&mut self.app, self.index);
    }

    fn render(&self, frame: &mut Frame<'_>) {
        crate::tui::view::replay::render(&self.app, frame);
    }
}

/// Runs the replay screen until quit; `progress` wakes it when the index or ledger advanced.
pub async fn run(
    index: &Index,
    app: ReplayApp,
    progress: UnboundedReceiver<()>,
    cancel: CancellationToken,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(forward(
        progress,
        tx,
        |()| Some(ReplayAction::Progressed),
        cancel.child_token(),
    ));
    let mut screen = ReplayScreen::new(app, index);
    run_on_terminal(&mut screen, &mut rx, &cancel).await?;
    Ok(())
}
