//! Every screen: the inspector App (state `app`, inputs `action`, the pure `update` and `view`),
//! the replay screen, and the one loop they all run on (`run`).
//!
//! ```text
//!  source task ─Action─┐
//!  terminal keys ──────┼─▶ update(&mut App, Action) ─▶ Vec<Command> ─▶ Effects (session, proxy, files)
//!  1 s clock, only ────┘            │
//!  while connected                  └─▶ changed? ─▶ view::render(&App) once per batch
//! ```
//! The loop draws only after something visible changed: an idle screen does no work.

pub mod action;
pub mod app;
pub mod breakpoint;
pub mod compose;
pub mod frames;
pub mod keymap;
pub mod live;
pub mod payload;
pub mod proxy;
pub mod replay;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

use std::time::{Duration, Instant};

use crossterm::event::{Event, MouseButton, MouseEventKind};

pub use action::{Action, Command};
pub use app::App;
pub use run::{LoopStats, Screen, Step, run_loop};

/// Performs the side effects `update` asks for.
pub trait Effects {
    /// Performs one command (never `Quit`, which the loop handles).
    fn perform(&mut self, command: Command);

    /// The App has applied a frame its source sent ([`Action::frame`]): a source that
    /// holds back until its frames are applied (the proxy's byte budget) may go on.
    fn frame_applied(&mut self) {}

    /// Rung when the frames queued for the App should be applied before the draw gap ends
    /// (see [`Screen::pressure`]); `None`: they can always wait for it.
    fn pressure(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
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

/// Reads `path` in the background and reports it as [`Action::FileLoaded`] (both sources'
/// `Command::LoadFile`).
pub fn load_file(actions: &tokio::sync::mpsc::UnboundedSender<Action>, path: std::path::PathBuf) {
    let actions = actions.clone();
    tokio::spawn(async move {
        let result = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| e.to_string());
        let _ = actions.send(Action::FileLoaded { path, result });
    });
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

/// The live App as a screen: the effects its commands need, and the clock its frames run on.
pub struct AppScreen<E> {
    /// The inspector's state.
    pub app: App,
    /// Where commands go (a session, a proxy).
    pub effects: E,
    /// When frame time 0 was, pinned by the first frame.
    epoch: Option<Instant>,
}

impl<E: Effects> AppScreen<E> {
    /// `app` driven through `effects`.
    pub fn new(app: App, effects: E) -> Self {
        AppScreen {
            app,
            effects,
            epoch: None,
        }
    }
}

/// What a clock tick can change on screen: the age gauge and the message line.
fn clock_face(app: &App) -> (Vec<ratatui::text::Span<'static>>, Option<app::Message>) {
    (view::header::age_gauge(app), app.message.clone())
}

impl<E: Effects> Screen for AppScreen<E> {
    type Action = Action;

    fn on_event(&self, event: Event) -> Option<Action> {
        event_action(&self.app, event)
    }

    fn apply(&mut self, action: Action) -> Step {
        let frame = action.frame().is_some();
        if let Some(frame) = action.frame()
            && self.epoch.is_none()
        {
            self.epoch = Instant::now().checked_sub(Duration::from_micros(frame.t_us));
        }
        let before = matches!(action, Action::Ticked { .. }).then(|| clock_face(&self.app));
        let go_on = apply(&mut self.app, &mut self.effects, action);
        if frame {
            self.effects.frame_applied();
        }
        if !go_on {
            return Step::Quit;
        }
        match before {
            Some(before) if before == clock_face(&self.app) => Step::Unchanged,
            _ => Step::Redraw,
        }
    }

    /// Once a second while a connection is open (its age gauge moves); never once all closed.
    fn tick_every(&self) -> Option<Duration> {
        let open = matches!(self.app.link, app::ConnState::Connected { .. })
            || self
                .app
                .ledger
                .current_connection()
                .is_some_and(crate::ledger::Connection::is_open);
        open.then_some(Duration::from_secs(1))
    }

    fn tick(&mut self, now: Instant) -> Option<Action> {
        let epoch = self.epoch?;
        Some(Action::Ticked {
            now_us: u64::try_from(now.saturating_duration_since(epoch).as_micros())
                .unwrap_or(u64::MAX),
        })
    }

    fn pressure(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        self.effects.pressure()
    }

    fn render(&self, frame: &mut ratatui::Frame<'_>) {
        view::render(&self.app, frame);
    }
}
