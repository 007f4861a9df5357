//! What a first-time user trips over on small screens and failed connects (issue 16): popups that
//! fit the terminal, a failed connect that counts no connection, readable long messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/screens.rs"]
mod screens;

use crossterm::event::KeyCode;
use screens::{info, screen};
use turnscope::frame::Frame;
use turnscope::tui::app::{App, ConnState, Recording};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, update::update};

/// A connect that failed records one error line and no connection: the header shows no age
/// gauge ticking and counts no connection.
#[test]
fn a_failed_connect_shows_no_connection_and_no_age() {
    let mut app = App::new(info(), Theme::default());
    app.recording = Recording::Off;
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connecting { conn: 0 }),
    );
    let message = "connection refused by 127.0.0.1:1 (ws://127.0.0.1:1/v1/responses)";
    update(
        &mut app,
        Action::FrameReceived(Frame::meta(
            5_000,
            String::new(),
            0,
            &serde_json::json!({"event": "error", "message": message}),
        )),
    );
    update(
        &mut app,
        Action::LinkChanged(ConnState::Failed {
            message: message.into(),
        }),
    );
    update(&mut app, Action::Ticked { now_us: 90_000_000 });
    assert!(app.ledger.connections().is_empty());
    let out = screen(&mut app, 80, 24);
    let header: Vec<&str> = out.lines().take(3).collect();
    assert!(header[1].contains("age -"), "{out}");
    assert!(!header[1].contains("01:30"), "{out}");
    assert!(header[2].contains(" 0 conn"), "{out}");
    // The error stays readable as a note (Insight, stats) though no connection exists.
    assert_eq!(app.ledger.notes().len(), 1);
}

/// An app holding the resume offer ("the connection's cache is gone").
fn app_with_offer() -> App {
    let mut app = screens::app_from("reconnect_store_false.tsjsonl", Some(10));
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connected { conn: 1 }),
    );
    update(&mut app, Action::DismissOffer);
    let (_, frames, _) = turnscope::transcript::read_all(std::path::Path::new(
        "tests/fixtures/reconnect_store_false.tsjsonl",
    ))
    .unwrap();
    update(&mut app, Action::FrameReceived(frames[10].clone()));
    assert!(app.offer.is_some());
    app
}

/// Every row of `out` that holds `text` (joined, a popup's border cut off).
fn shows(out: &str, text: &str) -> bool {
    out.lines()
        .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
        .contains(text)
}

/// The "cache is gone" popup wraps to the terminal and always shows its keys (r, f, Esc).
#[test]
fn the_resume_offer_fits_small_terminals_and_keeps_its_keys() {
    let mut app = app_with_offer();
    for (w, h) in [(60, 20), (40, 15)] {
        let out = screen(&mut app, w, h);
        for key in ["r resend full", "f start fresh", "Esc decide later"] {
            assert!(shows(&out, key), "{w}x{h} lacks {key}:\n{out}");
        }
        assert!(
            shows(&out, "chaining by id is no longer"),
            "{w}x{h}:\n{out}"
        );
        insta::assert_snapshot!(format!("resume_offer_{w}x{h}"), out);
    }
}

/// The key help fits 60×20 and 40×15 in one column that scrolls, its close key always shown.
#[test]
fn the_help_fits_small_terminals_and_scrolls() {
    let mut app = screens::app_from("tool_loop.tsjsonl", None);
    screens::keys(&mut app, &[screens::key(KeyCode::F(1))]);
    for (w, h) in [(60, 20), (40, 15)] {
        app.popup_scroll = 0;
        let top = screen(&mut app, w, h);
        assert!(shows(&top, "Esc ? q close"), "{w}x{h}:\n{top}");
        assert!(shows(&top, "quit"), "{w}x{h}:\n{top}");
        insta::assert_snapshot!(format!("help_{w}x{h}"), top);
        screens::keys(&mut app, &[screens::key(KeyCode::PageDown); 9]);
        let bottom = screen(&mut app, w, h);
        assert!(shows(&bottom, "decide later"), "{w}x{h}:\n{bottom}");
        assert!(shows(&bottom, "Esc ? q close"), "{w}x{h}:\n{bottom}");
    }
    screens::keys(&mut app, &[screens::key(KeyCode::Esc)]);
    assert!(!app.help);
}

