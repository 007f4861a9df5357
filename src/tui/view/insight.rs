//! The Insight tab: the ledger's verdict on a turn — send mode, cache outcome and its likely
//! causes, connection events, retry safety — and the request's prefix, part by part, against
//! its parent's, with server timing beside the client-side latencies.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::thousands;
use crate::ledger::{CacheOutcome, ConnEvent, PROMPT_CACHE_MIN_TOKENS, Prefix, SendMode, Turn};
use crate::report::{PROMPT_CACHE, cause_text, counted, fmt_bytes, fmt_us, prompt_cache_text};
use crate::tui::app::App;

/// The tab's lines for turn `i`.
pub fn lines(app: &App, i: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let turns = app.ledger.turns();
    let turn: &Turn = &turns[i];
    let insight = &turn.insight;
    let mut out = Vec::new();

    let (mode, mode_style, mode_detail) = match &insight.mode {
        SendMode::Fresh => (
            "fresh",
            t.text,
            "no previous_response_id, nothing resent".to_owned(),
        ),
        // previous_response_id carries items, not instructions or tools: a chained request
        // that has them sends them again (Codex: ~20 KB of tools a turn), so say so.
        SendMode::Incremental => (
            "incremental",
            t.ok,
            format!(
                "chained to {}, {}",
                turn.previous_response_id.as_deref().unwrap_or("-"),
                if resends_prefix(turn) {
                    "new items + the prefix below"
                } else {
                    "only new items sent"
                }
            ),
        ),
        SendMode::FullResend {
            reason,
            known_items,
            known_bytes,
            known_tokens,
        } => (
            "full resend",
            t.warn,
            format!(
                "{reason}: {} ({}, {} tok) the server already had",
                counted(*known_items, "item"),
                fmt_bytes(*known_bytes),
                thousands(*known_tokens)
            ),
        ),
    };
    out.push(verdict(app, "mode", mode, mode_style, mode_detail));

    let server = turn.cached_tokens();
    let expected = insight.expected_cached_tokens;
    let server = server.map_or_else(|| "-".into(), thousands);
    let cache_detail = if insight.cache == CacheOutcome::NotApplicable {
        format!(
            "{PROMPT_CACHE} {server} · prompt prefix {} tok, under the {} minimum",
            thousands(expected),
            thousands(PROMPT_CACHE_MIN_TOKENS)
        )
    } else {
        prompt_cache_text(turn)
    };
    let (cache, cache_style) = match insight.cache {
        CacheOutcome::Hit => ("hit", t.ok),
        CacheOutcome::Miss => ("miss", t.error),
        CacheOutcome::NotApplicable => ("n/a", t.muted),
        CacheOutcome::Unknown => ("pending", t.muted),
    };
    out.push(verdict(app, "cache", cache, cache_style, cache_detail));

    if insight.causes.is_empty() {
        out.push(verdict(
            app,
            "causes",
            "none",
            t.muted,
            "no prefix change from the parent or the previous turn".into(),
        ));
    }
    for cause in &insight.causes {
        out.push(verdict(app, "cause", "•", t.warn, cause_text(cause)));
    }
    for event in &insight.events {
        let text = match event {
            ConnEvent::Reconnect { code, reason } => format!(
                "first turn after a reconnect (close {} {})",
                code.map_or_else(|| "-".into(), |c| c.to_string()),
                reason.as_deref().unwrap_or("")
            ),
            ConnEvent::AgeLimit => "the previous connection reached the 60-minute limit".into(),
            ConnEvent::ResendAfterNotFound { after } => {
                format!("full resend after previous_response_not_found on turn {after}")
            }
            ConnEvent::HttpFallback => {
                "HTTP mode after WebSocket turns: the client fell back".into()
            }
        };
        out.push(verdict(app, "event", "↻", t.accent, text));
    }
    if let Some(safe) = insight.retry_safe {
        let (word, style, why) = if safe {
            ("safe", t.ok, "no output was streamed before the failure")
        } else {
            (
                "unsafe",
                t.error,
                "output was already streamed: a retry may repeat it",
            )
        };
        out.push(verdict(app, "retry", word, style, why.into()));
    }

    // Who sent the turn (its handshake headers) and, per verdict, what to change in that
    // client: the remedies live in src/ledger/remedies.toml.
    if let Some(client) = app.ledger.client_of(turn.conn) {
        out.push(Line::from(vec![
            Span::styled("  client  ", t.muted),
            Span::styled(client.label(), t.accent),
        ]));
        for remedy in app.ledger.remedies(turn) {
            out.push(Line::from(vec![
                Span::styled("  remedy  ", t.muted),
                Span::styled(format!("{}: ", remedy.verdict), t.warn),
                Span::styled(remedy.text, t.text),
            ]));
        }
    }

    // Client-side latencies beside the server's own timing, when it sent any.
    let opt = |v: Option<u64>| v.map_or_else(|| "-".into(), fmt_us);
    out.push(Line::default());
    out.push(Line::from(Span::styled(
        format!(
            "  latency  created {} · first token {} · total {}",
            opt(turn.latency_created_us()),
            opt(turn.ttft_us()),
            opt(turn.latency_total_us())
        ),
        t.text,
    )));
    for timing in &turn.timings {
        let metrics = timing.get("timing_metrics").unwrap_or(timing);
        out.push(Line::from(vec![
            Span::styled("  server   ", t.muted),
            Span::styled(super::clip(&metrics.to_string(), 110), t.text),
        ]));
    }

    // The prefix, a hash per part, marked where it differs from the parent's.
    let parent = app
        .ledger
        .chain_of(i)
        .iter()
        .rev()
        .nth(1)
        .map(|&p| &*turns[p].prefix);
    out.push(Line::default());
    let resent = if resends_prefix(turn) {
        format!(", {} tok resent", thousands(turn.prefix.tokens))
    } else {
        String::new()
    };
    out.push(Line::from(Span::styled(
        match parent {
            Some(_) => format!("  prefix{resent} (≠ marks a part that differs from the parent's)"),
            None => format!("  prefix{resent}"),
        },
        t.accent,
    )));
    out.extend(prefix_lines(app, &turn.prefix, parent));
    out
}

