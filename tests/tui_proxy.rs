//! Proxy mode in the TUI: snapshots of the paused-frame editor (80×24 and narrow) and the
//! footer, and the keys that forward, edit and drop held frames.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::proxy::BreakpointDecision;
use turnscope::tui::app::{App, Focus, Recording, SessionInfo};
use turnscope::tui::breakpoint::{BreakpointAction, Held, ProxyCommand, ProxyPanel};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, Command, keymap, update::update, view};

const HELD: &str = r#"{"type":"response.create","model":"gpt-test","previous_response_id":"resp_5","input":[{"type":"function_call_output","call_id":"call_1","output":"ok"}]}"#;

fn proxy_app() -> App {
    let (_, frames, _) =
        turnscope::transcript::read_all(&Path::new("tests/fixtures").join("tool_loop.tsjsonl"))
            .unwrap();
    let mut app = proxy_app_at("proxy http://127.0.0.1:8787/v1 → http://127.0.0.1:9999/v1");
    app.recording = Recording::To("/data/turnscope/sessions/proxy.tsjsonl".into());
    for frame in frames {
        update(&mut app, Action::FrameReceived(frame));
    }
    app
}

/// A proxy App with nothing relayed yet and no recording.
fn empty_proxy_app() -> App {
    proxy_app_at("proxy http://127.0.0.1:8788/v1 → http://127.0.0.1:8787/v1")
}

/// A proxy App showing `url`, turn list focused, nothing relayed, no recording.
fn proxy_app_at(url: &str) -> App {
    let info = SessionInfo {
        url: url.into(),
        model: "(the agent's)".into(),
        emulated: true,
        key_hint: None,
    };
    let mut app = App::new(info, Theme::default());
    app.proxy = Some(ProxyPanel::default());
    app.focus = Focus::Turns;
    app.recording = Recording::Off;
    app
}

fn held(id: u64, dir: Dir, text: &str) -> Action {
    Action::Breakpoint(BreakpointAction::Held(Held {
        id,
        conn: 0,
        dir,
        text: text.into(),
    }))
}

fn screen(app: &mut App, width: u16, height: u16) -> String {
    update(app, Action::Resized { width, height });
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().to_string()
}

fn press(app: &mut App, key: KeyEvent) -> Vec<Command> {
    keymap::resolve(app, key).map_or_else(Vec::new, |a| update(app, a))
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[test]
fn proxy_footer_shows_the_pause_toggles() {
    let mut app = proxy_app();
    let out = screen(&mut app, 80, 24);
    assert!(out.contains("F6 pause agent→up: off"), "{out}");
    insta::assert_snapshot!(out);
    let cmds = press(&mut app, KeyEvent::new(KeyCode::F(6), KeyModifiers::NONE));
    assert_eq!(
        cmds,
        vec![Command::Proxy(ProxyCommand::PauseAll {
            client: true,
            server: false
        })]
    );
}

/// `[keys.proxy]` remaps show in the pause toggles' footer, which reads the App's keymap.
#[test]
fn remapped_pause_keys_show_in_the_footer() {
    let spec = turnscope::config::KeySpec {
        scope: "proxy".into(),
        action: "pause-client".into(),
        keys: vec!["F9".into()],
        line: 1,
    };
    let keymap = turnscope::tui::keymap::remap::remap(
        &turnscope::tui::keymap::defaults(),
        &[spec],
        std::path::Path::new("c.toml"),
    )
    .unwrap();
    let mut app = proxy_app();
    app.keymap = std::sync::Arc::new(keymap);
    let out = screen(&mut app, 80, 24);
    assert!(
        out.contains("F9 pause agent→up: off · F7 pause up→agent"),
        "{out}"
    );
}

#[test]
fn a_paused_frame_opens_the_editor() {
    let mut app = proxy_app();
    update(&mut app, held(7, Dir::Sent, HELD));
    update(
        &mut app,
        held(8, Dir::Recv, r#"{"type":"response.created"}"#),
    );
    let out = screen(&mut app, 80, 24);
    assert!(out.contains("PAUSED frame 7"), "{out}");
    assert!(out.contains("1 of 2 held"), "{out}");
    insta::assert_snapshot!(out);
    insta::assert_snapshot!(
        "a_paused_frame_opens_the_editor_narrow",
        screen(&mut app, 50, 16)
    );

    // Keys go to the editor: typing breaks the JSON, Ctrl-S refuses, Ctrl-F forwards the original.
    press(
        &mut app,
        KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE),
    );
    assert!(press(&mut app, ctrl('s')).is_empty());
    let out = screen(&mut app, 80, 24);
    assert!(out.contains("not valid JSON"), "{out}");
    assert_eq!(
        press(&mut app, ctrl('f')),
        vec![Command::Proxy(ProxyCommand::Decide {
            id: 7,
            decision: BreakpointDecision::Forward
        })]
    );
    // The next held frame is shown; drop it.
    assert!(screen(&mut app, 80, 24).contains("PAUSED frame 8"));
    assert_eq!(
        press(&mut app, ctrl('d')),
        vec![Command::Proxy(ProxyCommand::Decide {
            id: 8,
            decision: BreakpointDecision::Drop
        })]
    );
    let out = screen(&mut app, 80, 24);
    assert!(!out.contains("PAUSED"), "{out}");
    assert!(out.contains("DROPPED"), "{out}");
}

fn frame(t_us: u64, dir: Dir, json: &str) -> Action {
    Action::FrameReceived(Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload: Payload::Json(json.into()),
    })
}

