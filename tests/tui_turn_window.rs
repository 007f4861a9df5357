//! The proxy TUI's turn window (issue 18, a proxy left running for a day): finished turns past
//! the window leave the ledger and one "earlier" row sums them; the header totals, the session
//! cost and every listed turn read as they would with every turn kept, and moving above the
//! first listed turn says where the others are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::tui::app::{App, Focus, Recording, SessionInfo, Tab};
use turnscope::tui::breakpoint::ProxyPanel;
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, keymap, update::update, view};

/// Turns the test windows keep listed.
const WINDOW: usize = 8;

/// A proxy App that lists at most `window` turns (`None`: every turn, as before).
fn proxy_app(window: Option<usize>) -> App {
    let info = SessionInfo {
        url: "proxy http://127.0.0.1:8788/v1 → http://127.0.0.1:8787/v1".into(),
        model: "(the agent's)".into(),
        emulated: true,
        key_hint: None,
    };
    let mut app = App::new(info, Theme::default());
    app.proxy = Some(ProxyPanel::default());
    app.focus = Focus::Turns;
    app.recording = Recording::To("/data/turnscope/sessions/proxy.tsjsonl".into());
    app.turn_window = window;
    app
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

/// The frames of `turns` chained turns (each continues the previous one by id, every third
/// calls a tool, every seventh ends in an error), from turn `from` on.
fn chained_turns(from: u64, turns: u64) -> Vec<Action> {
    let mut out = Vec::new();
    if from == 0 {
        out.push(frame(0, Dir::Meta, r#"{"event":"connect","url":"ws://x"}"#));
    }
    for n in from..from + turns {
        let t = 1_000 + n * 1_000;
        let prev = if n == 0 {
            String::new()
        } else {
            format!(r#","previous_response_id":"resp_{}""#, n - 1)
        };
        out.push(frame(
            t,
            Dir::Sent,
            &format!(
                r#"{{"type":"response.create","model":"gpt-5.1","store":false{prev},"input":[{{"type":"message","role":"user","content":"step {n} of the task"}}]}}"#
            ),
        ));
        out.push(frame(
            t + 100,
            Dir::Recv,
            &format!(r#"{{"type":"response.created","response":{{"id":"resp_{n}"}}}}"#),
        ));
        if n % 7 == 6 {
            out.push(frame(
                t + 200,
                Dir::Recv,
                r#"{"type":"error","status":500,"error":{"type":"server_error","code":"server_error","message":"try again"}}"#,
            ));
            continue;
        }
        let output = if n % 3 == 2 {
            format!(
                r#"[{{"type":"function_call","id":"fc_{n}","call_id":"call_{n}","name":"shell","arguments":"{{}}"}}]"#
            )
        } else {
            format!(
                r#"[{{"type":"message","id":"msg_{n}","role":"assistant","content":[{{"type":"output_text","text":"done {n}"}}]}}]"#
            )
        };
        out.push(frame(
            t + 300,
            Dir::Recv,
            &format!(
                r#"{{"type":"response.completed","response":{{"id":"resp_{n}","model":"gpt-5.1","output":{output},"usage":{{"input_tokens":{},"input_tokens_details":{{"cached_tokens":{}}},"output_tokens":7,"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":0}}}}}}"#,
                1_200 + n * 40,
                1_024 + n * 32
            ),
        ));
    }
    out
}

fn feed(app: &mut App, actions: Vec<Action>) {
    for action in actions {
        update(app, action);
    }
}

fn screen(app: &mut App, width: u16, height: u16) -> String {
    update(app, Action::Resized { width, height });
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) {
    let key = KeyEvent::new(code, KeyModifiers::NONE);
    if let Some(action) = keymap::resolve(app, key) {
        update(app, action);
    }
}

/// The first `n` lines of a drawn screen.
fn lines(out: &str, n: usize) -> String {
    out.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// 40 turns through a window of 8: the list keeps 8 to 9 turns and one earlier row whose figures
/// are the header's totals less the listed turns'; the header and the Usage tab's session cost
/// read the same as on an App that keeps every turn.
#[test]
fn a_long_proxy_session_lists_the_newest_turns_and_one_earlier_row() {
    let mut windowed = proxy_app(Some(WINDOW));
    let mut whole = proxy_app(None);
    feed(&mut windowed, chained_turns(0, 40));
    feed(&mut whole, chained_turns(0, 40));

    let listed = windowed.ledger.turns().len();
    assert!(
        (WINDOW..=WINDOW + WINDOW / 8 + 1).contains(&listed),
        "{listed} turns listed"
    );
    assert_eq!(windowed.ledger.retired() + listed, 40);
    assert_eq!(windowed.ledger.totals(), whole.ledger.totals());
    let mut sum = windowed.earlier.totals;
    windowed.ledger.turns().iter().for_each(|t| sum.add_turn(t));
    assert_eq!(&sum, whole.ledger.totals(), "earlier + listed = the totals");
    assert!(windowed.earlier.totals.errors > 0 && windowed.earlier.totals.tool_calls > 0);
    // Each listed turn is the whole App's turn of the same number, figure for figure.
    let base = windowed.ledger.retired();
    for (i, turn) in windowed.ledger.turns().iter().enumerate() {
        assert_eq!(turn, &whole.ledger.turns()[base + i]);
    }
    assert_eq!(
        windowed.selected.map(|s| windowed.ledger.turns()[s].index),
        Some(40),
        "following the newest turn"
    );

    for (width, height) in [(120, 40), (80, 24)] {
        let out = screen(&mut windowed, width, height);
        let all = screen(&mut whole, width, height);
        assert_eq!(lines(&out, 3), lines(&all, 3), "the header reads the same");
        assert!(out.contains("Turns 40"), "{out}");
        assert!(out.contains("earlier"), "{out}");
        assert!(out.contains(&format!("{base} turns")), "{out}");
    }
    insta::assert_snapshot!(screen(&mut windowed, 120, 40));
    insta::assert_snapshot!("a_long_proxy_session_narrow", screen(&mut windowed, 80, 24));

    // The session's cost counts the turns that left.
    for app in [&mut windowed, &mut whole] {
        update(app, Action::ShowTab(Tab::Usage));
    }
    let cost = |out: &str| {
        out.lines()
            .find(|l| l.contains("cost (session)"))
            .map(str::to_owned)
    };
    // Tall enough for the whole App's list of 40 turns and its Usage tab.
    let out = screen(&mut windowed, 120, 100);
    assert!(cost(&out).is_some(), "{out}");
    assert_eq!(cost(&out), cost(&screen(&mut whole, 120, 100)));
}

/// Moving above the first listed turn, Home, and the newest turn's Context tab say where the
/// turns that left are: `turnscope replay` on the recording.
#[test]
fn moving_above_the_list_says_where_the_earlier_turns_are() {
    let mut app = proxy_app(Some(WINDOW));
    feed(&mut app, chained_turns(0, 40));
    update(&mut app, Action::ShowTab(Tab::Context));
    let out = screen(&mut app, 120, 40);
    assert!(
        out.contains("earlier turns of this chain left the list"),
        "{out}"
    );
    press(&mut app, KeyCode::Home);
    assert_eq!(app.selected, Some(0));
    let said = app.message.as_ref().map(|m| m.text.clone()).unwrap();
    assert!(
        said.contains("turnscope replay /data/turnscope/sessions/proxy.tsjsonl"),
        "{said}"
    );
    app.message = None;
    press(&mut app, KeyCode::Up);
    assert_eq!(app.selected, Some(0));
    assert!(
        app.message.is_some(),
        "Up above the first listed turn says it again"
    );
    insta::assert_snapshot!(screen(&mut app, 80, 24));

    let mut unrecorded = proxy_app(Some(WINDOW));
    unrecorded.recording = Recording::Off;
    feed(&mut unrecorded, chained_turns(0, 20));
    press(&mut unrecorded, KeyCode::Home);
    let said = unrecorded.message.as_ref().unwrap().text.clone();
    assert!(said.contains("not recorded"), "{said}");
}

/// A turn the user selected stays (and stays selected) while later turns arrive, until the list
/// is four windows long; then it leaves too and the status line says so.
#[test]
fn the_selected_turn_stays_until_four_windows() {
    let mut app = proxy_app(Some(WINDOW));
    feed(&mut app, chained_turns(0, 12));
    press(&mut app, KeyCode::Home);
    let picked = app.selected_turn().unwrap().index;
    assert!(!app.follow);
    feed(&mut app, chained_turns(12, 2 * WINDOW as u64));
    assert_eq!(app.selected_turn().map(|t| t.index), Some(picked));
    assert!(app.ledger.turns().len() > 2 * WINDOW, "turns after it stay");
    feed(
        &mut app,
        chained_turns(12 + 2 * WINDOW as u64, 2 * WINDOW as u64),
    );
    assert!(app.ledger.turns().len() <= 4 * WINDOW);
    assert!(
        app.ledger.retired() >= picked,
        "the parked turn left at last"
    );
    // The next request cleared the status line; the message log keeps it.
    assert!(
        app.log.iter().any(|m| m
            .text
            .contains("the selected turn left the list; turnscope replay")),
        "{:?}",
        app.log
    );
}

/// A request continuing a response older than the ledger keeps (it keeps the 16,384 most
/// recently used; 22,000 chained turns, 18,857 of them answered, make it forget the oldest) shows `?` for its full
/// context and savings, and its Context tab says why, rather than a partial sum.
#[test]
fn a_turn_continuing_a_forgotten_response_shows_no_full_context() {
    let mut app = proxy_app(Some(WINDOW));
    feed(&mut app, chained_turns(0, 22_000));
    // Continue resp_1, long forgotten.
    feed(
        &mut app,
        vec![
            frame(
                100_000_000,
                Dir::Sent,
                r#"{"type":"response.create","model":"gpt-5.1","store":true,"previous_response_id":"resp_1","input":"back to the start"}"#,
            ),
            frame(
                100_000_100,
                Dir::Recv,
                r#"{"type":"response.completed","response":{"id":"resp_again","output":[]}}"#,
            ),
        ],
    );
    let newest = app.ledger.turns().last().unwrap();
    assert!(newest.context_unknown, "{newest:?}");
    let out = screen(&mut app, 120, 40);
    let row = out.lines().find(|l| l.starts_with("\"22001 ")).unwrap();
    assert!(row.contains(" ?  "), "{row}");
    update(&mut app, Action::ShowTab(Tab::Context));
    let out = screen(&mut app, 120, 40);
    assert!(
        out.contains(
            "full context unknown: the chain goes back to a response older than turnscope keeps"
        ),
        "{out}"
    );
}
