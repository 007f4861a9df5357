//! The replay screen on the fixtures: snapshots of its states, and keys driving timeline,
//! playback, search, jump, filters, diff and export. Replay opens on the inspector
//! (tests/replay_inspector.rs); these tests press `v` for the frames view.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::replay::filter::Filter;
use turnscope::replay::{Index, IndexOptions};
use turnscope::tui::replay::app::{ReplayAction, ReplayApp, update};
use turnscope::tui::replay::keys;
use turnscope::tui::replay::resolve::resolve;
use turnscope::tui::theme::Theme;
use turnscope::tui::view::replay::render;

fn open(name: &str) -> Index {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let options = IndexOptions {
        tokens: true,
        ..IndexOptions::default()
    };
    let index = Index::open(&path, options).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    index
}

/// The replay screen on `name`, switched to the frames view.
fn app(index: &Index, name: &str, width: u16, height: u16) -> ReplayApp {
    let mut app = opened(index, name, width, height);
    press(&mut app, index, "v");
    assert!(!app.inspect, "v shows the frames view");
    app
}

/// The replay screen as it opens: the inspector.
fn opened(index: &Index, name: &str, width: u16, height: u16) -> ReplayApp {
    let mut app = ReplayApp::new(name.into(), index.header().clone(), Theme::default());
    update(&mut app, ReplayAction::Resized { width, height });
    resolve(&mut app, index);
    app
}

/// Types `keys`: `\n` is Enter, `\x1b` Esc; every other char its key.
fn press(app: &mut ReplayApp, index: &Index, typed: &str) {
    for c in typed.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        if let Some(action) = keys::resolve(app, KeyEvent::new(code, KeyModifiers::NONE)) {
            assert!(!update(app, action), "a key quit the app");
            resolve(app, index);
        }
    }
}

