//! The proxy's memory bound over real sockets: while nobody reads the proxy's events, at most its
//! byte budget of relayed bodies waits, and the relay holds the stream back instead of growing;
//! once the events are read again, every frame reaches the agent, the reader and the transcript;
//! the same when the proxy TUI's screen stops applying the frames its forward task read.
//! And the bound of issue 18 on a real `turnscope proxy` process, its TUI under a pty and
//! headless: peak RSS after relaying twice the bound stays under it; and relaying the second half
//! of many small frames must not grow it (+2 MB at most) — headless since its summary retires
//! finished turns (28 Nov 00:41, debug build: +1.0 MB for the second 32 MB of 1 KiB frames, ~33k
//! frames, 2k turns; +2.1 MB at a03b663); the TUI since its frame store spools each frame's
//! record (+0.6 MB for 32k frames in long turns, 28 Nov 00:23). The TUI's turn-count test stays
//! ignored while not met: +2.4-2.9 MB for 2k short turns (its ledger keeps every turn).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;
#[path = "support/procs.rs"]
mod procs;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use harness::{
    Collector, GUARD, Upstream, agent, next_text, proxy, temp_transcript, transcript_frames,
    transcript_wire,
};
use tokio_tungstenite::tungstenite::Message;
use turnscope::frame::Dir;
use turnscope::proxy::{BUDGET_BYTES, Breakpoints, ProxyEvents};

/// One reply frame: 1 MiB.
const FRAME: usize = 1 << 20;
/// What the sockets on the path hide beyond the budget (27 MiB passed here with a 16 MiB budget).
const SOCKET_SLACK: usize = 24 * FRAME;
/// Twice the budget and the sockets' slack: a missing bound lets all of them through at once.
const FRAMES: usize = 2 * (BUDGET_BYTES + SOCKET_SLACK) / FRAME;

/// One heavy test at a time: three relaying tens of MB at once on a loaded 2-core machine
/// starved each other past [`GUARD`].
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The upstream streams [`FRAMES`] deltas of [`FRAME`] bytes as fast as the relay takes them.
fn stream_frames(
    mut upstream: harness::UpstreamWs,
) -> tokio::task::JoinHandle<harness::UpstreamWs> {
    let head = r#"{"type":"response.output_text.delta","delta":""#;
    let body = format!("{head}{}\"}}", "x".repeat(FRAME - head.len() - 2));
    tokio::spawn(async move {
        for _ in 0..FRAMES {
            upstream.feed(Message::text(body.clone())).await.unwrap();
        }
        upstream.flush().await.unwrap();
        upstream
    })
}

