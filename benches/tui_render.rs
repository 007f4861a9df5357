//! TUI cost: one full redraw of a 10,000-turn session on a TestBackend, per tab; the fold of
//! its frames through `update`; a burst of frames through the real loop (draws per batch);
//! and the idle loop (draws and CPU over an idle period, which must be zero / ~zero).
#[path = "../tests/support/procs.rs"]
mod procs;

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::tui::app::{App, ConnState, SessionInfo, Tab};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, AppScreen, Command, Effects, run_loop, update::update, view};

const TURNS: usize = 10_000;

fn frame(t_us: u64, dir: Dir, v: &serde_json::Value) -> Frame {
    Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload: Payload::Json(v.to_string()),
    }
}

/// A tool loop of `turns` turns: each sends one function_call_output, streams text and one call.
fn session_frames(turns: usize) -> Vec<Frame> {
    let mut out = vec![frame(
        0,
        Dir::Meta,
        &json!({"event": "connect", "url": "ws://bench/v1/responses"}),
    )];
    let mut t = 1_000u64;
    let mut prev: Option<String> = None;
    for i in 0..turns {
        let id = format!("resp_{i}");
        let mut req = json!({"type": "response.create", "model": "m", "store": false,
            "input": [{"type": "function_call_output", "call_id": format!("call_{i}"), "output": format!("output of step {i}: {}", "ok ".repeat(40))}]});
        if let Some(p) = &prev {
            req["previous_response_id"] = json!(p);
        }
        out.push(frame(t, Dir::Sent, &req));
        out.push(frame(t + 20_000, Dir::Recv, &json!({"type": "response.created", "sequence_number": 0, "response": {"id": id, "status": "in_progress"}})));
        let msg = json!({"type": "message", "id": format!("msg_{i}"), "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "done.", "annotations": []}]});
        out.push(frame(t + 30_000, Dir::Recv, &json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": msg})));
        for (k, d) in ["do", "ne", "."].iter().enumerate() {
            out.push(frame(t + 31_000 + k as u64, Dir::Recv, &json!({"type": "response.output_text.delta", "sequence_number": 2 + k, "item_id": format!("msg_{i}"), "output_index": 0, "content_index": 0, "delta": d, "logprobs": []})));
        }
        let call = json!({"type": "function_call", "call_id": format!("call_{}", i + 1), "name": "step", "arguments": "{}"});
        out.push(frame(t + 40_000, Dir::Recv, &json!({"type": "response.output_item.done", "sequence_number": 5, "output_index": 0, "item": msg})));
        out.push(frame(t + 41_000, Dir::Recv, &json!({"type": "response.output_item.done", "sequence_number": 6, "output_index": 1, "item": call})));
        out.push(frame(t + 50_000, Dir::Recv, &json!({"type": "response.completed", "sequence_number": 7, "response": {"id": id, "status": "completed", "output": [msg, call],
            "usage": {"input_tokens": 100 + i, "input_tokens_details": {"cached_tokens": 90 + i}, "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 110 + i}}})));
        prev = Some(id);
        t += 100_000;
    }
    out
}

fn new_app() -> App {
    let mut app = App::new(
        SessionInfo {
            url: "ws://bench/v1/responses".into(),
            model: "m".into(),
            emulated: true,
            key_hint: None,
        },
        Theme::default(),
    );
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connected { conn: 0 }),
    );
    update(
        &mut app,
        Action::Resized {
            width: 120,
            height: 40,
        },
    );
    app
}

struct NoEffects;
impl Effects for NoEffects {
    fn perform(&mut self, _: Command) {}
}

/// CPU time (user + system) of this process, from /proc (Linux); `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    procs::cpu_time("self")
}

fn main() {
    let frames = session_frames(TURNS);
    let mut app = new_app();
    let start = Instant::now();
    for f in &frames {
        update(&mut app, Action::FrameReceived(f.clone()));
    }
    let fold = start.elapsed();
    println!(
        "fold: {} frames of {TURNS} turns through update in {:.1} ms ({:.2} µs/frame)",
        frames.len(),
        fold.as_secs_f64() * 1e3,
        fold.as_secs_f64() * 1e6 / frames.len() as f64
    );

    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap_or_else(|e| panic!("{e}"));
    update(&mut app, Action::FocusTurns);
    let runs = 200;
    for (label, select) in [("newest turn", TURNS - 1), ("middle turn", TURNS / 2)] {
        update(&mut app, Action::SelectLast);
        for _ in 0..(TURNS - 1 - select) {
            update(&mut app, Action::SelectPrev);
        }
        for tab in Tab::ALL {
            update(&mut app, Action::ShowTab(tab));
            let start = Instant::now();
            for _ in 0..runs {
                terminal
                    .draw(|f| view::render(&app, f))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
            println!(
                "full redraw 120x40, {TURNS} turns, {label}, {:<8}: {per:>8.1} µs",
                tab.title()
            );
        }
    }
    update(&mut app, Action::FocusComposer);
    app.composer.set_text("a message being typed");
    let start = Instant::now();
    for _ in 0..runs {
        terminal
            .draw(|f| view::render(&app, f))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    println!(
        "full redraw 120x40, {TURNS} turns, composer focused with preview: {:>8.1} µs",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
    );

    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        // A burst: a 25-call tool loop's frames queued at once go through the loop; every frame
        // is folded (none dropped) and draws happen once per drained batch.
        let burst = session_frames(25);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for f in &burst {
            let _ = tx.send(Action::FrameReceived(f.clone()));
        }
        let _ = tx.send(Action::Quit);
        let mut screen = AppScreen::new(new_app(), NoEffects);
        let mut terminal =
            Terminal::new(TestBackend::new(120, 40)).unwrap_or_else(|e| panic!("{e}"));
        let cancel = CancellationToken::new();
        let start = Instant::now();
        let stats = run_loop(
            &mut terminal,
            &mut screen,
            &mut rx,
            &mut futures_util::stream::pending(),
            &cancel,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "burst: {} frames (25 tool calls) in {:.2} ms: {} folded, {} draws, {} actions",
            burst.len(),
            start.elapsed().as_secs_f64() * 1e3,
            screen.app.frames.len(),
            stats.draws,
            stats.actions
        );
        assert_eq!(screen.app.frames.len(), burst.len(), "no frame dropped");

        // Idle: nothing happens for 3 s; the loop must not draw and should burn ~no CPU.
        let (_tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Action>();
        let mut app = new_app();
        for f in &frames[..frames.len().min(8_000)] {
            update(&mut app, Action::FrameReceived(f.clone()));
        }
        let mut terminal =
            Terminal::new(TestBackend::new(120, 40)).unwrap_or_else(|e| panic!("{e}"));
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            stop.cancel();
        });
        let cpu0 = cpu_time();
        let mut screen = AppScreen::new(app, NoEffects);
        let stats = run_loop(
            &mut terminal,
            &mut screen,
            &mut rx,
            &mut futures_util::stream::pending(),
            &cancel,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let cpu = cpu_time().zip(cpu0).map(|(a, b)| a.saturating_sub(b));
        println!(
            "idle 3 s: {} draw(s) (the first frame only), {} actions, CPU {}",
            stats.draws,
            stats.actions,
            cpu.map_or_else(|| "n/a".into(), |c| format!("{} ms", c.as_millis()))
        );
        assert_eq!(
            stats.draws, 1,
            "an idle screen is drawn once, then never again"
        );
    });
}
