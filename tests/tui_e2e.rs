//! End to end: the TUI's actions drive a real session against the in-process emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod proxy_harness;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::TurnStatus;
use turnscope::session::{self, SessionCommand, SessionConfig, SessionEvent, SessionHandle};
use turnscope::tui::app::{App, ConnState, SessionInfo};
use turnscope::tui::live::{SessionEffects, session_action};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, Effects, apply, keymap, view};

struct Harness {
    app: App,
    session: SessionHandle,
    effects: SessionEffects,
    loaded: mpsc::UnboundedReceiver<Action>,
}

impl Harness {
    /// A session spawned from `config` under `cancel`, the effects that reach it, and an App
    /// showing `info`: what `turnscope --url` wires up, without the terminal.
    fn start(config: SessionConfig, info: SessionInfo, cancel: &CancellationToken) -> Self {
        let session = session::spawn(config, cancel.clone());
        let (tx, loaded) = mpsc::unbounded_channel();
        let effects = SessionEffects {
            commands: session.commands.clone(),
            actions: tx,
        };
        Self {
            app: App::new(info, Theme::default()),
            session,
            effects,
            loaded,
        }
    }

    /// Applies session events until `done` holds (each event awaited, never slept for).
    async fn pump_until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        while !done(&self.app) {
            let ev = tokio::time::timeout(Duration::from_secs(20), self.session.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
                .expect("session ended");
            let action = session_action(ev);
            assert!(apply(&mut self.app, &mut self.effects, action));
        }
    }

    /// Pumps until connection `conn` is up and the ledger holds its connect record (which says
    /// whether the server is the emulator).
    async fn connected(&mut self, conn: u32) {
        self.pump_until(&format!("connection {conn}"), |a| {
            matches!(a.link, ConnState::Connected { conn: c } if c == conn)
                && a.ledger.current_connection().is_some()
        })
        .await;
    }

    /// Pumps until the ledger holds `n` turns and the last has ended.
    async fn finished(&mut self, n: usize) {
        self.pump_until(&format!("turn {n}"), |a| {
            let turns = a.ledger.turns();
            turns.len() == n && turns[n - 1].status.is_final()
        })
        .await;
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    fn key(&mut self, key: KeyEvent) {
        if let Some(action) = keymap::resolve(&self.app, key) {
            assert!(apply(&mut self.app, &mut self.effects, action));
        }
    }

    fn enter(&mut self) {
        self.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    }

    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(|f| view::render(&self.app, f)).unwrap();
        terminal.backend().to_string()
    }
}