/// Warm-up, edited, injected and dropped turns carry a letter beside their number, and the
/// list's title spells out the letters in use (issue 16 items 11 and 13).
#[test]
fn marked_turns_show_their_letters_and_the_title_names_them() {
    let mut app = empty_proxy_app();
    let done = |id: &str| {
        format!(
            r#"{{"type":"response.completed","response":{{"id":"{id}","output":[],"usage":{{"input_tokens":1200,"input_tokens_details":{{"cached_tokens":1024}},"output_tokens":5,"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":1205}}}}}}"#
        )
    };
    let create = |prev: &str, input: &str| {
        format!(
            r#"{{"type":"response.create","model":"gpt-5.1","previous_response_id":"{prev}","input":"{input}"}}"#
        )
    };
    let actions = vec![
        frame(0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#),
        frame(
            10,
            Dir::Sent,
            r#"{"type":"response.create","model":"gpt-5.1","generate":false,"input":"base"}"#,
        ),
        frame(20, Dir::Recv, &done("resp_1")),
        frame(
            30,
            Dir::Meta,
            r#"{"event":"edited","dir":"sent","original":{"type":"response.create"}}"#,
        ),
        frame(40, Dir::Sent, &create("resp_1", "edited")),
        frame(50, Dir::Recv, &done("resp_2")),
        frame(
            60,
            Dir::Meta,
            r#"{"event":"injected","dir":"sent","original":{}}"#,
        ),
        frame(70, Dir::Sent, &create("resp_2", "typed in the proxy")),
        frame(80, Dir::Recv, &done("resp_3")),
        frame(
            90,
            Dir::Meta,
            &format!(
                r#"{{"event":"dropped","dir":"sent","original":{}}}"#,
                create("resp_3", "held and dropped")
            ),
        ),
    ];
    for action in actions {
        update(&mut app, action);
    }
    let out = screen(&mut app, 80, 24);
    assert!(out.contains("W warm-up"), "{out}");
    assert!(
        out.contains("E edited") && out.contains("I injected"),
        "{out}"
    );
    assert!(out.contains("not sent"), "{out}");
    insta::assert_snapshot!(out);
    insta::assert_snapshot!(
        "marked_turns_show_their_letters_and_the_title_names_them_narrow",
        screen(&mut app, 60, 20)
    );
}

/// Before any agent connects, the turn list says how to point one at the proxy (it said "type
/// a message below"); held frames show the queue, and Ctrl-A forwards them all (issue 16 item 11).
#[test]
fn the_empty_proxy_says_how_to_connect_and_ctrl_a_forwards_every_held_frame() {
    let info = SessionInfo {
        url: "proxy http://127.0.0.1:8788/v1 → http://127.0.0.1:8787/v1".into(),
        model: "(the agent's)".into(),
        emulated: true,
        key_hint: None,
    };
    let mut app = App::new(info, Theme::default());
    app.proxy = Some(ProxyPanel {
        base_url: "http://127.0.0.1:8788/v1".into(),
        ..ProxyPanel::default()
    });
    app.focus = Focus::Turns;
    app.recording = Recording::Off;
    let out = screen(&mut app, 80, 24);
    assert!(!out.contains("type a message below"), "{out}");
    assert!(
        out.contains("OPENAI_BASE_URL=http://127.0.0.1:8788/v1"),
        "{out}"
    );
    insta::assert_snapshot!(out);

    for id in 1..=3 {
        update(
            &mut app,
            held(id, Dir::Recv, r#"{"type":"response.created"}"#),
        );
    }
    let out = screen(&mut app, 80, 24);
    assert!(out.contains("1 of 3 held"), "{out}");
    assert!(out.contains("Ctrl-A forward all"), "{out}");
    let forward = |id| {
        Command::Proxy(ProxyCommand::Decide {
            id,
            decision: BreakpointDecision::Forward,
        })
    };
    assert_eq!(
        press(&mut app, ctrl('a')),
        vec![forward(1), forward(2), forward(3)]
    );
    let out = screen(&mut app, 80, 24);
    assert!(!out.contains("PAUSED"), "{out}");
    assert!(out.contains("forwarded 3 held frames unchanged"), "{out}");
}

/// The agent answers its own function calls in proxy mode: the composer box does not ask the
/// user to answer one (it did: "1 function call waiting for an output · press i to answer").
#[test]
fn a_pending_call_in_proxy_mode_is_the_agents_to_answer() {
    let mut app = empty_proxy_app();
    let call = r#"{"type":"response.completed","response":{"id":"resp_1","output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"read_file","arguments":"{}","status":"completed"}],"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}}}"#;
    for action in [
        frame(0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#),
        frame(
            10,
            Dir::Sent,
            r#"{"type":"response.create","model":"gpt-5.1","input":"read it"}"#,
        ),
        frame(20, Dir::Recv, call),
    ] {
        update(&mut app, action);
    }
    assert_eq!(
        app.pending_calls().len(),
        1,
        "the fixture leaves a call open"
    );
    let shot = screen(&mut app, 100, 30);
    assert!(
        !shot.contains("waiting for an output") && !shot.contains("to answer"),
        "{shot}"
    );
}
