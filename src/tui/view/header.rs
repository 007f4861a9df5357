//! The always-visible status header: where, what, connection age, cache, savings, lanes, recording.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{clip, thousands, thousands_signed};
use crate::ledger::PROMPT_CACHE_MIN_TOKENS;
use crate::ledger::{AgeLevel, MAX_AGE_US};
use crate::report::{PROMPT_CACHE, counted, fmt_bytes_signed};
use crate::tui::app::{App, ConnState, Recording};

/// Draws the three header rows.
pub fn render(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let lines = vec![
        first_line(app),
        second_line(app, area.width),
        third_line(app, area.width),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn first_line(app: &App) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![Span::styled("turnscope", t.accent), Span::raw(" ")];
    if let Some(r) = &app.replay {
        // A recording at a time cursor: say so before the link state it had then.
        let at = app.now_us.saturating_sub(r.t0_us);
        spans.push(Span::styled(" replay ", t.badge));
        spans.push(Span::styled(
            format!(" +{}.{:03}s ", at / 1_000_000, (at / 1_000) % 1_000),
            t.accent,
        ));
    }
    let (mark, text, style) = match &app.link {
        // Proxy mode has no link of its own: the agent's connections are the state.
        ConnState::Idle if app.proxy.is_some() => match app.ledger.current_connection() {
            Some(c) if c.is_open() => ("●", format!("agent connected #{}", c.index), t.ok),
            Some(c) => ("○", format!("agent #{} closed", c.index), t.muted),
            None => ("○", "waiting for an agent".to_owned(), t.muted),
        },
        ConnState::Idle => ("○", "idle".to_owned(), t.muted),
        ConnState::Connecting { conn } => ("◌", format!("connecting #{conn}"), t.warn),
        ConnState::Connected { conn } => ("●", format!("connected #{conn}"), t.ok),
        ConnState::Closed { conn, code, .. } => (
            "✕",
            format!(
                "closed #{conn}{}",
                code.map_or_else(String::new, |c| format!(" ({c})"))
            ),
            t.error,
        ),
        ConnState::Failed { .. } => ("✕", "connect failed".to_owned(), t.error),
    };
    spans.push(Span::styled(format!("{mark} {text}"), style));
    if app.on_emulator() {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(" emulator ", t.badge));
    }
    spans.push(Span::styled("  model ", t.muted));
    let agent_model = crate::tui::compose::agent_request(app)
        .and_then(|r| r.get("model").and_then(|m| m.as_str()).map(str::to_owned));
    spans.push(Span::styled(
        agent_model.unwrap_or_else(|| app.info.model.clone()),
        t.text,
    ));
    // Which key goes out, masked; the proxy passes the agent's on and a replay sends none.
    // It comes before the URL: a narrow terminal clips the line's end, and a long URL can
    // lose its tail where the key hint cannot.
    match &app.info.key_hint {
        Some(key) => spans.push(Span::styled(format!("  key {key}"), t.muted)),
        None if app.proxy.is_none() && app.replay.is_none() => {
            spans.push(Span::styled("  no key", t.muted));
        }
        None => {}
    }
    spans.push(Span::styled("  ", t.muted));
    spans.push(Span::styled(app.info.url.clone(), t.text));
    Line::from(spans)
}

/// Age, the two cache figures, savings and lanes. When the row is too narrow, whole parts
/// drop out (lanes first, then the expected figure, then all but the bytes saved) rather than
/// being clipped mid-number: a label without its number would mislead.
fn second_line(app: &App, width: u16) -> Line<'static> {
    let t = &app.theme;
    let sep = || Span::styled(" │ ", t.border);

    // The newest turn on the connection: the server's prompt-cache figure beside the ledger's
    // one estimate of it, the very figures (and words) of that turn's Insight tab. A running
    // turn shows its estimate at once (`- of 7,952 expected`), so a warm-up followed by chained
    // turns never reads 0 while Insight says otherwise.
    let conn = app.current_conn().unwrap_or(0);
    let newest = app
        .ledger
        .turns()
        .iter()
        .rev()
        .find(|turn| turn.conn == conn);
    let prompt = vec![
        sep(),
        Span::styled(format!("{PROMPT_CACHE} "), t.muted),
        Span::styled(
            newest
                .and_then(crate::ledger::Turn::cached_tokens)
                .map_or_else(|| "-".to_owned(), thousands),
            t.text,
        ),
    ];
    // Under the prompt cache's minimum the server reports 0 whatever the connection holds:
    // say "n/a" as the Insight tab does, not "0 of 351 expected", which reads as a miss.
    let under_minimum =
        newest.is_some_and(|turn| turn.insight.expected_cached_tokens < PROMPT_CACHE_MIN_TOKENS);
    let context = match newest {
        Some(_) if under_minimum => vec![
            Span::styled(" · n/a (< ", t.muted),
            Span::styled(thousands(PROMPT_CACHE_MIN_TOKENS), t.text),
            Span::styled(" tok)", t.muted),
        ],
        Some(turn) => vec![
            Span::styled(" of ", t.muted),
            Span::styled(thousands(turn.insight.expected_cached_tokens), t.text),
            Span::styled(" expected", t.muted),
        ],
        None => Vec::new(),
    };

    let tot = app.ledger.totals();
    let saved_b = tot.saved_bytes();
    let saved_style = if saved_b > 0 { t.ok } else { t.text };
    let saved_bytes = fmt_bytes_signed(saved_b);
    let saved_part = |figures: String| {
        vec![
            sep(),
            Span::styled("saved ", t.muted),
            Span::styled(figures, saved_style),
        ]
    };
    let saved = saved_part(format!(
        "{saved_bytes} {}tok {:.0}%",
        thousands_signed(tot.saved_tokens()),
        tot.saved_pct()
    ));
    let lanes = vec![
        sep(),
        Span::styled("lanes ", t.muted),
        Span::styled(lanes(app), t.text),
    ];
    let mut parts = vec![age_gauge(app), prompt, context, saved, lanes];
    let width_of =
        |parts: &[Vec<Span<'_>>]| -> usize { parts.iter().flatten().map(Span::width).sum() };
    // Drop order: lanes (index 4), then the expected figure (index 2) — under the minimum
    // its reason first, keeping "n/a" while it fits, since a bare "0" reads as a miss; then
    // the savings keep only their bytes, and go whole if even that does not fit.
    if width_of(&parts) > usize::from(width) {
        parts[4].clear();
    }
    if width_of(&parts) > usize::from(width) && under_minimum {
        parts[2] = vec![Span::styled(" · n/a", t.muted)];
    }
    if width_of(&parts) > usize::from(width) {
        parts[2].clear();
    }
    if width_of(&parts) > usize::from(width) {
        parts[3] = saved_part(saved_bytes);
    }
    if width_of(&parts) > usize::from(width) {
        parts[3].clear();
    }
    Line::from(parts.into_iter().flatten().collect::<Vec<_>>())
}

