//! Replay opens on the live inspector with a time cursor: for the same transcript, the replay
//! screen with the cursor at the end is the live screen after the session (turn list focused),
//! at 80×24 and 120×40. Three parts say it is a recording and nothing else differs: the header
//! carries `replay +t` before the link state, the composer box is read-only, and the bottom line
//! is the time cursor instead of the live key hints. With the cursor mid-session it shows only
//! the turns started by then. The replay keys (step, turn, play, jump, search) work from it.
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
    // The user left the composer (Esc): replay shows the turn list focused, nothing to type.
    turnscope::tui::update::update(&mut app, Action::FocusTurns);
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
    let (app, _index) = replay(width, height, "G");
    assert!(app.inspect, "replay opens on the inspector");
    let replay_lines = lines(
        |f| turnscope::tui::view::replay::render(&app, f),
        width,
        height,
    );
    let h = usize::from(height);
    // Row 0: the live header with the recording's mark and cursor time put before the link,
    // and without the key hint.
    let mark = " replay  +0.700s ";
    assert!(replay_lines[0].contains(mark), "{}", replay_lines[0]);
    let unmarked = replay_lines[0].replacen(mark, "", 1);
    // A replay sends nothing, so the live header's key hint has no counterpart there.
    let live_row = live_lines[0].replacen("  no key", "", 1);
    let live_row = live_row.trim_end();
    let room = unmarked.trim_end().chars().count();
    assert_eq!(
        unmarked.trim_end(),
        live_row.chars().take(room).collect::<String>(),
        "the header is the live one, clipped by the mark"
    );
    // Row 2: the live totals; where live names the file it records to, replay names the
    // recording it reads.
    let (totals, slot) = replay_lines[2].split_once(" │ ").unwrap();
    assert!(live_lines[2].starts_with(&format!("{totals} │ ")));
    assert!(slot.starts_with("recording "), "{slot}");
    // Header row 1, the turn list and the detail tabs: the live screen, cell for cell — but
    // the tab row, whose labels carry no digits in replay (its 1-3 set the speed).
    let composer = h - 4;
    assert_eq!(replay_lines[1], live_lines[1]);
    let tab_row = (3..composer)
        .find(|&y| live_lines[y].contains("1 Payload"))
        .expect("the live screen has a numbered tab row");
    for (y, (r, l)) in replay_lines[3..composer]
        .iter()
        .zip(&live_lines[3..composer])
        .enumerate()
    {
        if y + 3 != tab_row {
            assert_eq!(
                r,
                l,
                "replay at the end vs live, row {}, {width}×{height}",
                y + 3
            );
        }
    }
    let tabs = &replay_lines[tab_row];
    assert!(
        tabs.contains("Payload") && !tabs.contains("1 Payload") && !tabs.contains("7 Frames"),
        "replay's tab row names tabs without digit keys: {tabs}"
    );
    assert!(
        replay_lines[composer..h - 1]
            .iter()
            .any(|l| l.contains("read-only")),
        "the composer says it is read-only"
    );
    assert!(
        replay_lines[h - 1].contains("frame #30/30"),
        "the time cursor"
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
    let (app, _index) = replay(100, 30, ":0.35s\n");
    let ins = app.inspector.as_ref().expect("the inspector is on");
    assert_eq!(ins.app.ledger.turns().len(), 3, "turns started by 0.35 s");
    let screen = lines(|f| turnscope::tui::view::replay::render(&app, f), 100, 30).join("\n");
    assert!(
        !screen.contains("turn 4") && !screen.contains("#4 "),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

fn ins(app: &ReplayApp) -> &turnscope::tui::replay::inspect::Inspector {
    app.inspector.as_ref().expect("the inspector is on")
}

fn key(app: &mut ReplayApp, index: &Index, code: KeyCode) {
    if let Some(action) = keys::resolve(app, KeyEvent::new(code, KeyModifiers::NONE)) {
        assert!(!update(app, action), "a key quit the app");
        resolve(app, index);
    }
}

#[test]
fn replay_keys_work_from_the_inspector_and_the_composer_sends_nothing() {
    let (mut app, index) = replay(80, 24, "]]");
    assert_eq!(
        ins(&app).app.ledger.turns().len(),
        2,
        "] twice: turn 2's request"
    );
    // Step by frame: the App takes the next frame (turn 2's response.created).
    let frames = ins(&app).app.frames.len();
    key(&mut app, &index, KeyCode::Char('j'));
    assert_eq!(ins(&app).app.frames.len(), frames + 1);
    // Back a frame rebuilds the App without the frame, keeping the tab shown.
    key(&mut app, &index, KeyCode::Tab);
    key(&mut app, &index, KeyCode::Char('k'));
    assert_eq!(ins(&app).app.frames.len(), frames);
    assert_eq!(ins(&app).app.tab.title(), "Events");
    // Search from the inspector moves the cursor to the match and the App with it.
    for c in "/resp_4\n".chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        key(&mut app, &index, code);
    }
    let at = app.cursor;
    assert!(index.raw(at).unwrap().windows(6).any(|w| w == b"resp_4"));
    assert_eq!(ins(&app).app.frames.len() as u64, at + 1);
    // A filter shows on the time cursor line.
    key(&mut app, &index, KeyCode::Char('f'));
    let screen = lines(|f| turnscope::tui::view::replay::render(&app, f), 80, 24);
    assert!(screen[23].contains("filter errors"), "{}", screen[23]);
    key(&mut app, &index, KeyCode::Char('F'));
    // The composer cannot be focused, typed into or sent from.
    for code in [KeyCode::Char('i'), KeyCode::Enter] {
        key(&mut app, &index, code);
    }
    assert_eq!(ins(&app).app.focus, turnscope::tui::app::Focus::Turns);
    update(&mut app, ReplayAction::Inspect(Action::SendTurn));
    let message = ins(&app).app.message.as_ref().map(|m| m.text.clone());
    assert_eq!(
        message.as_deref(),
        Some(turnscope::tui::app::REPLAY_READ_ONLY)
    );
    // Play at max speed to the end: the App shows every turn.
    key(&mut app, &index, KeyCode::Char('3'));
    for now_us in [1_000_000, 1_100_000] {
        update(&mut app, ReplayAction::Ticked { now_us });
        resolve(&mut app, &index);
    }
    assert!(!app.play.playing, "stops at the end");
    assert_eq!(ins(&app).app.ledger.turns().len(), 5);
}

#[test]
fn a_diff_from_the_inspector_covers_its_detail_pane() {
    // Mark turn 2 (selected in the turn list with ↑), then diff it with turn 4.
    let (mut app, index) = replay(80, 24, "]]]]");
    key(&mut app, &index, KeyCode::Up);
    key(&mut app, &index, KeyCode::Up);
    assert_eq!(app.inspector.as_ref().unwrap().app.selected, Some(1));
    key(&mut app, &index, KeyCode::Char('m'));
    assert_eq!(app.mark, Some(1));
    key(&mut app, &index, KeyCode::Down);
    key(&mut app, &index, KeyCode::Down);
    key(&mut app, &index, KeyCode::Char('d'));
    let diff = app.diff.clone().expect("a diff");
    assert_eq!(diff.title, "context of turn 2 vs turn 4");
    let screen = lines(|f| turnscope::tui::view::replay::render(&app, f), 80, 24).join("\n");
    assert!(screen.contains("context of turn 2 vs turn 4"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_frames_tab_searches_the_frames_up_to_the_cursor() {
    let (mut app, index) = replay(80, 24, ":#20\n");
    for _ in 0..6 {
        key(&mut app, &index, KeyCode::Tab);
    }
    assert_eq!(ins(&app).app.tab, turnscope::tui::app::Tab::Frames);
    let cursor = app.cursor;
    // `/` types into the tab's search (not replay's), `n` steps its matches.
    for c in "/resp_2\n".chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        key(&mut app, &index, code);
    }
    assert_eq!(app.cursor, cursor, "the time cursor stays");
    let tab = &ins(&app).app.frames_tab;
    assert_eq!(tab.search.as_deref(), Some("resp_2"));
    // Up to frame 20: turn 2's created and completed, turn 3's request chaining to it.
    assert_eq!(tab.hits.len(), 3, "{:?}", tab.hits);
    let screen = lines(|f| turnscope::tui::view::replay::render(&app, f), 80, 24).join("\n");
    assert!(screen.contains("/resp_2 3 matches"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// A jump to the end feeds the inspector one chunk per draw: the screen asks the loop for a
/// tick until it has caught up, says how far it is meanwhile, answers keys between chunks, and
/// arrives at the screen an unchunked feed draws.
#[test]
fn a_jump_to_the_end_catches_up_in_chunks_between_keys() {
    use turnscope::tui::replay::run::ReplayScreen;
    use turnscope::tui::run::{Screen, Step};
    let index = Index::open(&path(), IndexOptions::default()).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    let open = |chunk: u64| {
        let mut app = ReplayApp::new(FIXTURE.into(), index.header().clone(), Theme::default());
        app.feed_chunk = chunk;
        update(
            &mut app,
            ReplayAction::Resized {
                width: 80,
                height: 24,
            },
        );
        resolve(&mut app, &index);
        update(&mut app, ReplayAction::Last);
        resolve(&mut app, &index);
        app
    };
    let whole = open(u64::MAX);
    assert!(ins(&whole).catching_up().is_none());
    let expected = lines(|f| view::replay::render(&whole, f), 80, 24);

    let app = open(4);
    let (fed, target) = ins(&app).catching_up().expect("a jump larger than a chunk");
    assert_eq!((fed, target), (1 + 4, whole.cursor + 1));
    let partway = lines(|f| view::replay::render(&app, f), 80, 24).join("\n");
    assert!(partway.contains("catching up"), "{partway}");

    // A key between chunks is answered at once: back to the first frame, nothing left to feed.
    let mut back = open(4);
    key(&mut back, &index, KeyCode::Char('g'));
    assert_eq!(back.cursor, 0);
    assert!(ins(&back).catching_up().is_none());

    // On the loop: a tick while catching up, each drawing (and feeding) once, then no tick.
    let mut screen = ReplayScreen::new(app, &index);
    let mut ticks = 0;
    while screen.tick_every().is_some() {
        let action = screen
            .tick(std::time::Instant::now())
            .expect("a tick action");
        assert_eq!(screen.apply(action), Step::Redraw);
        screen.prepare();
        ticks += 1;
        assert!(ticks < 1_000, "never caught up");
    }
    assert_eq!(ticks, (target - fed).div_ceil(4));
    let caught_up = lines(|f| view::replay::render(&screen.app, f), 80, 24);
    assert_eq!(caught_up, expected);
}
