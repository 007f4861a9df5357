//! Screen snapshots of the live TUI's main states, built from fixtures with a fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::tui::app::{App, ConnState, Focus, Recording, Tab};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, Command, update::update, view};

#[path = "support/screens.rs"]
mod screens;

use screens::{info, key, keys, screen, typed};

const MIN: u64 = 60_000_000;

/// An app fed the first `n` frames of a fixture (all when `None`), sized 80×24 before the
/// first frame (unlike `screens::app_from`), which these snapshots were taken with.
fn app_from(fixture: &str, n: Option<usize>) -> App {
    screens::app_with(
        fixture,
        n,
        screens::Start {
            size: Some((80, 24)),
            ..screens::Start::default()
        },
    )
}

#[test]
fn empty_session() {
    let mut app = App::new(info(), Theme::default());
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connecting { conn: 0 }),
    );
    app.recording = Recording::Off;
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn streaming_turn() {
    let mut app = app_from("tool_loop.tsjsonl", Some(27));
    update(&mut app, Action::ShowTab(Tab::Output));
    update(&mut app, Action::FocusTurns);
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn tool_calls_pending() {
    let mut app = app_from("tool_loop.tsjsonl", Some(6));
    assert_eq!(app.pending_calls().len(), 1);
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn server_error_offers_resume() {
    let mut app = app_from("reconnect_store_false.tsjsonl", Some(10));
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connected { conn: 1 }),
    );
    update(&mut app, Action::DismissOffer);
    let (_, frames, _) =
        turnscope::transcript::read_all(Path::new("tests/fixtures/reconnect_store_false.tsjsonl"))
            .unwrap();
    update(&mut app, Action::FrameReceived(frames[10].clone()));
    assert!(
        app.offer.is_some(),
        "previous_response_not_found offers a resend"
    );
    let message = app.message.clone().unwrap().text;
    assert!(message.contains("previous_response_not_found"), "{message}");
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    update(&mut app, Action::DismissOffer);
    update(&mut app, Action::ShowTab(Tab::Output));
    update(&mut app, Action::FocusTurns);
    insta::assert_snapshot!("server_error_output_tab", screen(&mut app, 80, 24));
}

