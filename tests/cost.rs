//! Cost figures: a config.toml price reaches `stats` (table and JSON), `config` and the Usage
//! tab; a model without a price is "n/a" with the fix, never a guessed number.
//!
//! The fixture `tool_loop.tsjsonl` uses model `gpt-test` (no built-in price). Its usage, from
//! its frames: input 40/80/120/150/170 (560), prompt cache 0/52/90/130/150 (422), output
//! 12/10/20/10/8 (60). At the test's price ($2 input, $0.50 cached, $10 output per 1M):
//! uncached 138 × 2e-6 = $0.000276, cached 422 × 0.5e-6 = $0.000211, output 60 × 1e-5 =
//! $0.0006: $0.001087 for the session. Turn 2: 28 × 2e-6 + 52 × 0.5e-6 + 10 × 1e-5 = $0.000182.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

use cli::turnscope;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;
use turnscope::tui::app::{App, ConnState, Focus, SessionInfo, Tab};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, update::update, view};

const FIXTURE: &str = "tests/fixtures/tool_loop.tsjsonl";

const PRICES: &str = "[prices.\"gpt-test\"]\ninput = 2.0\ncached_input = 0.5\noutput = 10.0\n";

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, PRICES).unwrap();
    path
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn without_a_price_the_cost_is_n_a_and_says_how_to_add_one() {
    let out = turnscope(&["stats", "--ignore-config", FIXTURE], &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("cost n/a (no price for gpt-test; add it under [prices] in config.toml)"),
        "{text}"
    );
    assert!(!text.contains('$'), "no guessed number: {text}");
    let out = turnscope(&["stats", "--ignore-config", "--json", FIXTURE], &[]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["cost"]["usd"], Value::Null);
    assert_eq!(
        doc["cost"]["unpriced_models"],
        serde_json::json!(["gpt-test"])
    );
    assert_eq!(doc["turns"][1]["cost"], Value::Null);
    assert_eq!(
        doc["turns"][1]["cost_text"],
        "n/a (no price for gpt-test; add it under [prices] in config.toml)"
    );
}

#[test]
fn a_config_price_is_used_by_stats_and_shown_by_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path());
    let cfg = cfg.to_str().unwrap();
    let out = turnscope(&["stats", "--config", cfg, "--json", FIXTURE], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cost = &doc["cost"];
    assert!(close(cost["usd"].as_f64().unwrap(), 0.001_087), "{cost}");
    assert!(
        close(cost["uncached_input_usd"].as_f64().unwrap(), 0.000_276),
        "{cost}"
    );
    assert!(
        close(cost["cached_input_usd"].as_f64().unwrap(), 0.000_211),
        "{cost}"
    );
    assert!(
        close(cost["output_usd"].as_f64().unwrap(), 0.000_6),
        "{cost}"
    );
    assert_eq!(
        cost["billed_tokens"],
        serde_json::json!({"uncached_input": 138, "cached_input": 422, "output": 60})
    );
    assert_eq!(cost["priced_turns"], 5);
    let turn2 = &doc["turns"][1]["cost"];
    assert!(close(turn2["usd"].as_f64().unwrap(), 0.000_182), "{turn2}");

    let out = turnscope(&["stats", "--config", cfg, FIXTURE], &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("; cost $0.001087"), "{text}");
    assert!(
        text.lines().nth(2).unwrap().contains(" $0.000182"),
        "{text}"
    );

    let out = turnscope(&["config", "--config", cfg], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("prices.\"gpt-test\" = input 2, cached_input 0.5, output 10"),
        "{text}"
    );
    assert!(text.contains("+ file: gpt-test"), "{text}");
}

#[test]
fn a_bad_price_in_config_is_refused_by_config_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[prices.\"gpt-test\"]\ninput = 2.0\noutput = 10.0\n").unwrap();
    for cmd in [&["config"][..], &["stats", FIXTURE][..]] {
        let mut args = cmd.to_vec();
        args.extend(["--config", cfg.to_str().unwrap()]);
        let out = turnscope(&args, &[]);
        assert!(!out.status.success(), "{cmd:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("line 1") && err.contains("cached_input") && err.lines().count() == 1,
            "{cmd:?}: {err}"
        );
    }
}

fn usage_app() -> App {
    let (_, frames, _) = turnscope::transcript::read_all(Path::new(FIXTURE)).unwrap();
    let info = SessionInfo {
        url: "ws://127.0.0.1:8787/v1/responses".into(),
        model: "gpt-test".into(),
        emulated: true,
        key_hint: None,
    };
    let mut app = App::new(info, Theme::default());
    let file = turnscope::config::parse(PRICES, Path::new("/c/config.toml")).unwrap();
    app.prices = turnscope::ledger::cost::Prices::builtin().with_overrides(&file.prices);
    update(
        &mut app,
        Action::LinkChanged(ConnState::Connected { conn: 0 }),
    );
    for frame in frames {
        update(&mut app, Action::FrameReceived(frame));
    }
    app.follow = false;
    app.selected = Some(1);
    app.tab = Tab::Usage;
    app.focus = Focus::Turns;
    app
}

fn screen(app: &mut App, width: u16, height: u16) -> String {
    update(app, Action::Resized { width, height });
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn the_usage_tab_shows_the_turns_and_the_sessions_cost() {
    let mut app = usage_app();
    let tall = screen(&mut app, 100, 44);
    assert!(tall.contains("cost (this turn)        $0.000182"), "{tall}");
    assert!(
        tall.contains(
            "cost by part            uncached $0.000056 · cached $0.000026 · out $0.000100"
        ),
        "{tall}"
    );
    assert!(tall.contains("cost (session)          $0.001087"), "{tall}");
    assert!(
        tall.contains("only prompt-cache hits and the tokens"),
        "{tall}"
    );
    insta::assert_snapshot!("usage_tab_cost_100x44", tall);
    // At 80×24 the cost lines are a scroll away, and the note fits the width.
    app.detail_scroll = 18;
    let small = screen(&mut app, 80, 24);
    assert!(
        small.contains("only prompt-cache hits and the tokens actually processed change the bill."),
        "{small}"
    );
    insta::assert_snapshot!("usage_tab_cost_80x24", small);
    // Without a price, the n/a text says how to add one.
    app.prices = turnscope::ledger::cost::Prices::builtin();
    let none = screen(&mut app, 100, 44);
    assert!(
        none.contains("n/a (no price for gpt-test; add it under [prices] in config.toml)"),
        "{none}"
    );
    // At 80 columns the n/a text wraps instead of losing its fix.
    let narrow = screen(&mut app, 80, 24);
    assert!(narrow.contains("config.toml)"), "{narrow}");
    insta::assert_snapshot!("usage_tab_no_price_80x24", narrow);
}