/// Totals, connections and the transcript path.
fn third_line(app: &App, width: u16) -> Line<'static> {
    let t = &app.theme;
    let tot = app.ledger.totals();
    let mut spans = vec![
        Span::styled(
            format!(
                "{} · {} conn · {} · {}",
                counted(tot.turns, "turn"),
                thousands(u64::try_from(app.ledger.connections().len()).unwrap_or(u64::MAX)),
                counted(tot.tool_calls, "tool call"),
                counted(tot.errors, "error")
            ),
            if tot.errors > 0 { t.warn } else { t.muted },
        ),
        Span::styled(" │ ", t.border),
    ];
    let used: usize = spans.iter().map(Span::width).sum();
    let room = usize::from(width).saturating_sub(used + 4).max(12);
    match &app.recording {
        _ if app.replay.is_some() => {
            let file = app.replay.as_ref().map_or("", |r| r.file.as_str());
            spans.push(Span::styled("recording ", t.muted));
            // "recording " is six cells longer than "rec ".
            spans.push(Span::styled(
                left_clip(file, room.saturating_sub(6)),
                t.text,
            ));
        }
        Recording::To(path) => {
            spans.push(Span::styled("rec ", t.error));
            spans.push(Span::styled(
                left_clip(&path.display().to_string(), room),
                t.muted,
            ));
        }
        Recording::Off => spans.push(Span::styled("not recording", t.muted)),
        Recording::Failed(e) => spans.push(Span::styled(format!("not recording: {e}"), t.error)),
        Recording::Unknown => spans.push(Span::styled("rec …", t.muted)),
    }
    Line::from(spans)
}

/// `age ▰▰▰▱▱▱▱▱▱▱ 12:03/60m`, coloured at 50 and 55 minutes.
pub fn age_gauge(app: &App) -> Vec<Span<'static>> {
    let t = &app.theme;
    let Some(c) = app.ledger.current_connection() else {
        return vec![Span::styled("age -", t.muted)];
    };
    let age = c.age_us(app.now_us);
    let style: Style = match c.age_level(app.now_us) {
        AgeLevel::Fresh => t.ok,
        AgeLevel::Warn => t.warn,
        AgeLevel::Rotate | AgeLevel::Expired => t.error,
    };
    const CELLS: u64 = 8;
    let filled = (age.min(MAX_AGE_US) * CELLS)
        .div_ceil(MAX_AGE_US)
        .min(CELLS);
    let bar: String = (0..CELLS)
        .map(|i| if i < filled { '▰' } else { '▱' })
        .collect();
    let secs = age / 1_000_000;
    vec![
        Span::styled("age ", t.muted),
        Span::styled(bar, style),
        Span::styled(format!(" {:02}:{:02}", secs / 60, secs % 60), style),
        Span::styled("/60m", t.muted),
    ]
}

/// Lanes in use on the current connection: `default 1 · lane-1 1+2q`.
fn lanes(app: &App) -> String {
    let conn = app.current_conn().unwrap_or(0);
    let mut parts: Vec<String> = app
        .ledger
        .busy_lanes()
        .into_iter()
        .filter(|(c, _, _)| *c == conn)
        .map(|(_, lane, n)| {
            let q = app.queued.get(&lane).copied().unwrap_or(0);
            let name = lane.unwrap_or_else(|| "default".into());
            if q > 0 {
                format!("{name} {n}+{q}q")
            } else {
                format!("{name} {n}")
            }
        })
        .collect();
    for (lane, q) in &app.queued {
        let busy = app
            .ledger
            .busy_lanes()
            .iter()
            .any(|(c, l, _)| *c == conn && l == lane);
        if !busy {
            parts.push(format!("{} 0+{q}q", lane.as_deref().unwrap_or("default")));
        }
    }
    if parts.is_empty() {
        "idle".into()
    } else {
        clip(&parts.join(" · "), 40)
    }
}

/// Keeps the end of a path: `…/sessions/2026-….tsjsonl`.
fn left_clip(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        s.to_owned()
    } else {
        let tail: String = s.chars().skip(count - n + 1).collect();
        format!("…{tail}")
    }
}