/// The agent takes what arrives until the relay stalls: two seconds without a frame (a bound
/// that is missing lets all of them through at once). Checks no more than the budget and the
/// sockets' slack passed while `why`, and returns how many did.
async fn taken_until_stalled(agent: &mut harness::AgentWs, why: &str) -> usize {
    let mut got = 0;
    while got < FRAMES {
        match tokio::time::timeout(Duration::from_secs(2), agent.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => got += 1,
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the agent's connection ended: {other:?}"),
            Err(_) => break,
        }
    }
    assert!(
        got * FRAME <= BUDGET_BYTES + SOCKET_SLACK,
        "{got} of {FRAMES} frames of 1 MiB passed while {why}: the budget is {} MiB",
        BUDGET_BYTES / FRAME
    );
    assert!(got > 0, "nothing was relayed before the budget ran out");
    eprintln!("passed before the stall: {got} of {FRAMES}");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_holds_the_relay_back_and_nothing_is_lost() {
    let _one = HEAVY.lock().await;
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut agent = agent(&px, &[]).await;
    let (upstream, _) = up.accept().await;
    let sender = stream_frames(upstream);

    // Nobody reads the proxy's events.
    let mut got = taken_until_stalled(&mut agent, "no one read the events").await;

    // Reading the events lets the relay go on; every frame arrives, in full, and is recorded.
    let reader = tokio::spawn(async move {
        let mut seen = Collector::new();
        seen.until(&mut px, "every reply frame", |c| {
            let replies = c.frames.iter().filter(|f| f.dir == Dir::Recv);
            replies.count() == FRAMES
        })
        .await;
        (px, seen)
    });
    while got < FRAMES {
        let text = tokio::time::timeout(GUARD, next_text(&mut agent))
            .await
            .unwrap();
        assert_eq!(text.len(), FRAME);
        got += 1;
    }
    let (px, seen) = tokio::time::timeout(GUARD, reader).await.unwrap().unwrap();
    assert!(
        seen.wire(0, Dir::Recv).iter().all(|w| w.len() == FRAME),
        "a frame the reader got was cut"
    );
    let _upstream = sender.await.unwrap();
    px.shutdown().await;
    let recorded = transcript_wire(&transcript_frames(&path), 0, Dir::Recv);
    assert_eq!(recorded.len(), FRAMES);
    assert!(recorded.iter().all(|w| w.len() == FRAME));
}

/// A proxy recording to `path` in front of `up`, and `app` on a screen wired to it as the proxy
/// TUI's is: the screen, the actions its forward task sends, and the token that ends that task.
async fn proxy_screen(
    up: &Upstream,
    path: &std::path::Path,
    app: turnscope::tui::App,
) -> (
    turnscope::proxy::RunningProxy,
    turnscope::tui::AppScreen<turnscope::tui::proxy::ProxyEffects>,
    tokio::sync::mpsc::UnboundedReceiver<turnscope::tui::Action>,
    tokio_util::sync::CancellationToken,
) {
    let mut px = proxy(&up.base_url(), path, Breakpoints::default()).await;
    let events = std::mem::replace(&mut px.events, ProxyEvents::ended());
    let cancel = tokio_util::sync::CancellationToken::new();
    let rules = Breakpoints::default();
    let (effects, actions) =
        turnscope::tui::proxy::wire(events, px.control.clone(), rules, &cancel);
    let screen = turnscope::tui::AppScreen::new(app, effects);
    (px, screen, actions, cancel)
}

/// Applies the screen's actions until `replies` frames from the upstream were among them.
async fn apply_replies(
    screen: &mut turnscope::tui::AppScreen<turnscope::tui::proxy::ProxyEffects>,
    actions: &mut tokio::sync::mpsc::UnboundedReceiver<turnscope::tui::Action>,
    replies: usize,
) {
    use turnscope::tui::run::Screen;
    let mut seen = 0;
    while seen < replies {
        let action = tokio::time::timeout(GUARD, actions.recv())
            .await
            .expect("the screen got no frame")
            .expect("the forward task ended");
        seen += usize::from(action.frame().is_some_and(|f| f.dir == Dir::Recv));
        screen.apply(action);
    }
}

/// The proxy TUI's wiring: frames its screen has not applied yet hold the relay back as unread
/// events do, and once the screen applies them every frame arrives, is applied and recorded.
/// Before, the budget was given back when the forward task read an event, so a screen slower
/// than the relay queued actions without bound (99 MB RSS after 1 GB in the relay bench's TUI
/// row, 35 MB headless).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_that_stops_applying_holds_the_relay_back_and_nothing_is_lost() {
    use turnscope::tui::app::{App, SessionInfo};
    use turnscope::tui::theme::Theme;
    let _one = HEAVY.lock().await;
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let app = App::new(SessionInfo::default(), Theme::default());
    let (px, mut screen, mut actions, cancel) = proxy_screen(&up, &path, app).await;
    let mut agent = agent(&px, &[]).await;
    let (upstream, _) = up.accept().await;
    let sender = stream_frames(upstream);

    // The forward task reads every event; the screen applies none.
    let mut got = taken_until_stalled(&mut agent, "the screen applied no frame").await;

    let applier = tokio::spawn(async move {
        apply_replies(&mut screen, &mut actions, FRAMES).await;
        screen
    });
    while got < FRAMES {
        let text = tokio::time::timeout(GUARD, next_text(&mut agent))
            .await
            .unwrap();
        assert_eq!(text.len(), FRAME);
        got += 1;
    }
    let screen = tokio::time::timeout(GUARD, applier).await.unwrap().unwrap();
    let applied = (0..screen.app.frames.len())
        .filter_map(|i| screen.app.frames.get(i))
        .filter(|f| f.dir == Dir::Recv && f.payload.as_bytes().len() == FRAME)
        .count();
    assert_eq!(applied, FRAMES, "the screen has every reply frame, whole");
    let _upstream = sender.await.unwrap();
    cancel.cancel();
    px.shutdown().await;
    let recorded = transcript_wire(&transcript_frames(&path), 0, Dir::Recv);
    assert_eq!(recorded.len(), FRAMES);
}