/// A chained turn whose request carries instructions or tools again.
fn resends_prefix(turn: &Turn) -> bool {
    turn.insight.mode == SendMode::Incremental && turn.prefix.tokens > 0
}

fn verdict(app: &App, key: &str, word: &str, style: Style, detail: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("  {key:<8}"), app.theme.muted),
        Span::styled(format!("{word:<12}"), style),
        Span::styled(detail, app.theme.text),
    ])
}

fn prefix_lines(app: &App, prefix: &Prefix, parent: Option<&Prefix>) -> Vec<Line<'static>> {
    let t = &app.theme;
    // A long tool name is cut (with …) so a space always parts it from its hash.
    let row = |part: String, value: String, differs: bool| {
        Line::from(vec![
            Span::styled(if differs { "  ≠ " } else { "    " }, t.warn),
            Span::styled(format!("{:<21} ", super::clip(&part, 21)), t.muted),
            Span::styled(value, if differs { t.warn } else { t.text }),
        ])
    };
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = vec![
        row(
            "model".into(),
            show(&prefix.model),
            parent.is_some_and(|p| p.model != prefix.model),
        ),
        row(
            "instructions".into(),
            show(&prefix.instructions),
            parent.is_some_and(|p| p.instructions != prefix.instructions),
        ),
    ];
    for (n, tool) in prefix.tools.iter().enumerate() {
        let differs = parent.is_some_and(|p| p.tools.get(n) != Some(tool));
        out.push(row(
            format!("tool {} {}", n + 1, tool.name),
            tool.hash.clone(),
            differs,
        ));
    }
    if let Some(p) = parent.filter(|p| p.tools.len() > prefix.tools.len()) {
        for tool in &p.tools[prefix.tools.len()..] {
            out.push(row(
                format!("tool {} (removed)", tool.name),
                "-".into(),
                true,
            ));
        }
    }
    out.push(row(
        "reasoning".into(),
        show(&prefix.reasoning),
        parent.is_some_and(|p| p.reasoning != prefix.reasoning),
    ));
    out.push(row(
        "text".into(),
        show(&prefix.text),
        parent.is_some_and(|p| p.text != prefix.text),
    ));
    out.push(row(
        "compaction".into(),
        if prefix.compaction { "on" } else { "off" }.into(),
        prefix.compaction,
    ));
    out
}
