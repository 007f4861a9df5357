//! What a first-time user trips over on small screens and failed connects (issue 16): popups that
//! fit the terminal, a failed connect that counts no connection, readable long messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/screens.rs"]
mod screens;

use screens::{info, screen};
use turnscope::frame::Frame;
use turnscope::tui::app::{App, LinkState, Recording};
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
        Action::LinkChanged(LinkState::Connecting { conn: 0 }),
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
        Action::LinkChanged(LinkState::Failed {
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
