//! Builds a live-TUI App from a fixture and draws it on a TestBackend, for screen tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::tui::app::{App, ConnState, SessionInfo};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, Command, keymap, update::update, view};

/// The header facts of a session against the built-in emulator.
pub fn info() -> SessionInfo {
    SessionInfo {
        url: "ws://127.0.0.1:8787/v1/responses".into(),
        model: "gpt-test".into(),
        emulated: true,
        key_hint: None,
    }
}

/// How a screen test's App starts, where snapshots were taken differently.
pub struct Start {
    /// Its theme.
    pub theme: Theme,
    /// A size set before the first frame (some snapshots were taken so), or none.
    pub size: Option<(u16, u16)>,
    /// The recording the header names.
    pub recording: &'static str,
    /// The App's frame store (how it spools), or the default one.
    pub frames: Option<turnscope::frame::FrameStore>,
}

impl Default for Start {
    fn default() -> Self {
        Start {
            theme: Theme::default(),
            size: None,
            recording: "/data/turnscope/sessions/2026-11-25T10-00-00-000Z.tsjsonl",
            frames: None,
        }
    }
}

/// An app on a connected session fed the first `n` frames of a fixture (all when `None`).
pub fn app_from(fixture: &str, n: Option<usize>) -> App {
    app_with(fixture, n, Start::default())
}

/// [`app_from`], started as `start` says.
pub fn app_with(fixture: &str, n: Option<usize>, start: Start) -> App {
    let (_, frames, _) =
        turnscope::transcript::read_all(&Path::new("tests/fixtures").join(fixture)).unwrap();
    let mut app = App::new(info(), start.theme);
    if let Some(store) = start.frames {
        app.frames = store;
    }
    if let Some((width, height)) = start.size {
        update(&mut app, Action::Resized { width, height });
    }
    update(
        &mut app,
        Action::RecordingStarted(Ok(PathBuf::from(start.recording))),
    );
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connected { conn: 0 }),
    );
    for frame in frames.into_iter().take(n.unwrap_or(usize::MAX)) {
        update(&mut app, Action::FrameReceived(frame));
    }
    app
}

/// The screen as text at `width`×`height`.
pub fn screen(app: &mut App, width: u16, height: u16) -> String {
    update(app, Action::Resized { width, height });
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().to_string()
}

/// Feeds key presses through the keymap, collecting the commands.
pub fn keys(app: &mut App, keys: &[KeyEvent]) -> Vec<Command> {
    let mut out = Vec::new();
    for key in keys {
        if let Some(action) = keymap::resolve(app, *key) {
            out.extend(update(app, action));
        }
    }
    out
}

/// One plain key press.
pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// One key press with Ctrl.
pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Key presses typing `text`.
pub fn typed(text: &str) -> Vec<KeyEvent> {
    text.chars().map(|c| key(KeyCode::Char(c))).collect()
}
