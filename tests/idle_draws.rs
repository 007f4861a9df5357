//! An idle screen does no work, measured with the real clock: the live App draws once a second
//! while its connection is open (the age gauge moves) and never once it is closed; an idle
//! replay draws nothing. Each test lets the real ticker run for 3.2 s and counts draws; the
//! sleep that cancels the loop is the idle period being measured, not a synchronisation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnscope::frame::Frame;
use turnscope::replay::{Index, IndexOptions};
use turnscope::tui::app::{App, SessionInfo};
use turnscope::tui::replay::app::ReplayApp;
use turnscope::tui::replay::run::ReplayScreen;
use turnscope::tui::run::{LoopStats, Screen, run_loop};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, AppScreen, Command, Effects};

const IDLE: Duration = Duration::from_millis(3_200);

struct NoEffects;
impl Effects for NoEffects {
    fn perform(&mut self, _: Command) {}
}

/// Runs `screen` with `actions` queued up front, for [`IDLE`] of wall time.
async fn idle<S: Screen>(screen: &mut S, actions: Vec<S::Action>) -> LoopStats {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for a in actions {
        tx.send(a).unwrap();
    }
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(IDLE).await;
        stop.cancel();
    });
    let stats = run_loop(
        &mut terminal,
        screen,
        &mut rx,
        &mut futures_util::stream::pending(),
        &cancel,
    )
    .await
    .unwrap();
    drop(tx);
    stats
}

fn meta(t_us: u64, body: &serde_json::Value) -> Action {
    Action::FrameReceived(Frame::meta(t_us, String::new(), 0, body))
}

fn connect() -> Action {
    meta(
        0,
        &serde_json::json!({"event": "connect", "url": "ws://127.0.0.1:1/v1/responses"}),
    )
}

#[tokio::test]
async fn an_open_connection_redraws_once_a_second_for_its_age_gauge() {
    let mut screen = AppScreen::new(
        App::new(SessionInfo::default(), Theme::default()),
        NoEffects,
    );
    let stats = idle(&mut screen, vec![connect()]).await;
    assert!(
        (3..=4).contains(&stats.ticks),
        "one tick a second over 3.2 s: {stats:?}"
    );
    assert_eq!(
        stats.draws,
        2 + stats.ticks,
        "first frame, the connect, then one draw per tick (each moves the gauge a second): {stats:?}"
    );
}

#[tokio::test]
async fn a_closed_session_draws_nothing_while_idle() {
    let mut screen = AppScreen::new(
        App::new(SessionInfo::default(), Theme::default()),
        NoEffects,
    );
    let close = meta(
        5_000,
        &serde_json::json!({"event": "close", "code": 1000, "reason": "done"}),
    );
    let stats = idle(&mut screen, vec![connect(), close]).await;
    assert_eq!(
        stats.ticks, 0,
        "no clock once every connection closed: {stats:?}"
    );
    assert_eq!(
        stats.draws, 2,
        "first frame, then one for the batch: {stats:?}"
    );
}

#[tokio::test]
async fn an_idle_replay_draws_nothing() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tool_loop.tsjsonl");
    let index = Index::open(&path, IndexOptions::default()).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    let app = ReplayApp::new(
        path.display().to_string(),
        index.header().clone(),
        Theme::default(),
    );
    let mut screen = ReplayScreen::new(app, &index);
    let stats = idle(&mut screen, Vec::new()).await;
    assert_eq!(
        stats,
        LoopStats {
            draws: 1,
            actions: 0,
            ticks: 0,
            wakes: 1,
        },
        "only the first frame (and the end of its draw gap, when queued actions would be read)"
    );
}

/// A busy source is drawn in batches: frames arriving every millisecond (a proxy relaying small
/// frames) draw at most once per `MIN_DRAW_GAP`, not once per frame as before, and the last one
/// is still drawn. The 1 ms sleep paces the source; the count is what is measured.
#[tokio::test]
async fn a_busy_source_draws_at_most_once_per_gap() {
    use turnscope::tui::run::MIN_DRAW_GAP;
    const FRAMES: u64 = 300;
    let mut screen = AppScreen::new(
        App::new(SessionInfo::default(), Theme::default()),
        NoEffects,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    tx.send(connect()).unwrap();
    let source = tokio::spawn(async move {
        for i in 1..=FRAMES {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let note = serde_json::json!({"event": "note", "text": format!("frame {i}")});
            tx.send(meta(i * 1_000, &note)).unwrap();
        }
    });
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let started = std::time::Instant::now();
    // The actions end when the source does; with no input the loop then draws the last change
    // and returns.
    let stats = run_loop(
        &mut terminal,
        &mut screen,
        &mut rx,
        &mut futures_util::stream::empty(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    source.await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(stats.actions, FRAMES + 1 + stats.ticks, "{stats:?}");
    let gaps = u64::try_from(elapsed.as_millis() / MIN_DRAW_GAP.as_millis()).unwrap();
    assert!(
        stats.draws <= gaps + 2,
        "{} draws for {FRAMES} frames in {elapsed:?}: more than one per {MIN_DRAW_GAP:?}",
        stats.draws
    );
    assert_eq!(screen.app.frames.len(), FRAMES as usize + 1);
}