fn tool(name: &str) -> serde_json::Value {
    json!({"type": "function", "name": name, "description": name,
           "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}})
}

#[tokio::test]
async fn five_turn_tool_loop_against_the_emulator() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("live.tsjsonl");
    let cancel = CancellationToken::new();
    let mut h = Harness::start(
        SessionConfig {
            url: emu.ws_url(),
            api_key: Some("test-key".into()),
            record: Some(record.clone()),
            model: Some("gpt-4.1-mini".into()),
            ..SessionConfig::default()
        },
        SessionInfo {
            url: emu.ws_url(),
            model: "gpt-4.1-mini".into(),
            emulated: true,
            key_hint: None,
        },
        &cancel,
    );
    h.app.tools = vec![tool("read_file"), tool("run_tests")];
    h.connected(0).await;

    // Turn 1: a message naming a tool → one function call waits for an output.
    h.keys("please call read_file on src/lib.rs");
    h.enter();
    h.finished(1).await;
    assert_eq!(h.app.pending_calls().len(), 1, "{}", h.screen());
    // The persona's call takes the path the message gave.
    assert_eq!(
        h.app.pending_calls()[0].arguments,
        r#"{"path":"src/lib.rs"}"#
    );
    let call_1 = h.app.pending_calls()[0].call_id.clone();

    // Turn 2: answer it by hand; only the output goes out, chained by id.
    h.keys("pub fn add(a: i32, b: i32) -> i32 { a - b }");
    h.enter();
    h.finished(2).await;

    // Turn 3 asks for the second tool; turn 4 answers it from a file; turn 5 wraps up.
    h.keys("now call run_tests");
    h.enter();
    h.finished(3).await;
    assert_eq!(h.app.pending_calls()[0].name, "run_tests");
    let output_file = dir.path().join("out.txt");
    std::fs::write(&output_file, "test add ... ok").unwrap();
    h.keys(&output_file.display().to_string());
    h.key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL));
    let loaded = h.loaded.recv().await.unwrap();
    assert!(apply(&mut h.app, &mut h.effects, loaded));
    assert_eq!(h.app.composer.text(), "test add ... ok");
    h.enter();
    h.finished(4).await;
    h.keys("thanks, that is all");
    h.enter();
    h.finished(5).await;

    // The ledger's numbers.
    let ledger = &h.app.ledger;
    let turns = ledger.turns();
    assert!(
        turns.iter().all(|t| t.status == TurnStatus::Completed),
        "{turns:#?}"
    );
    for pair in turns.windows(2) {
        assert_eq!(
            pair[1].previous_response_id, pair[0].response_id,
            "chained by id"
        );
        assert!(
            pair[1].saved_bytes() > 0,
            "turn {} saved nothing",
            pair[1].index
        );
        assert!(pair[1].full_context.bytes > pair[1].incremental.bytes);
    }
    assert_eq!(
        turns[1].incremental.items, 1,
        "only the function_call_output is sent"
    );
    let sent_2 = h.app.frames.json(turns[1].request_frame.unwrap()).unwrap();
    assert!(
        sent_2.contains(&format!(r#""call_id":"{call_1}""#)),
        "{sent_2}"
    );
    assert_eq!(
        turns[4].cached_tokens(),
        Some(0),
        "the server reports prompt caching (none under 1024 tokens), not the connection cache"
    );
    assert!(
        turns
            .iter()
            .all(|t| t.ttft_us().is_some() && t.latency_total_us().is_some())
    );
    let totals = ledger.totals();
    assert_eq!(totals.tool_calls, 2);
    assert!(totals.saved_bytes() > 0 && totals.saved_pct() > 10.0);
    assert!(ledger.cached_context_tokens(0) > 0);
    assert_eq!(ledger.connections().len(), 1);

    // What the screen shows.
    let screen = h.screen();
    for needle in [
        "Turns 5",
        "emulator",
        "connected #0",
        "saved",
        "done",
        "prompt cache",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    // The connection's cached context has its own label, apart from the prompt cache, in
    // the Usage tab (Esc leaves the composer, 5 opens the tab).
    h.key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    h.keys("5");
    let usage = h.screen();
    for needle in ["Usage", "conn context", "prompt cache"] {
        assert!(usage.contains(needle), "{needle:?} missing:\n{usage}");
    }

    // Everything was recorded, frame for frame.
    h.session.commands.send(SessionCommand::Close).unwrap();
    while let Some(ev) = h.session.events.recv().await {
        if let SessionEvent::Frame(f) = &ev {
            h.app.frames.push(f.clone());
        }
    }
    let (_, recorded, skipped) = turnscope::transcript::read_all(&record).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(recorded.len(), h.app.frames.len());
    cancel.cancel();
    emu.shutdown().await;
}

#[tokio::test]
async fn reconnect_with_store_false_offers_the_full_context() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let cancel = CancellationToken::new();
    let mut h = Harness::start(
        SessionConfig {
            url: emu.ws_url(),
            api_key: Some("test-key".into()),
            record: None,
            ..SessionConfig::default()
        },
        SessionInfo {
            model: "gpt-4.1-mini".into(),
            ..SessionInfo::default()
        },
        &cancel,
    );
    h.connected(0).await;
    h.keys("hello");
    h.enter();
    h.finished(1).await;
    h.key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    h.connected(1).await;
    assert!(
        h.app.offer.is_some(),
        "store=false: the cache is gone, a resend is offered"
    );
    h.key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    assert!(h.app.resend.is_some());
    h.keys("still there?");
    h.enter();
    h.finished(2).await;
    let t2 = &h.app.ledger.turns()[1];
    assert_eq!(t2.status, TurnStatus::Completed, "{:?}", t2.status);
    assert_eq!(
        t2.previous_response_id, None,
        "a full resend carries no previous_response_id"
    );
    assert_eq!(t2.conn, 1);
    assert_eq!(t2.incremental.items, 3, "user, assistant, new user message");
    let mut effects = h.effects;
    effects.perform(turnscope::tui::Command::Reconnect);
    cancel.cancel();
    emu.shutdown().await;
}

/// A live App as `turnscope --url URL` without OPENAI_API_KEY and without --tools builds it:
/// no key, not the built-in emulator, demo tools wanted.
fn keyless(url: String, cancel: &CancellationToken) -> Harness {
    let mut h = Harness::start(
        SessionConfig {
            url: url.clone(),
            api_key: None,
            record: None,
            model: Some("gpt-4.1-mini".into()),
            ..SessionConfig::default()
        },
        SessionInfo {
            url,
            model: "gpt-4.1-mini".into(),
            emulated: false,
            key_hint: None,
        },
        cancel,
    );
    h.app.demo_tools = true;
    h
}

/// Issue 16 item 9: `--url` to turnscope's emulator, straight or through `turnscope proxy`, with
/// no key: it connects (no 401, no placeholder key), the header says `no key` and `emulator`,
/// and the demo tools go out, so naming one makes the persona call it.
#[tokio::test]
async fn url_to_the_emulator_needs_no_key_and_sends_the_demo_tools_also_through_the_proxy() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let px = turnscope::proxy::start(turnscope::proxy::ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: emu.base_url(),
        ..Default::default()
    })
    .await
    .unwrap();
    let via_proxy = format!("ws://{}/v1/responses", px.addr());
    for url in [emu.ws_url(), via_proxy] {
        let cancel = CancellationToken::new();
        let mut h = keyless(url.clone(), &cancel);
        h.connected(0).await;
        assert!(
            h.app.on_emulator(),
            "{url}: the upgrade announced the emulator"
        );
        let screen = h.screen();
        for needle in [
            " emulator ",
            "no key",
            "the emulator calls a tool you name: read_file, run_tests, search",
        ] {
            assert!(
                screen.contains(needle),
                "{url}: {needle:?} missing:\n{screen}"
            );
        }
        h.keys("please call read_file on src/lib.rs");
        h.enter();
        h.finished(1).await;
        assert_eq!(
            h.app.ledger.turns()[0].status,
            TurnStatus::Completed,
            "{url}: {}",
            h.screen()
        );
        let calls = h.app.pending_calls();
        assert_eq!(calls.len(), 1, "{url}: {}", h.screen());
        assert_eq!(calls[0].name, "read_file");
        cancel.cancel();
    }
    emu.shutdown().await;
}

