//! The Insight tab on the cause fixtures: what a user reads when the cache missed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::tui::app::{App, ConnState, SessionInfo, Tab};
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
        Action::LinkChanged(ConnState::Connected { conn: 0 }),
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

/// Codex's pattern: a `generate:false` warm-up carrying the instructions and tools, then a
/// turn chained to it. While that turn runs, the header already shows the one estimate, the
/// same figure and words as the turn's Insight tab (the header read `0 est` while Insight said
/// `4,584 tok expected`); the warm-up is marked; a long tool name in the prefix table is cut
/// with … and parted from its hash (issue 16 item 11b).
#[test]
fn after_a_warm_up_the_header_and_insight_show_one_estimate() {
    let long = "explain what the command does and why it is safe to run here ".repeat(40);
    let tools = serde_json::json!([
        {"type": "function", "name": "exec_command", "description": long,
         "parameters": {"type": "object", "properties": {}}},
        {"type": "function", "name": "request_user_input", "description": long,
         "parameters": {"type": "object", "properties": {}}},
    ]);
    let warm = serde_json::json!({"type": "response.create", "model": "gpt-5.1",
        "generate": false, "store": false, "instructions": "You are Codex.", "tools": tools,
        "input": [{"type": "message", "role": "developer", "content": "sandbox: read-only"}]});
    let chained = serde_json::json!({"type": "response.create", "model": "gpt-5.1",
        "store": false, "previous_response_id": "resp_warm", "instructions": "You are Codex.",
        "tools": tools, "input": [{"type": "message", "role": "user", "content": "hello"}]});
    let frame = |t_us: u64, dir: turnscope::frame::Dir, json: String| turnscope::frame::Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload: turnscope::frame::Payload::Json(json),
    };
    use turnscope::frame::Dir;
    let frames = vec![
        frame(0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#.into()),
        frame(10, Dir::Sent, warm.to_string()),
        frame(
            20,
            Dir::Recv,
            r#"{"type":"response.completed","response":{"id":"resp_warm","output":[]}}"#.into(),
        ),
        frame(30, Dir::Sent, chained.to_string()),
        frame(
            40,
            Dir::Recv,
            r#"{"type":"response.created","response":{"id":"resp_2"}}"#.into(),
        ),
    ];
    let mut app = app_of(frames);
    let expected = app.ledger.turns()[1].insight.expected_cached_tokens;
    assert!(expected > 1024, "{expected}");
    let figure = format!(
        "prompt cache - of {} expected",
        turnscope::report::fmt_tokens(expected)
    );
    for (width, height) in [(120, 40), (80, 24)] {
        let screen = insight_screen(&mut app, width, height);
        let header: Vec<&str> = screen.lines().take(3).collect();
        assert!(header[1].contains(&figure), "{width}: {screen}");
        let body: String = screen.lines().skip(3).collect::<Vec<_>>().join("\n");
        assert!(body.contains(&figure), "{width}: {screen}");
        assert!(body.contains("1 W "), "{width}: {screen}");
        assert!(body.contains("tool 2 request_user_… "), "{width}: {screen}");
        if width == 120 {
            insta::assert_snapshot!(screen);
        }
    }
}
