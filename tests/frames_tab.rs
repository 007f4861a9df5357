//! The Frames tab, the same in live, proxy and replay: every frame of the selected connection
//! (meta lines, errors and closes included), one selected with its JSON, search with a match
//! count and highlighted matches, and filters by direction, errors, type and lane.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/screens.rs"]
mod screens;

use crossterm::event::KeyCode;
use screens::{Start, app_from, app_with, key, keys, screen, typed};
use turnscope::frame::FrameStore;
use turnscope::replay::filter::Filter;
use turnscope::tui::app::{App, Focus, Tab};
use turnscope::tui::breakpoint::ProxyPanel;
use turnscope::tui::frames;

/// The selected frame's payload.
fn selected_text(app: &App) -> String {
    let shown = frames::shown(app);
    let i = frames::selected(app, &shown).expect("a frame is selected");
    String::from_utf8_lossy(&app.frames.payload_bytes(i).unwrap()).into_owned()
}

#[test]
fn live_frames_of_a_reconnect_searched_and_filtered() {
    let mut app = app_from("reconnect_store_false.tsjsonl", None);
    // Decide the resume offer later, leave the composer, show the Frames tab.
    keys(&mut app, &[key(KeyCode::Esc), key(KeyCode::Esc)]);
    assert!(app.offer.is_none());
    assert_eq!(app.focus, Focus::Turns);
    keys(&mut app, &typed("7"));
    assert_eq!(app.tab, Tab::Frames);
    // The newest turn is on connection 1: its reconnect and connect meta lines, the refused
    // request and its error, the resend and its events.
    let shown = frames::shown(&app);
    assert_eq!(shown.len(), 10, "every frame of connection 1");
    assert!(
        selected_text(&app).contains("response.completed"),
        "follows the newest"
    );
    keys(&mut app, &typed("f"));
    assert_eq!(app.frames_tab.filter, Filter::Errors);
    assert_eq!(frames::shown(&app).len(), 1);
    assert!(selected_text(&app).contains("previous_response_not_found"));
    keys(&mut app, &typed("F/resp_2"));
    assert_eq!(app.frames_tab.typing.as_deref(), Some("resp_2"));
    keys(&mut app, &[key(KeyCode::Enter)]);
    let found = frames::matches(&app, &frames::shown(&app));
    assert_eq!(
        found.len(),
        2,
        "response.created and response.completed name resp_2"
    );
    let last = selected_text(&app);
    keys(&mut app, &typed("n"));
    assert!(
        selected_text(&app).contains("response.created"),
        "n wraps to the first"
    );
    keys(&mut app, &typed("N"));
    assert_eq!(selected_text(&app), last);
    let shot = screen(&mut app, 80, 24);
    assert!(shot.contains("/resp_2 2 matches (2/2)"), "{shot}");
    insta::assert_snapshot!("search_on_connection_1", shot);
    // J/K step through the shown frames, without the filter every frame.
    keys(&mut app, &typed("K"));
    assert!(selected_text(&app).contains("output_item.done"));
    // The first turn is on connection 0: its frames end with the close.
    keys(&mut app, &typed("g"));
    assert!(selected_text(&app).contains(r#""event":"close""#));
    keys(&mut app, &typed("t"));
    assert_eq!(app.frames_tab.filter, Filter::Kind("close".into()));
    assert_eq!(frames::shown(&app).len(), 1);
    keys(&mut app, &typed("t"));
    assert_eq!(
        app.frames_tab.filter,
        Filter::All,
        "t again shows every frame"
    );
    keys(&mut app, &typed("L"));
    let message = app
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(message.contains("no lane"), "{message}");
}

#[test]
fn lane_filter_and_the_frames_tab_in_proxy_mode() {
    let mut app = app_from("two_lanes.tsjsonl", None);
    app.proxy = Some(ProxyPanel::default());
    keys(&mut app, &[key(KeyCode::Esc)]);
    keys(&mut app, &typed("7"));
    assert_eq!(app.tab, Tab::Frames);
    let all = frames::shown(&app).len();
    // Select a frame on lane "a" and keep only that lane.
    while !selected_text(&app).contains(r#""stream_id":"a""#) {
        let before = selected_text(&app);
        keys(&mut app, &typed("K"));
        assert_ne!(before, selected_text(&app), "no frame names lane a");
    }
    keys(&mut app, &typed("L"));
    assert_eq!(app.frames_tab.filter, Filter::Lane("a".into()));
    let lane_a = frames::shown(&app);
    assert!(!lane_a.is_empty() && lane_a.len() < all);
    assert!(
        lane_a
            .iter()
            .all(|&i| app.frames.head(i).unwrap().lane.as_deref() == Some("a"))
    );
    insta::assert_snapshot!("proxy_lane_a_narrow", screen(&mut app, 60, 20));
}

#[test]
fn the_help_popup_lists_the_frames_keys_while_the_tab_is_shown() {
    let mut app = app_from("tool_loop.tsjsonl", None);
    keys(&mut app, &[key(KeyCode::Esc)]);
    keys(&mut app, &typed("7?"));
    assert!(app.help);
    let shot = screen(&mut app, 80, 24);
    for label in [
        "Frames tab",
        "search the frames",
        "next / previous match",
        "only this frame's lane",
    ] {
        assert!(shot.contains(label), "{label}: {shot}");
    }
    insta::assert_snapshot!("help_in_the_frames_tab", shot);
}

/// Old frames are read back from the store's spool files: on a store that writes out every few
/// frames, stepping back to the first frame of a connection draws what a store that keeps every
/// frame in memory draws, frame list, heads and JSON alike. A store that cannot make its spool
/// says so on the status line (the frames stay in memory) and draws the same frames.
#[test]
fn old_frames_read_back_from_the_spool_draw_as_frames_in_memory() {
    let with = |frames: FrameStore| {
        let start = Start {
            size: Some((100, 30)),
            frames: Some(frames),
            ..Start::default()
        };
        let mut app = app_with("reconnect_store_false.tsjsonl", None, start);
        keys(&mut app, &[key(KeyCode::Esc), key(KeyCode::Esc)]);
        keys(&mut app, &typed("7g"));
        app
    };
    let in_memory = FrameStore::spooled_in(None, 1 << 30, 1 << 20);
    let spooled = FrameStore::spooled_in(None, 64, 2);
    let missing = std::path::PathBuf::from("/nonexistent/turnscope-spool");
    let unspoolable = FrameStore::spooled_in(Some(missing), 64, 2);
    let [mut a, mut b, mut c] = [in_memory, spooled, unspoolable].map(with);
    assert!(
        b.frames.resident_record_bytes() < 2 * 32 && b.frames.resident_body_bytes() < 64 + 1024,
        "the spooled store keeps its frames on disk"
    );
    // Later messages replace it on the status line; the message log keeps it.
    let said: Vec<&str> = c.log.iter().map(|m| m.text.as_str()).collect();
    let spool: Vec<_> = said.iter().filter(|m| m.contains("spool")).collect();
    assert_eq!(spool.len(), 1, "said once: {said:?}");
    assert!(
        spool[0].contains("cannot create a spool file") && spool[0].contains("TMPDIR"),
        "{said:?}"
    );
    assert!(!b.log.iter().any(|m| m.text.contains("spool")));
    // The same frames, stepped back through connection 0 from its newest.
    for step in 0..12 {
        let shots = [&mut a, &mut b, &mut c].map(|app| {
            app.message = None;
            screen(app, 100, 30)
        });
        assert!(shots[0].contains("Frame #"), "{}", shots[0]);
        assert_eq!(shots[0], shots[1], "step {step}: spooled");
        assert_eq!(shots[0], shots[2], "step {step}: kept in memory");
        for app in [&mut a, &mut b, &mut c] {
            keys(app, &typed("K"));
        }
    }
}