fn screen(app: &ReplayApp) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(app, f)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn opening_screen() {
    let index = open("tool_loop.tsjsonl");
    let app = opened(&index, "tool_loop.tsjsonl", 80, 24);
    assert_eq!(app.cursor, 0);
    assert!(app.inspect, "replay opens on the inspector");
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn frames_view_at_the_start() {
    let index = open("tool_loop.tsjsonl");
    let app = app(&index, "tool_loop.tsjsonl", 80, 24);
    assert_eq!(app.cursor, 0);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn narrow_screen_on_a_turn() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 60, 20);
    press(&mut app, &index, "]]");
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn stepping_frames_and_turns_forwards_and_back() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    press(&mut app, &index, "jj");
    assert_eq!(app.cursor, 2);
    press(&mut app, &index, "k");
    assert_eq!(app.cursor, 1);
    // Turn 1's request is position 1; `]` goes to turn 2's request.
    assert_eq!(app.selection.as_ref().unwrap().turn.as_ref().unwrap().0, 0);
    press(&mut app, &index, "]");
    let (turn, _) = app.selection.clone().unwrap().turn.unwrap();
    assert_eq!(turn, 1);
    let request = app.selection.as_ref().unwrap().entry.as_ref().unwrap();
    assert!(
        request
            .frame
            .payload
            .json()
            .unwrap()
            .contains("response.create")
    );
    press(&mut app, &index, "[");
    assert_eq!(app.selection.as_ref().unwrap().turn.as_ref().unwrap().0, 0);
    press(&mut app, &index, "G");
    assert_eq!(app.cursor, index.len() - 1);
    press(&mut app, &index, "g");
    assert_eq!(app.cursor, 0);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn jump_to_turn_frame_response_and_time() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    press(&mut app, &index, ":3\n");
    assert_eq!(app.selection.as_ref().unwrap().turn.as_ref().unwrap().0, 2);
    press(&mut app, &index, ":#5\n");
    assert_eq!(app.cursor, 4);
    let resp = index.with_ledger(|l| l.turns()[3].response_id.clone().unwrap());
    press(&mut app, &index, &format!(":{resp}\n"));
    assert_eq!(app.selection.as_ref().unwrap().turn.as_ref().unwrap().0, 3);
    press(&mut app, &index, ":0.1s\n");
    let t = app
        .selection
        .as_ref()
        .unwrap()
        .entry
        .as_ref()
        .unwrap()
        .frame
        .t_us;
    assert!(t >= app.t0 + 100_000, "{t}");
    let before = index.get(app.cursor - 1).unwrap().frame.t_us;
    assert!(before < app.t0 + 100_000);
    press(&mut app, &index, ":nonsense\n");
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn search_forward_backward_and_wrap() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    press(&mut app, &index, "/run_tests\n");
    let first = app.cursor;
    assert!(
        index
            .raw(first)
            .unwrap()
            .windows(9)
            .any(|w| w == b"run_tests")
    );
    press(&mut app, &index, "n");
    let second = app.cursor;
    assert!(second > first);
    press(&mut app, &index, "N");
    assert_eq!(app.cursor, first);
    press(&mut app, &index, "G/connect\n");
    assert_eq!(app.cursor, 0, "wrapped to the connect meta frame");
    assert!(app.message.as_ref().unwrap().1.contains("wrapped"));
    press(&mut app, &index, "/no such text\n");
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn filters_keep_errors_directions_and_types() {
    let index = open("reconnect_store_false.tsjsonl");
    let mut app = app(&index, "reconnect_store_false.tsjsonl", 80, 24);
    press(&mut app, &index, "f");
    assert_eq!(app.filter, Filter::Errors);
    assert!(!app.rows.is_empty());
    assert!(
        app.rows
            .iter()
            .all(|r| r.head.as_ref().map_or(true, |h| h.error))
    );
    insta::assert_snapshot!("errors_only", screen(&app));
    press(&mut app, &index, "F");
    press(&mut app, &index, "gjt");
    let kind = app.rows[0].head.as_ref().unwrap().kind.clone();
    assert_eq!(app.filter, Filter::Kind(kind.clone()));
    assert!(
        app.rows
            .iter()
            .all(|r| r.head.as_ref().unwrap().kind == kind)
    );
    press(&mut app, &index, "t");
    assert_eq!(app.filter, Filter::All);
    press(&mut app, &index, "Gc");
    assert_eq!(app.filter, Filter::Conn(1));
    press(&mut app, &index, "g");
    assert!(app.rows.iter().all(|r| r.head.as_ref().unwrap().conn == 1));
}

#[test]
fn lane_filter_on_two_lanes() {
    let index = open("two_lanes.tsjsonl");
    let mut app = app(&index, "two_lanes.tsjsonl", 80, 24);
    press(&mut app, &index, "jl");
    assert_eq!(app.filter, Filter::Lane("a".into()));
    assert!(
        app.rows
            .iter()
            .all(|r| r.head.as_ref().unwrap().lane.as_deref() == Some("a"))
    );
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn diff_of_two_contexts_and_of_a_request_vs_http() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    // From the connect frame `]` goes to turn 1, then turn 2 (marked), then turn 4.
    press(&mut app, &index, "]]m]]d");
    let diff = app.diff.clone().unwrap();
    assert_eq!(diff.title, "context of turn 2 vs turn 4");
    assert!(diff.added > 0 && diff.removed == 0, "{diff:?}");
    insta::assert_snapshot!("context_diff", screen(&app));
    press(&mut app, &index, "\x1bD");
    let diff = app.diff.clone().unwrap();
    assert!(diff.title.contains("HTTP-mode"));
    assert!(diff.removed > 0 && diff.added > 0);
    insta::assert_snapshot!("http_diff", screen(&app));
    press(&mut app, &index, "\x1b");
    assert!(app.diff.is_none());
}

#[test]
fn export_frame_turn_and_response_as_json() {
    let index = open("tool_loop.tsjsonl");
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    app.export_dir = dir.path().to_owned();
    press(&mut app, &index, "]]e");
    let frame: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.path()
                .join(format!("tool_loop.frame{}.json", app.cursor + 1)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(frame["frame"]["type"], "response.create");
    press(&mut app, &index, "E");
    let turn: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("tool_loop.turn2.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(turn["turn"]["index"], 2);
    assert_eq!(turn["request"]["type"], "response.create");
    assert!(turn["events"].as_array().unwrap().len() > 2);
    press(&mut app, &index, "r");
    let id = turn["turn"]["response_id"].as_str().unwrap().to_owned();
    let response: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("tool_loop.{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(response["id"], id.as_str());
    press(&mut app, &index, "wmine.json\n");
    assert!(dir.path().join("mine.json").exists());
    assert!(app.message.as_ref().unwrap().1.contains("mine.json"));
}

/// An export never overwrites a file silently (`w` and `e` ask once, Enter confirms, Esc keeps
/// the file), and what it writes is readable by its owner only, like the transcript.
#[test]
fn export_asks_before_overwriting_and_is_owner_only() {
    let index = open("tool_loop.tsjsonl");
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    app.export_dir = dir.path().to_owned();
    let mine = dir.path().join("mine.json");
    std::fs::write(&mine, "keep me").unwrap();
    press(&mut app, &index, "wmine.json\n");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "keep me");
    let asked = screen(&app);
    assert!(
        asked.contains("exists: Enter overwrites it") && asked.contains("mine.json"),
        "{asked}"
    );
    press(&mut app, &index, "\n");
    let text = std::fs::read_to_string(&mine).unwrap();
    assert!(text.contains("\"frame\""), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an overwritten export is narrowed to 0600");
    }
    press(&mut app, &index, "e");
    let default = dir
        .path()
        .join(format!("tool_loop.frame{}.json", app.cursor + 1));
    let first = std::fs::read_to_string(&default).unwrap();
    std::fs::write(&default, "edited by hand").unwrap();
    press(&mut app, &index, "e\x1b");
    assert_eq!(std::fs::read_to_string(&default).unwrap(), "edited by hand");
    press(&mut app, &index, "e\n");
    assert_eq!(std::fs::read_to_string(&default).unwrap(), first);
}

#[test]
fn playback_follows_the_original_timing_and_max_speed() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    press(&mut app, &index, "1");
    assert!(app.play.playing);
    update(&mut app, ReplayAction::Ticked { now_us: 1_000_000 });
    resolve(&mut app, &index);
    assert_eq!(app.cursor, 0, "the first tick only anchors the clock");
    // 60 ms of screen time at ×1: every frame up to t0 + 60 ms is shown, none after.
    update(&mut app, ReplayAction::Ticked { now_us: 1_060_000 });
    resolve(&mut app, &index);
    let t = |p: u64| index.get(p).unwrap().frame.t_us;
    assert!(t(app.cursor) <= app.t0 + 60_000);
    assert!(t(app.cursor + 1) > app.t0 + 60_000);
    let at_x1 = app.cursor;
    press(&mut app, &index, " ");
    assert!(!app.play.playing);
    update(&mut app, ReplayAction::Ticked { now_us: 9_000_000 });
    resolve(&mut app, &index);
    assert_eq!(app.cursor, at_x1, "paused");
    press(&mut app, &index, "3");
    update(&mut app, ReplayAction::Ticked { now_us: 9_100_000 });
    resolve(&mut app, &index);
    assert_eq!(app.cursor, (at_x1 + 25).min(index.len() - 1));
    update(&mut app, ReplayAction::Ticked { now_us: 9_200_000 });
    resolve(&mut app, &index);
    assert_eq!(app.cursor, index.len() - 1);
    assert!(!app.play.playing, "stops at the end");
}

#[test]
fn a_truncated_recording_shows_its_cut_line_as_an_error() {
    let index = open("truncated.tsjsonl");
    let mut app = app(&index, "truncated.tsjsonl", 80, 24);
    press(&mut app, &index, "G");
    let err = app.selection.as_ref().unwrap().entry.clone().unwrap_err();
    assert!(err.truncated);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn help_popup() {
    let index = open("tool_loop.tsjsonl");
    let mut app = app(&index, "tool_loop.tsjsonl", 80, 24);
    press(&mut app, &index, "?");
    insta::assert_snapshot!(screen(&app));
    press(&mut app, &index, "x");
    assert!(!app.help);
}

/// `[keys.replay]` remaps reach the screen: the footer, the inspector's header line and the
/// help popup name the new keys, and the new key plays (issue: replay's keys remappable).
#[test]
fn remapped_replay_keys_show_in_the_footer_header_and_help() {
    let spec = |action: &str, keys: &[&str]| turnscope::config::KeySpec {
        scope: "replay".into(),
        action: action.into(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        line: 1,
    };
    let remapped = keys::remapped(
        &[
            spec("play", &["p"]),
            spec("next", &["n"]),
            spec("match-next", &["x"]),
        ],
        Path::new("c.toml"),
    )
    .unwrap();
    let index = open("tool_loop.tsjsonl");
    let mut app = opened(&index, "tool_loop.tsjsonl", 120, 40);
    app.keys = std::sync::Arc::new(remapped);
    resolve(&mut app, &index);
    let shot = screen(&app);
    assert!(
        shot.contains("n steps, ] jumps to the first turn"),
        "{shot}"
    );
    assert!(
        shot.contains("n/k frame") && shot.contains("p play"),
        "{shot}"
    );
    assert!(
        !shot.contains("Space play") && !shot.contains("j/k frame"),
        "{shot}"
    );
    press(&mut app, &index, "v");
    let timeline = screen(&app);
    let footer = timeline.lines().last().unwrap_or_default();
    assert!(
        footer.contains("n/k frame · [/] turn · p play"),
        "{timeline}"
    );
    press(&mut app, &index, "?");
    let help = screen(&app);
    assert!(help.contains("│ p "), "{help}");
    press(&mut app, &index, "\x1bp");
    assert!(app.play.playing, "p plays");
}

/// A text frame (not JSON) is shown as it is: spaces and all, not laid out by its commas and
/// brackets as JSON would be (which dropped its spaces).
#[test]
fn a_text_frame_reads_as_it_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.tsjsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"turnscope":1,"created":"2026-11-28T13:00:00Z","source":"proxy","url":"ws://127.0.0.1:8788/v1/responses","model":"m"}"#,
            "\n",
            r#"{"t_us":1,"wall":"2026-11-28T13:00:00.000001Z","conn":0,"dir":"recv","text":"upstream says: try again, (later) [503]"}"#,
            "\n",
        ),
    )
    .unwrap();
    let index = Index::open(&path, IndexOptions::default()).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    let mut app = app(&index, "text.tsjsonl", 100, 24);
    press(&mut app, &index, "j");
    let shown = screen(&app);
    assert!(
        shown.contains("upstream says: try again, (later) [503]"),
        "{shown}"
    );
}