/// A status message wider than the screen is cut with a pointer to the log; F8 shows it whole.
#[test]
fn a_long_error_can_be_read_whole_in_the_message_log() {
    let mut app = App::new(info(), Theme::default());
    app.recording = Recording::Off;
    let long = "connection refused by 127.0.0.1:9 (ws://127.0.0.1:9/v1/responses): is the server running? Start one with `turnscope emulate` or check --url; the END";
    update(
        &mut app,
        Action::LinkChanged(ConnState::Failed {
            message: long.into(),
        }),
    );
    let out = screen(&mut app, 60, 20);
    let footer = out.lines().last().unwrap();
    assert!(
        footer.contains("F8 log") && !footer.contains("the END"),
        "{out}"
    );
    screens::keys(&mut app, &[screens::key(KeyCode::F(8))]);
    assert!(app.log_open, "F8 opens the log from the composer");
    let log = screen(&mut app, 60, 20);
    assert!(
        shows(&log, "the END") && shows(&log, "Esc ? q close"),
        "{log}"
    );
    insta::assert_snapshot!("message_log_60x20", log);
    screens::keys(&mut app, &[screens::key(KeyCode::Esc)]);
    assert!(!app.log_open && !app.help);
    assert!(
        turnscope::tui::keymap::help_rows(&app.keymap, turnscope::tui::keymap::Scope::Global)
            .iter()
            .any(|r| r.keys == "F8" && r.help.contains("message log")),
        "help names the log's key"
    );
}

/// At 60 columns the time columns keep their unit (`50 ms`, never `50.0m`, read as minutes):
/// whole columns drop out instead.
#[test]
fn sixty_columns_keep_the_time_units() {
    let mut app = screens::app_from("tool_loop.tsjsonl", None);
    let out = screen(&mut app, 60, 20);
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("done")).collect();
    assert!(!rows.is_empty(), "{out}");
    for row in rows {
        assert!(row.contains(" ms"), "{row}\n{out}");
        assert!(!row.contains(".0m"), "{row}\n{out}");
    }
}

/// Below the smallest usable size one clear message says so, with the size needed.
#[test]
fn a_tiny_terminal_says_it_is_too_small() {
    let mut app = screens::app_from("tool_loop.tsjsonl", None);
    let out = screen(&mut app, 30, 10);
    assert!(
        shows(&out, "terminal too small (30×10, need 40×12)"),
        "{out}"
    );
    insta::assert_snapshot!("too_small_30x10", out);
    let fits = screen(&mut app, 40, 12);
    assert!(!fits.contains("too small"), "{fits}");
}

/// At 60 columns a session that uses lanes keeps the lane column (issue 16): the prompt cache
/// drops out instead (the header still shows the newest turn's); a session without lanes keeps
/// the prompt cache and drops the lane column.
#[test]
fn sixty_columns_keep_the_lane_column_when_lanes_are_used() {
    let mut app = screens::app_from("two_lanes.tsjsonl", None);
    let out = screen(&mut app, 60, 20);
    let header = out
        .lines()
        .find(|l| l.contains("status") && l.contains("ttft"))
        .unwrap_or_else(|| panic!("no column header:\n{out}"));
    assert!(header.contains("lane"), "{header}\n{out}");
    assert!(!header.contains("prompt cache"), "{header}\n{out}");
    insta::assert_snapshot!("two_lanes_60x20", out);
    let mut plain = screens::app_from("tool_loop.tsjsonl", None);
    let out = screen(&mut plain, 60, 20);
    let header = out
        .lines()
        .find(|l| l.contains("status") && l.contains("ttft"))
        .unwrap_or_else(|| panic!("no column header:\n{out}"));
    assert!(
        !header.contains("lane") && header.contains("prompt cache"),
        "{header}\n{out}"
    );
}
