//! The Insight tab on the cause fixtures: what a user reads when the cache missed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::tui::app::{App, LinkState, SessionInfo, Tab};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, keymap, update::update, view};

fn app_from(fixture: &str) -> App {
    let (_, frames, _) =
        turnscope::transcript::read_all(&Path::new("tests/fixtures").join(fixture)).unwrap();
    app_of(frames)
}

fn app_of(frames: Vec<turnscope::frame::Frame>) -> App {
    let info = SessionInfo {
        url: "ws://127.0.0.1:8787/v1/responses".into(),
        model: "gpt-test".into(),
        emulated: true,
        key_hint: None,
    };
    let mut app = App::new(info, Theme::default());
    update(
        &mut app,
        Action::LinkChanged(LinkState::Connected { conn: 0 }),
    );
    for frame in frames {
        update(&mut app, Action::FrameReceived(frame));
    }
    app
}

/// Selects the last turn's Insight tab with the keys a user presses, then draws.
fn insight_screen(app: &mut App, width: u16, height: u16) -> String {
    update(app, Action::Resized { width, height });
    for key in [KeyCode::Esc, KeyCode::Esc, KeyCode::Char('6')] {
        if let Some(action) = keymap::resolve(app, KeyEvent::new(key, KeyModifiers::NONE)) {
            update(app, action);
        }
    }
    assert_eq!(app.tab, Tab::Insight);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn insight_explains_a_miss_from_reordered_tools() {
    let mut app = app_from("cause_tools_reordered.tsjsonl");
    let screen = insight_screen(&mut app, 100, 40);
    assert!(screen.contains("miss"), "{screen}");
    assert!(
        screen.contains("tools reordered (now run_tests, read_file)"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn insight_shows_the_resend_after_not_found() {
    let mut app = app_from("reconnect_store_false.tsjsonl");
    let screen = insight_screen(&mut app, 100, 40);
    assert!(screen.contains("full resend"), "{screen}");
    assert!(
        screen.contains("after previous_response_not_found on turn 2"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

/// The handshake headers the official Python SDK 3.51.0 sends on `client.responses.connect()`
/// (as `turnscope proxy` recorded them in tests/client_identity.rs), plus its key, which the
/// meta line must drop.
const PYTHON_SDK_HANDSHAKE: [(&str, &str); 5] = [
    ("User-Agent", "OpenAI/Python 3.51.0"),
    ("X-Stainless-Lang", "python"),
    ("X-Stainless-Package-Version", "3.51.0"),
    ("OpenAI-Beta", "responses_websockets=2026-02-06"),
    (
        "Authorization",
        "Bearer sk-proj-insight-snapshot-0000000000",
    ),
];

#[test]
fn insight_names_the_client_and_its_remedy() {
    let (_, mut frames, _) = turnscope::transcript::read_all(
        &Path::new("tests/fixtures").join("cause_tools_reordered.tsjsonl"),
    )
    .unwrap();
    // The client meta line comes right after the connect line, as the proxy writes it.
    let body = turnscope::ledger::client::meta_body(PYTHON_SDK_HANDSHAKE).unwrap();
    assert!(!body.to_string().contains("sk-proj"), "{body}");
    let at = frames[0].t_us;
    frames.insert(
        1,
        turnscope::frame::Frame::meta(at, frames[0].wall.clone(), 0, &body),
    );
    for (width, height) in [(100, 40), (80, 24)] {
        let mut app = app_of(frames.clone());
        let screen = insight_screen(&mut app, width, height);
        assert!(screen.contains("OpenAI Python SDK 3.51.0"), "{screen}");
        assert!(screen.contains("tools_reordered: build the"), "{screen}");
        insta::assert_snapshot!(
            format!("insight_names_the_client_and_its_remedy_{width}x{height}"),
            screen
        );
    }
}
