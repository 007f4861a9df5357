//! The `turnscope` binary on a real terminal (tmux, 120×40) against the emulator over real
//! sockets: a newcomer's `--url` without a key, and the Codex CLI through `turnscope proxy` with
//! its TUI on (issue 16 items 9 and 11b).
//!
//! Needs tmux and the Codex CLI (target/codex, installed on first use as `.ci/run` does, or
//! `TURNSCOPE_CODEX`); without them the tests fail with the reason, never pass silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/codex.rs"]
mod codex;
#[path = "support/tmux.rs"]
mod tmux;

use tmux::Tmux;
use turnscope::emulator::{self, EmulatorConfig};

/// Runs a blocking tmux wait without starving the in-process emulator's tasks.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// `prompt cache 7,296 of 7,383 expected` (or `- of …`) from a line, if it holds one.
fn prompt_cache_figure(line: &str) -> Option<String> {
    let start = line.find("prompt cache ")?;
    let rest = &line[start..];
    let end = rest.find(" expected")? + " expected".len();
    Some(rest[..end].to_owned())
}

/// Issue 16 item 9: `turnscope --url` to the emulator with no OPENAI_API_KEY connects (the
/// emulator takes a missing key), says `no key`, shows the emulator badge and sends the demo
/// tools, so naming one makes the persona call it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_to_the_emulator_without_a_key_runs_a_tool_turn() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let base = emu.base_url();
    let term = Tmux::start(
        "nokey",
        120,
        40,
        &["--ignore-config", "--no-record", "--url", &base],
        &[],
    );
    let first = blocking(|| term.wait_for("the connection", |s| s.contains("● connected #0")));
    let header = first.lines().next().unwrap_or_default();
    for needle in [" emulator ", "no key", "model gpt-5.1"] {
        assert!(header.contains(needle), "{needle:?} missing:\n{first}");
    }
    assert!(
        first.contains("the emulator calls a tool you name: read_file, run_tests, search"),
        "{first}"
    );
    term.text("please call read_file on src/lib.rs");
    term.keys(&["Enter"]);
    let done = blocking(|| {
        term.wait_for("turn 1 done with its tool call", |s| {
            s.contains("1 turn · 1 conn · 1 tool call · 0 errors")
        })
    });
    assert!(!done.contains("401"), "{done}");
    emu.shutdown().await;
}

/// Issue 16 item 11b: a Codex session through `turnscope proxy` (TUI on) with the emulator as
/// upstream. The header names the agent's state and the model Codex sent (never the
/// placeholder `(the agent's)`), the prewarm (`generate: false`) is marked W, the header and
/// the Insight tab give the same prompt-cache estimate, and Insight's prefix table keeps a long
/// tool name apart from its hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_through_the_proxy_tui() {
    codex::binary();
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let upstream = emu.base_url();
    let term = Tmux::start(
        "codex-proxy",
        120,
        40,
        &[
            "--ignore-config",
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--no-record",
        ],
        &[],
    );
    // The proxy's empty screen names the address to point the agent at.
    let empty = blocking(|| {
        term.wait_for("the proxy's address", |s| {
            s.contains("OPENAI_BASE_URL=http://")
        })
    });
    assert!(empty.contains("waiting for an agent"), "{empty}");
    let base = empty
        .split("OPENAI_BASE_URL=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();

    codex::exec_ok(
        &base,
        "hello through the proxy",
        "sk-test-codex-0000000000000000",
    )
    .await;

    // Codex prewarms (generate:false), then sends its turn chained to the prewarm, then closes.
    let list = blocking(|| {
        term.wait_for("both turns done and the agent gone", |s| {
            s.contains("2 turns · 1 conn")
                && s.contains("agent #0 closed")
                && s.contains(" expected")
                && s.lines().any(|l| l.starts_with("2 ") && l.contains("done"))
        })
    });
    let header = list.lines().next().unwrap_or_default();
    assert!(header.contains("model gpt-5.1"), "{list}");
    assert!(!list.contains("(the agent's)"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("1 W ") && l.contains("done")),
        "the prewarm is marked W:\n{list}"
    );
    assert!(
        list.contains("W warm-up"),
        "the mark is spelled out:\n{list}"
    );
    let header_estimate = list
        .lines()
        .take(3)
        .find_map(prompt_cache_figure)
        .unwrap_or_else(|| panic!("no prompt-cache estimate in the header:\n{list}"));
    assert!(
        !header_estimate.contains(" of 0 expected"),
        "a prewarm then a chained turn has an estimate: {header_estimate}\n{list}"
    );

    // The newest turn (selected, following) in the Insight tab.
    term.keys(&["6"]);
    // tmux may be read halfway through a redraw: wait for the whole prefix table.
    let insight = blocking(|| {
        term.wait_for("the Insight tab with its prefix table", |s| {
            // `prefix, 7,061 tok resent (≠ …)`: Codex resends its tools every turn.
            s.lines().any(|l| l.trim_start().starts_with("prefix, "))
                && s.lines().filter(|l| l.trim().starts_with("tool ")).count() >= 5
        })
    });
    let insight_estimate = insight
        .lines()
        .skip(3)
        .find_map(prompt_cache_figure)
        .unwrap_or_else(|| panic!("no estimate in Insight:\n{insight}"));
    assert_eq!(header_estimate, insight_estimate, "{insight}");
    // `tool 3 request_user_… e71ea2cff762`: every tool row ends in a 12-hex hash set apart
    // by a space, however long the tool's name.
    let tools: Vec<&str> = insight
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tool "))
        .collect();
    assert!(tools.len() >= 5, "Codex sends its tools:\n{insight}");
    for row in &tools {
        // A name run into its hash would leave a last word longer than 12 characters.
        let (_, hash) = row.rsplit_once(' ').unwrap();
        assert!(
            hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{row:?}\n{insight}"
        );
    }
    assert!(
        tools.iter().any(|row| row.contains('…')),
        "a long tool name (request_user_input) is cut with …:\n{insight}"
    );
    drop(term);
    emu.shutdown().await;
}