#[test]
fn near_the_sixty_minute_limit() {
    let mut app = app_from("tool_loop.tsjsonl", Some(29));
    update(&mut app, Action::FocusTurns);
    update(&mut app, Action::Ticked { now_us: 51 * MIN });
    let warn = screen(&mut app, 80, 24);
    assert!(warn.contains("51:00/60m"), "{warn}");
    update(&mut app, Action::Ticked { now_us: 56 * MIN });
    assert!(app.message.as_ref().unwrap().text.contains("rotate"));
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn help_popup() {
    let mut app = app_from("tool_loop.tsjsonl", None);
    update(&mut app, Action::FocusTurns);
    keys(&mut app, &[key(KeyCode::Char('?'))]);
    assert!(app.help);
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    keys(&mut app, &[key(KeyCode::Esc)]);
    assert!(!app.help);
}

#[test]
fn composer_shows_the_request_before_it_goes_out() {
    let mut app = app_from("tool_loop.tsjsonl", Some(29));
    keys(&mut app, &typed("now refactor it"));
    let out = screen(&mut app, 80, 24);
    assert!(out.contains("prev resp_5"), "{out}");
    insta::assert_snapshot!(out);
    let commands = keys(&mut app, &[key(KeyCode::Enter)]);
    let [Command::Send(json)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert!(
        json.contains(r#""previous_response_id":"resp_5""#),
        "{json}"
    );
    assert!(
        json.contains(r#""input":[{"content":"now refactor it","role":"user","type":"message"}]"#),
        "{json}"
    );
    assert!(app.composer.textarea.is_empty());
}

#[test]
fn answering_a_tool_call_by_keys() {
    let mut app = app_from("tool_loop.tsjsonl", Some(6));
    assert_eq!(app.focus, Focus::Composer);
    // Empty output is refused with a reason, inline.
    assert!(keys(&mut app, &[key(KeyCode::Enter)]).is_empty());
    assert!(app.composer.error.as_deref().unwrap().contains("read_file"));
    keys(&mut app, &typed("fn add() {}"));
    insta::assert_snapshot!(screen(&mut app, 80, 24));
    let commands = keys(&mut app, &[key(KeyCode::Enter)]);
    let [Command::Send(json)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert!(
        json.contains(
            r#"{"call_id":"call_1","output":"fn add() {}","type":"function_call_output"}"#
        ),
        "{json}"
    );
    assert!(
        json.contains(r#""previous_response_id":"resp_1""#),
        "{json}"
    );
}

#[test]
fn raw_json_mode_validates_inline() {
    let mut app = app_from("tool_loop.tsjsonl", None);
    // No call waits, so one Ctrl-T reaches raw mode.
    update(&mut app, Action::CycleComposerMode);
    // Raw mode starts from what message mode would send; replace it with a broken event.
    app.composer
        .set_text("{\"type\":\"response.create\",\"store\":\"yes\"}");
    assert!(keys(&mut app, &[key(KeyCode::Enter)]).is_empty());
    let err = app.composer.error.clone().unwrap();
    assert!(err.contains("invalid response.create"), "{err}");
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn narrow_screens() {
    let mut app = app_from("tool_loop.tsjsonl", None);
    update(&mut app, Action::FocusTurns);
    insta::assert_snapshot!("narrow_done", screen(&mut app, 60, 20));
    let mut app = app_from("tool_loop.tsjsonl", Some(6));
    insta::assert_snapshot!("narrow_pending", screen(&mut app, 60, 20));
}

#[test]
fn tabs_of_a_finished_tool_loop() {
    let mut app = app_from("tool_loop.tsjsonl", None);
    update(&mut app, Action::FocusTurns);
    keys(&mut app, &[key(KeyCode::Up)]);
    for tab in Tab::ALL {
        update(&mut app, Action::ShowTab(tab));
        insta::assert_snapshot!(
            format!("tab_{}", tab.title().to_lowercase()),
            screen(&mut app, 100, 30)
        );
    }
}

#[test]
fn mouse_selects_turns_and_tabs() {
    let mut app = app_from("tool_loop.tsjsonl", None);
    let areas = view::layout(&app, app.area);
    let first_shown = app.list_offset;
    update(
        &mut app,
        Action::Clicked {
            column: 3,
            row: areas.list.y + 2,
        },
    );
    assert_eq!(app.selected, Some(first_shown));
    assert_eq!(app.focus, Focus::Turns);
    let areas = view::layout(&app, app.area);
    let (tab, x, _) = view::detail::tab_ranges(&app, areas.detail)[2];
    update(
        &mut app,
        Action::Clicked {
            column: x + 1,
            row: areas.detail.y,
        },
    );
    assert_eq!(app.tab, tab);
    update(
        &mut app,
        Action::Scrolled {
            column: 3,
            row: areas.list.y + 3,
            delta: 1,
        },
    );
    assert_eq!(app.selected, Some(first_shown + 1));
}

#[test]
fn theme_styles_reach_the_buffer() {
    let mut app = app_from("tool_loop.tsjsonl", Some(6));
    update(
        &mut app,
        Action::Resized {
            width: 80,
            height: 24,
        },
    );
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| view::render(&app, f)).unwrap();
    let buffer = terminal.backend().buffer();
    // The app name is drawn in the accent role, the "emulator" badge in the badge role.
    assert_eq!(buffer[(0, 0)].style().fg, app.theme.accent.fg);
    let row: String = (0..80)
        .map(|x| buffer[(x, 0)].symbol().to_owned())
        .collect();
    let badge = row.find("emulator").unwrap();
    let badge_col = u16::try_from(row[..badge].chars().count()).unwrap();
    assert_eq!(buffer[(badge_col, 0)].style().bg, app.theme.badge.bg);
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = app_from("reconnect_store_false.tsjsonl", Some(11));
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connected { conn: 1 }),
    );
    for (w, h) in [(1, 1), (10, 3), (20, 5), (30, 8), (200, 4)] {
        for help in [false, true] {
            app.help = help;
            for focus in [Action::FocusTurns, Action::FocusComposer] {
                update(&mut app, focus);
                let _ = screen(&mut app, w, h);
            }
        }
    }
}

#[test]
fn steer_warmup_and_lane_toggles_shape_the_request() {
    // A running turn (streaming) on the default lane: with steer on, a message steers it.
    let mut app = app_from("tool_loop.tsjsonl", Some(27));
    update(&mut app, Action::ToggleSteer);
    keys(&mut app, &typed("use saturating_add"));
    let commands = keys(&mut app, &[key(KeyCode::Enter)]);
    let [Command::Send(json)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert!(
        json.starts_with(r#"{"type":"response.steer","previous_response_id":"resp_5""#),
        "{json}"
    );
    // Warm-up on lane-1: generate:false and stream_id, no input needed.
    let mut app = app_from("tool_loop.tsjsonl", None);
    update(&mut app, Action::ToggleWarmup);
    update(&mut app, Action::CycleLane);
    let commands = keys(&mut app, &[key(KeyCode::Enter)]);
    let [Command::Send(json)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert!(
        json.contains(r#""stream_id":"lane-1","generate":false"#),
        "{json}"
    );
    assert!(
        !json.contains("previous_response_id"),
        "lane-1 has no chain yet: {json}"
    );
    assert!(!app.composer.warmup, "warm-up is one-shot");
}

#[test]
fn an_error_outside_any_turn_is_shown_with_its_explanation() {
    let mut app = App::new(info(), Theme::default());
    let frame = turnscope::frame::Frame {
        t_us: 5,
        wall: String::new(),
        conn: 0,
        dir: turnscope::frame::Dir::Recv,
        payload: turnscope::frame::Payload::Json(
            r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"invalid_stream_id","message":"bad lane","param":"stream_id"}}"#.into(),
        ),
    };
    update(&mut app, Action::FrameReceived(frame));
    let m = app.message.clone().unwrap();
    assert!(m.text.contains("invalid_stream_id: bad lane"), "{}", m.text);
    assert!(m.text.contains("1-256 characters"), "{}", m.text);
}

#[test]
fn new_calls_reset_a_stale_output_but_never_take_a_typed_message() {
    let (_, frames, _) =
        turnscope::transcript::read_all(Path::new("tests/fixtures/tool_loop.tsjsonl")).unwrap();
    let mut app = app_from("tool_loop.tsjsonl", Some(6));
    assert_eq!(
        app.composer.mode,
        turnscope::tui::app::ComposerMode::ToolOutputs
    );
    keys(&mut app, &typed("half-typed output"));
    // Turn 2 (answered elsewhere) asks for a new call: the old text goes.
    for f in &frames[6..11] {
        update(&mut app, Action::FrameReceived(f.clone()));
    }
    assert_eq!(app.pending_calls()[0].call_id, "call_2");
    assert_eq!(
        app.composer.mode,
        turnscope::tui::app::ComposerMode::ToolOutputs
    );
    assert!(app.composer.textarea.is_empty());
    // A message being typed stays when turn 3 asks for another call.
    update(&mut app, Action::CycleComposerMode);
    update(&mut app, Action::CycleComposerMode);
    update(&mut app, Action::CycleComposerMode);
    assert_eq!(
        app.composer.mode,
        turnscope::tui::app::ComposerMode::ToolOutputs
    );
    update(&mut app, Action::CycleComposerMode);
    update(&mut app, Action::CycleComposerMode);
    assert_eq!(
        app.composer.mode,
        turnscope::tui::app::ComposerMode::Message
    );
    app.composer.set_text("a thought");
    for f in &frames[11..16] {
        update(&mut app, Action::FrameReceived(f.clone()));
    }
    assert_eq!(
        app.composer.mode,
        turnscope::tui::app::ComposerMode::Message
    );
    assert_eq!(app.composer.text(), "a thought");
}

#[test]
fn first_screen_names_help_and_quit_and_f1_opens_help_from_the_composer() {
    let mut app = App::new(info(), Theme::default());
    app.recording = Recording::Off;
    assert_eq!(app.focus, Focus::Composer, "a newcomer can type at once");
    let out = screen(&mut app, 80, 24);
    let footer = out.lines().nth(23).unwrap();
    assert!(
        footer.contains("F1 help") && footer.contains("Ctrl-C quit"),
        "{out}"
    );
    keys(&mut app, &[key(KeyCode::F(1))]);
    assert!(app.help, "F1 opens help while typing");
    keys(&mut app, &[key(KeyCode::F(1))]);
    assert!(!app.help, "and closes it");
    keys(&mut app, &typed("?q"));
    assert_eq!(app.composer.text(), "?q", "typing stays typing");
}

#[test]
fn composer_keys_behave_like_a_line_editor() {
    use turnscope::tui::app::ComposerMode;
    let mut app = App::new(info(), Theme::default());
    // No call waits: Ctrl-T goes straight from message to raw JSON and back.
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    keys(&mut app, &[ctrl('t')]);
    assert_eq!(app.composer.mode, ComposerMode::Raw);
    keys(&mut app, &[ctrl('t')]);
    assert_eq!(app.composer.mode, ComposerMode::Message);
    // Ctrl-U deletes the line before the cursor, as in readline.
    keys(&mut app, &typed("first line"));
    keys(&mut app, &[ctrl('j')]);
    keys(&mut app, &typed("second line"));
    keys(&mut app, &[ctrl('u')]);
    assert_eq!(app.composer.text(), "first line\n");
}

#[test]
fn a_large_pasted_text_stays_inside_the_composer() {
    let mut app = App::new(info(), Theme::default());
    app.recording = Recording::Off;
    // Terminals deliver pasted line breaks as \r; 200 lines, about 20 KB.
    let text: Vec<String> = (0..200)
        .map(|i| format!("line {i} {}", "x".repeat(i % 150)))
        .collect();
    update(&mut app, Action::Pasted(text.join("\r")));
    assert_eq!(app.composer.textarea.lines().len(), 200);
    let out = screen(&mut app, 80, 24);
    for row in out.lines().filter(|l| l.contains("line 1")) {
        assert!(!row.contains('\r'), "{out}");
    }
    let composer_rows: Vec<&str> = out.lines().skip(18).take(4).collect();
    for row in composer_rows {
        let row = row.trim_matches('"');
        assert!(row.starts_with('│') && row.ends_with('│'), "{out}");
    }
}

#[test]
fn sending_while_disconnected_keeps_the_text_and_offers_the_reconnect() {
    let mut app = App::new(info(), Theme::default());
    close_the_connection(&mut app);
    keys(&mut app, &typed("hello"));
    assert!(keys(&mut app, &[key(KeyCode::Enter)]).is_empty());
    assert_eq!(app.composer.text(), "hello", "the text stays");
    let err = app.composer.error.clone().unwrap();
    assert!(err.contains("Ctrl-R"), "{err}");
    // A refusal the session reports after the fact says "not sent" once.
    update(
        &mut app,
        Action::SendFailed {
            count: 1,
            why: "not sent: connection 0 to ws://x is not open; reconnect first".into(),
        },
    );
    let m = app.message.clone().unwrap().text;
    assert_eq!(m.matches("not sent").count(), 1, "{m}");
    assert!(m.starts_with("1 event not sent"), "{m}");
}

/// A `[keys.*]` remap shows in the footer and in the lines that name a key (the composer's
/// placeholder and its hint while the turn list has focus): all read the App's own keymap.
#[test]
fn the_footer_names_remapped_keys() {
    use turnscope::tui::keymap;
    let spec = |scope: &str, action: &str, keys: &[&str]| turnscope::config::KeySpec {
        scope: scope.into(),
        action: action.into(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        line: 1,
    };
    let remapped = keymap::remap::remap(
        &keymap::defaults(),
        &[
            spec("turns", "next", &["n"]),
            spec("turns", "compose", &["c"]),
            spec("composer", "send", &["ctrl-s"]),
        ],
        Path::new("c.toml"),
    )
    .unwrap();
    let mut app = app_from("tool_loop.tsjsonl", None);
    app.keymap = std::sync::Arc::new(remapped);
    let footer = |app: &mut App| screen(app, 80, 24).lines().last().unwrap().to_owned();
    assert!(
        footer(&mut app).contains("Ctrl-S send"),
        "{}",
        footer(&mut app)
    );
    let shot = screen(&mut app, 80, 24);
    assert!(
        shot.contains("type a message · Ctrl-S sends · Ctrl-J new line"),
        "{shot}"
    );
    app.focus = Focus::Turns;
    assert!(
        footer(&mut app).contains("n/k turns · R reconnect")
            && footer(&mut app).contains("c compose"),
        "{}",
        footer(&mut app)
    );
    let shot = screen(&mut app, 80, 24);
    assert!(shot.contains("c write a message · ? all keys"), "{shot}");
}

/// Status messages that name the reconnect key (a closed connection, a failed send) name the
/// remapped key, not the default Ctrl-R.
#[test]
fn status_messages_name_the_remapped_reconnect_key() {
    use turnscope::tui::keymap;
    let remapped = keymap::remap::remap(
        &keymap::defaults(),
        &[turnscope::config::KeySpec {
            scope: "global".into(),
            action: "reconnect".into(),
            keys: vec!["ctrl-g".into()],
            line: 1,
        }],
        Path::new("c.toml"),
    )
    .unwrap();
    let mut app = app_from("tool_loop.tsjsonl", None);
    app.keymap = std::sync::Arc::new(remapped);
    close_the_connection(&mut app);
    let m = app.message.clone().unwrap().text;
    assert!(m.ends_with("— Ctrl-G reconnects"), "{m}");
    update(
        &mut app,
        Action::SendFailed {
            count: 2,
            why: "the socket is closed".into(),
        },
    );
    let m = app.message.clone().unwrap().text;
    assert!(
        m.contains("Ctrl-G reconnects") && !m.contains("Ctrl-R"),
        "{m}"
    );
}

/// The session's connection closed abnormally (1006).
fn close_the_connection(app: &mut App) {
    update(
        app,
        Action::LinkChanged(ConnState::Closed {
            conn: 0,
            code: Some(1006),
            reason: "gone".into(),
        }),
    );
}