/// Issue 18: a recording proxy's TUI reads its frames' bodies back from the recording instead
/// of writing them a second time to its spool. After 3 MB of replies (three times the bodies it
/// keeps in memory) its store has spooled no body at all, every frame reads back as the
/// transcript has it, and the Frames tab finds and draws the first reply's body. Without the
/// recorder's places every body went through the spool (3.1 MB here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_proxy_tui_reads_old_bodies_back_from_the_recording() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use turnscope::tui::app::{App, SessionInfo};
    use turnscope::tui::{keymap, theme::Theme, update::update, view};
    const REPLIES: usize = 48;
    let _one = HEAVY.lock().await;
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    // A proxy's App, as `turnscope proxy` makes it: the turn list focused.
    let mut app = App::new(SessionInfo::default(), Theme::default());
    app.proxy = Some(turnscope::tui::breakpoint::ProxyPanel::default());
    app.focus = turnscope::tui::app::Focus::Turns;
    let (px, mut screen, mut actions, cancel) = proxy_screen(&up, &path, app).await;
    let mut agent = agent(&px, &[]).await;
    let (mut upstream, _) = up.accept().await;
    agent
        .send(Message::text(r#"{"type":"response.create","model":"m"}"#))
        .await
        .unwrap();
    let _request = next_text(&mut upstream).await;
    for i in 0..REPLIES {
        let tag = if i == 0 { "first-body" } else { "later-body" };
        let delta = format!("{tag}-{i:04}-{}", "x".repeat(DELTA));
        let reply = format!(r#"{{"type":"response.output_text.delta","delta":"{delta}"}}"#);
        upstream.send(Message::text(reply)).await.unwrap();
        assert!(next_text(&mut agent).await.contains(tag));
    }
    apply_replies(&mut screen, &mut actions, REPLIES).await;
    cancel.cancel();
    px.shutdown().await;
    let mut app = screen.app;
    // The transcript goes on past what the screen applied (the closes at shutdown).
    let recorded = transcript_frames(&path);
    assert!(app.frames.len() > REPLIES && app.frames.len() <= recorded.len());
    assert_eq!(app.frames.spooled_body_bytes(), 0, "no body spooled");
    for (i, f) in recorded.iter().take(app.frames.len()).enumerate() {
        assert_eq!(app.frames.get(i).as_ref(), Some(f), "frame {i}");
    }
    let press = |app: &mut App, c: char| {
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        if let Some(action) = keymap::resolve(app, key) {
            update(app, action);
        }
    };
    press(&mut app, '7');
    for c in "/first-body".chars() {
        press(&mut app, c);
    }
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    if let Some(action) = keymap::resolve(&app, enter) {
        update(&mut app, action);
    }
    update(
        &mut app,
        turnscope::tui::Action::Resized {
            width: 100,
            height: 30,
        },
    );
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    terminal.draw(|f| view::render(&app, f)).unwrap();
    let drawn = terminal.backend().to_string();
    assert!(drawn.contains("Frame #3 "), "{drawn}");
    assert!(drawn.contains("first-body-0000-xxx"), "{drawn}");
    // The recording cut under the screen: the frame's body gives way to a message, as written.
    std::fs::File::create(&path).unwrap();
    terminal.draw(|f| view::render(&app, f)).unwrap();
    let drawn = terminal.backend().to_string();
    assert!(drawn.contains("Frame #3 "), "{drawn}");
    assert!(
        drawn.contains("this frame's body cannot be read back: the recording /"),
        "{drawn}"
    );
}

/// Bytes relayed through each child proxy: twice the bound, so a proxy that keeps what it relays
/// (the TUI kept every frame and every turn's streamed text) cannot stay under it.
const VOLUME: usize = 128 << 20;
/// Issue 18's goal is 64 MB of peak RSS for a release build, TUI or `--no-tui`. A debug build's
/// own pages take ~57 MB more (its RssFile), so the test bounds what traffic can grow — the
/// anonymous memory (heap, stacks), sampled after every turn — at the goal less a release
/// binary's ~10 MB of pages; `cargo bench --bench relay` measures the whole RSS of a release build.
const ANON_BOUND_MB: f64 = 54.0;
/// One reply delta: 64 KiB on the wire.
const DELTA: usize = 64 << 10;
/// Deltas per turn: 1 MiB of streamed text per turn.
const DELTAS: usize = 16;

/// A `kB` field of `/proc/PID/status`, in MB.
#[allow(clippy::cast_precision_loss)]
fn status_mb(pid: u32, field: &str) -> f64 {
    let kb =
        procs::status_kb(pid, field).unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    kb as f64 / 1024.0
}

/// A `turnscope proxy` child: headless, or its TUI under a real pty (util-linux `script`).
struct Child {
    proc: std::process::Child,
    /// turnscope's own pid (under `script` it is the pty's shell, exec'd into turnscope).
    pid: u32,
    port: u16,
    /// Keeps reading what it writes, so it never blocks on a full pty or pipe.
    _output: procs::Output,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

async fn start_child(upstream: &str, tui: bool) -> Child {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_turnscope");
    let args = [
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--no-record",
    ];
    // PROXY_MEMORY_WRAP="heaptrack -o /tmp/px" runs the child under a profiler, to see where
    // its memory goes.
    let wrap = std::env::var("PROXY_MEMORY_WRAP").unwrap_or_default();
    let mut cmd = if tui {
        procs::under_pty(120, 40, &format!("exec {wrap} {bin} {}", args.join(" ")))
    } else {
        let mut words = wrap.split_whitespace().chain([bin]);
        let mut cmd = Command::new(words.next().unwrap_or(bin));
        cmd.args(words).args(args).arg("--no-tui");
        cmd
    };
    let mut proc = cmd
        .env_remove("OPENAI_API_KEY")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        // The TUI shows its address on screen (the pty is script's stdout); headless prints it
        // on stderr once it listens (its stdout, the turn lines, is not read).
        .stdout(if tui { Stdio::piped() } else { Stdio::null() })
        .stderr(if tui { Stdio::null() } else { Stdio::piped() })
        .spawn()
        .expect("util-linux `script` runs the TUI under a pty");
    let mut output = if tui {
        procs::Output::read(proc.stdout.take().unwrap())
    } else {
        procs::Output::read(proc.stderr.take().unwrap())
    };
    let addr = output.base_addr(GUARD);
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    // Under `script` (or a wrapper) turnscope is a descendant: the pty's shell exec'd into it,
    // which it has by the time it shows its address.
    let pid = procs::descendant(proc.id(), "turnscope").expect("turnscope under its wrapper");
    Child {
        pid,
        proc,
        port,
        _output: output,
    }
}

/// The traffic a child proxy relays: turns of a request, then created, `deltas` deltas of
/// `delta` bytes and completed, until `volume` bytes have been relayed.
#[derive(Clone, Copy)]
struct Shape {
    volume: usize,
    delta: usize,
    deltas: usize,
}

/// Issue 18's shape: 1 MiB of streamed text per turn in 64 KiB deltas.
const LARGE: Shape = Shape {
    volume: VOLUME,
    delta: DELTA,
    deltas: DELTAS,
};

/// Many small frames: what a proxy left running for a day mostly sees (200 B to 1 KiB deltas).
const SMALL: Shape = Shape {
    volume: 64 << 20,
    delta: 1 << 10,
    deltas: 16,
};

/// The same frames in long turns (512 deltas each, 128 turns): what the second half adds is
/// what the screen keeps per frame, not per turn.
const LONG_TURNS: Shape = Shape {
    deltas: 512,
    ..SMALL
};

/// A day of short turns in a few minutes: 48k turns of one 200 B delta, so that each half folds
/// more responses and items than the ledger keeps (16,384 chain entries, two generations of
/// 16,384 item identities) and the second half can only show what grows per turn.
const SHORT_TURNS: Shape = Shape {
    volume: 48_000 * 200,
    delta: 200,
    deltas: 1,
};

/// The anonymous RSS of a child proxy: its highest after any turn, and what it was after half
/// the turns and after all of them (their difference is what the second half grew it by).
struct Anon {
    peak: f64,
    half: f64,
    end: f64,
}

/// Relays `shape.volume` bytes of turns through a child proxy, sampling its anonymous RSS after
/// every turn.
async fn anon_after_relaying(tui: bool, shape: Shape) -> Anon {
    let Shape {
        volume,
        delta: delta_len,
        deltas,
    } = shape;
    let mut up = Upstream::start().await;
    let child = start_child(&up.base_url(), tui).await;
    let url = format!("ws://127.0.0.1:{}/v1/responses", child.port);
    let (mut agent, _) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
        .unwrap();
    let (mut upstream, _) = up.accept().await;
    let turns = volume / (delta_len * deltas);
    let server = tokio::spawn(async move {
        let head = r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":""#;
        let delta = format!("{head}{}\"}}", "x".repeat(delta_len - head.len() - 2));
        for turn in 0..turns {
            // Each request is answered as a model would: created, deltas, completed.
            let _request = next_text(&mut upstream).await;
            let created = format!(
                r#"{{"type":"response.created","sequence_number":0,"response":{{"id":"resp_{turn}","status":"in_progress","output":[]}}}}"#
            );
            upstream.feed(Message::text(created)).await.unwrap();
            for _ in 0..deltas {
                upstream.feed(Message::text(delta.clone())).await.unwrap();
            }
            let done = format!(
                r#"{{"type":"response.completed","sequence_number":2,"response":{{"id":"resp_{turn}","status":"completed","output":[],"usage":{{"input_tokens":10,"input_tokens_details":{{"cached_tokens":0}},"output_tokens":{deltas},"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":26}}}}}}"#
            );
            upstream.send(Message::text(done)).await.unwrap();
        }
        upstream
    });
    let mut relayed = 0usize;
    let mut anon = Anon {
        peak: 0.0,
        half: 0.0,
        end: 0.0,
    };
    for turn in 0..turns {
        let request = format!(
            r#"{{"type":"response.create","model":"gpt-test","store":false,"input":"turn {turn}"}}"#
        );
        agent.send(Message::text(request)).await.unwrap();
        loop {
            let text = tokio::time::timeout(GUARD, next_text(&mut agent))
                .await
                .expect("the proxy stopped relaying");
            relayed += text.len();
            if text.starts_with(r#"{"type":"response.completed""#) {
                break;
            }
        }
        let now = status_mb(child.pid, "RssAnon");
        anon.peak = anon.peak.max(now);
        if turn + 1 == turns / 2 {
            anon.half = now;
        }
        anon.end = now;
    }
    let _upstream = server.await.unwrap();
    assert!(relayed >= volume, "relayed only {relayed} bytes");
    eprintln!(
        "{}: after relaying {} MB in {} B frames: anonymous RSS {:.1} MB after half, {:.1} MB after all (+{:.1} MB), peak {:.1} MB (sampled per turn); VmHWM {:.1} MB, of it the binary's pages now {:.1} MB",
        if tui { "TUI under a pty" } else { "--no-tui" },
        relayed >> 20,
        delta_len,
        anon.half,
        anon.end,
        anon.end - anon.half,
        anon.peak,
        status_mb(child.pid, "VmHWM"),
        status_mb(child.pid, "RssFile"),
    );
    anon
}

/// The highest anonymous RSS while relaying issue 18's large frames, in MB.
async fn peak_anon_after_relaying(tui: bool) -> f64 {
    anon_after_relaying(tui, LARGE).await.peak
}

/// What relaying the second half of [`SMALL`] may add to the anonymous RSS: allocator noise,
/// not a record per frame or per turn (32k frames and 2k turns per half).
const GROWTH_BOUND_MB: f64 = 2.0;

/// Memory independent of traffic means flat after the first half, whatever the frame count.
async fn assert_flat(tui: bool, shape: Shape) {
    let anon = anon_after_relaying(tui, shape).await;
    assert!(
        anon.end - anon.half <= GROWTH_BOUND_MB,
        "relaying the second {:.1} MB of small frames ({} per turn) grew the anonymous RSS from {:.1} to {:.1} MB (bound +{GROWTH_BOUND_MB} MB): something is kept per frame or per turn",
        shape.volume as f64 / f64::from(2 << 20),
        shape.deltas + 2,
        anon.half,
        anon.end
    );
}

/// The TUI keeps frame numbers and figures; bodies live in a spool file and its ledger keeps no
/// streamed text, so relaying twice the bound does not take it over the bound (with bodies kept
/// in memory, as before, it reached several hundred MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_tui_stays_under_the_bound_whatever_it_relays() {
    let _one = HEAVY.lock().await;
    let peak = peak_anon_after_relaying(true).await;
    assert!(
        peak <= ANON_BOUND_MB,
        "the proxy TUI's heap peaked at {peak:.1} MB after relaying {} MB (bound {ANON_BOUND_MB} MB)",
        VOLUME >> 20
    );
}

/// The headless proxy folds figures only; the same volume stays under the same bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_proxy_stays_under_the_bound_whatever_it_relays() {
    let _one = HEAVY.lock().await;
    let peak = peak_anon_after_relaying(false).await;
    assert!(
        peak <= ANON_BOUND_MB,
        "the headless proxy's heap peaked at {peak:.1} MB after relaying {} MB (bound {ANON_BOUND_MB} MB)",
        VOLUME >> 20
    );
}

/// Issue 18's day-long proxy: the TUI's memory must not grow with the number of frames. Its
/// frame store spools each frame's record and body (src/frame/store.rs) and the Frames tab reads
/// heads back for the rows it draws: +0.6 MB here (28 Nov 00:23, debug, load 8), where the
/// records and heads kept in memory before took ~150 B a frame (heaptrack at 1f2c398: 6.3 MB of
/// Frames-tab heads and 2.1 MB of store slots for 65k frames).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_tui_does_not_grow_with_the_frame_count() {
    let _one = HEAVY.lock().await;
    assert_flat(true, LONG_TURNS).await;
}

