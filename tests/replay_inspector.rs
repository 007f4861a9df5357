//! Replay is the live inspector with a time cursor: for the same transcript, the replay screen
//! with the cursor at the end is the live screen after the session (all but the bottom line,
//! where replay shows its cursor instead of the live key hints), at 80×24 and 120×40; with the
//! cursor mid-session it shows only the turns started by then.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::replay::{Index, IndexOptions};
use turnscope::transcript::read_all;
use turnscope::tui::app::{App, SessionInfo};
use turnscope::tui::replay::app::{ReplayAction, ReplayApp, update};
use turnscope::tui::replay::keys;
use turnscope::tui::replay::resolve::resolve;
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, view};

const FIXTURE: &str = "tests/fixtures/tool_loop.tsjsonl";

fn path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// The live App after the session: every frame as the session delivered it, then the clock.
fn live_after(width: u16, height: u16) -> App {
    let (header, frames, _) = read_all(&path()).unwrap();
    let info = SessionInfo {
        url: header.url.unwrap_or_default(),
        model: header.model.unwrap_or_default(),
        emulated: false,
        key_hint: None,
    };
    let mut app = App::new(info, Theme::default());
    turnscope::tui::update::update(&mut app, Action::Resized { width, height });
    let last = frames.last().map_or(0, |f| f.t_us);
    for f in frames {
        // The session reports its state beside the connect and close frames it records.
        let link = turnscope::tui::replay::inspect::link_of(&f);
        turnscope::tui::update::update(&mut app, Action::FrameReceived(f));
        if let Some(link) = link {
            turnscope::tui::update::update(&mut app, Action::LinkChanged(link));
        }
    }
    turnscope::tui::update::update(&mut app, Action::Ticked { now_us: last });
    app
}

fn replay(width: u16, height: u16, typed: &str) -> (ReplayApp, Index) {
    let index = Index::open(&path(), IndexOptions::default()).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    let mut app = ReplayApp::new(FIXTURE.into(), index.header().clone(), Theme::default());
    update(&mut app, ReplayAction::Resized { width, height });
    resolve(&mut app, &index);
    for c in typed.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            c => KeyCode::Char(c),
        };
        if let Some(action) = keys::resolve(&app, KeyEvent::new(code, KeyModifiers::NONE)) {
            assert!(!update(&mut app, action), "a key quit the app");
            resolve(&mut app, &index);
        }
    }
    (app, index)
}

fn lines(draw: impl FnOnce(&mut ratatui::Frame<'_>), width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(draw).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect()
}

fn check_end(width: u16, height: u16) -> String {
    let live = live_after(width, height);
    let live_lines = lines(|f| view::render(&live, f), width, height);
    let (app, _index) = replay(width, height, "Gv");
    assert!(app.inspect, "v turns the inspector on");
    let replay_lines = lines(
        |f| turnscope::tui::view::replay::render(&app, f),
        width,
        height,
    );
    let rows = usize::from(height - 1);
    assert_eq!(
        replay_lines[..rows],
        live_lines[..rows],
        "replay at the end vs live after the session, {width}×{height}"
    );
    assert_ne!(
        replay_lines[rows], live_lines[rows],
        "the bottom line is the time cursor"
    );
    replay_lines.join("\n")
}

#[test]
fn replay_at_the_end_is_the_live_screen_80x24() {
    insta::assert_snapshot!(check_end(80, 24));
}

#[test]
fn replay_at_the_end_is_the_live_screen_120x40() {
    insta::assert_snapshot!(check_end(120, 40));
}

#[test]
fn mid_session_shows_only_the_turns_started_by_then() {
    // Turns 1–3 are sent at 0.001, 0.161 and 0.321 s; turn 4 at 0.481 s.
    let (app, _index) = replay(100, 30, "v:0.35s\n");
    let ins = app.inspector.as_ref().expect("the inspector is on");
    assert_eq!(ins.app.ledger.turns().len(), 3, "turns started by 0.35 s");
    let screen = lines(|f| turnscope::tui::view::replay::render(&app, f), 100, 30).join("\n");
    assert!(
        !screen.contains("turn 4") && !screen.contains("#4 "),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}