/// Issue 16 item 9: `--url` to a server that is not turnscope's emulator sends no demo tools
/// and says so on the empty screen, instead of the README's tip silently not working.
#[tokio::test]
async fn url_to_another_server_says_the_demo_tools_are_off() {
    let upstream = proxy_harness::Upstream::start().await;
    let px = turnscope::proxy::start(turnscope::proxy::ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: upstream.base_url(),
        ..Default::default()
    })
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let mut h = keyless(format!("ws://{}/v1/responses", px.addr()), &cancel);
    h.connected(0).await;
    assert!(!h.app.on_emulator());
    assert!(h.app.request_tools().is_empty());
    let screen = h.screen();
    for needle in [
        "demo tools off",
        "not turnscope's emulator",
        "--tools FILE",
        "no key",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    assert!(
        !screen.contains("emulator   model"),
        "no emulator badge:\n{screen}"
    );
    cancel.cancel();
}

struct NoEffects;
impl Effects for NoEffects {
    fn perform(&mut self, _: turnscope::tui::Command) {}
}

/// Queued actions are applied in one batch and drawn once (the idle behaviour, with the real
/// clock, is tests/idle_draws.rs).
#[tokio::test]
async fn the_loop_draws_once_per_batch() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = App::new(SessionInfo::default(), Theme::default());
    let mut screen = turnscope::tui::AppScreen::new(app, NoEffects);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let cancel = CancellationToken::new();
    for _ in 0..3 {
        tx.send(Action::ToggleStore).unwrap();
    }
    drop(tx);
    // Both the actions and the input end, so the loop returns once it has drained them.
    let stats = turnscope::tui::run_loop(
        &mut terminal,
        &mut screen,
        &mut rx,
        &mut futures_util::stream::empty(),
        &cancel,
    )
    .await
    .unwrap();
    assert_eq!(stats.actions, 3);
    assert_eq!(
        stats.draws, 2,
        "first frame, then one draw for the whole batch"
    );
    assert!(screen.app.composer.store, "three toggles applied in order");
}