/// The same with issue 18's short turns (16 deltas, 2k turns a half): the screen lists the
/// newest 1,000 turns and folds older finished ones into its "earlier" row
/// (`App::turn_window`), so the second half adds no turns. Before, its ledger kept every turn
/// for the list (+2.4-2.9 MB per 2k turns, heaptrack: the `Turn`s, their frame numbers,
/// prefixes and endings, ~1.3 KB a turn).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_tui_does_not_grow_with_the_turn_count() {
    let _one = HEAVY.lock().await;
    assert_flat(true, SMALL).await;
}

/// Headless, a day of short turns (24k a half, store=false on one connection, so no response
/// leaves with its connection): the ledger keeps the 16,384 most recently used chain entries
/// and two generations of item identities, and the token memo a bounded table, so the second
/// half adds nothing per turn. Before, each turn kept a chain entry and an item identity
/// (~500 B a turn with the tables' growth).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_proxy_does_not_grow_with_a_day_of_short_turns() {
    let _one = HEAVY.lock().await;
    assert_flat(false, SHORT_TURNS).await;
}

/// The same for the headless proxy: its summary ledger retires each finished turn into running
/// totals (it kept every turn for an exit table: +2.1 MB per 2k turns at a03b663).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_proxy_does_not_grow_with_the_frame_count() {
    let _one = HEAVY.lock().await;
    assert_flat(false, SMALL).await;
}
