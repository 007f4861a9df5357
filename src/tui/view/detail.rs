//! The selected turn in detail: Payload, Events, Context, Output, Usage and Insight tabs, and
//! the connection's Frames tab.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use serde_json::Value;

use super::{clip, json, thousands, thousands_signed, title_rule};
use crate::frame::Dir;
use crate::ledger::context as chain;
use crate::ledger::{Turn, TurnStatus};
use crate::protocol::server::explain_error_code;
use crate::protocol::{EventHead, Raw, ServerEventKind};
use crate::report::{CONN_CONTEXT, PROMPT_CACHE, counted, fmt_bytes, fmt_bytes_signed, fmt_us};
use crate::tui::app::{App, Focus, Tab};
use crate::tui::compose;

use crate::tui::payload::{self, FOLD};

/// The tab row's labels: ` 1 Payload `…; when they do not fit in `width`, only the shown tab
/// keeps its title (` 1 │ 2 │ 7 Frames `) so every tab stays visible and clickable. Replay
/// has no digit keys for tabs (1-3 set its speed; Tab moves), so its labels carry no numbers.
fn labels(current: Tab, width: u16, numbered: bool) -> Vec<(Tab, String)> {
    let number = |i: usize| {
        if numbered {
            format!(" {}", i + 1)
        } else {
            String::new()
        }
    };
    let full: Vec<(Tab, String)> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, tab)| (*tab, format!("{} {} ", number(i), tab.title())))
        .collect();
    // "─ " before, one "│" between labels.
    let need: usize = 1 + full
        .iter()
        .map(|(_, l)| l.chars().count() + 1)
        .sum::<usize>();
    if need <= usize::from(width) {
        return full;
    }
    full.into_iter()
        .enumerate()
        .map(|(i, (tab, label))| {
            if tab == current {
                (tab, label)
            } else if numbered {
                (tab, format!(" {} ", i + 1))
            } else {
                (
                    tab,
                    format!(" {} ", tab.title().chars().next().unwrap_or('?')),
                )
            }
        })
        .collect()
}

/// Columns each tab title occupies on the tab row: (tab, first column, end column).
pub fn tab_ranges(app: &App, area: Rect) -> Vec<(Tab, u16, u16)> {
    let mut x = area.x + 2;
    labels(app.tab, area.width, app.replay.is_none())
        .into_iter()
        .map(|(tab, label)| {
            let w = u16::try_from(label.chars().count()).unwrap_or(u16::MAX);
            let r = (tab, x, x + w);
            x += w + 1;
            r
        })
        .collect()
}

/// The tab whose title is at a screen cell, if any.
pub fn tab_at(app: &App, area: Rect, column: u16, row: u16) -> Option<Tab> {
    if row != area.y || area.height == 0 {
        return None;
    }
    tab_ranges(app, area)
        .into_iter()
        .find(|(_, a, b)| (*a..*b).contains(&column))
        .map(|(t, _, _)| t)
}

/// Draws the tab row and the selected tab.
pub fn render(app: &App, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let mut spans = Vec::new();
    for (i, (tab, label)) in labels(app.tab, area.width, app.replay.is_none())
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            spans.push(Span::styled("│", t.border));
        }
        let style = if tab == app.tab {
            t.accent.patch(t.selection)
        } else {
            t.muted
        };
        spans.push(Span::styled(label, style));
    }
    if let Some(turn) = app.selected_turn() {
        spans.push(Span::styled(format!("  turn {}", turn.index), t.title));
    }
    frame.render_widget(
        Paragraph::new(title_rule(spans, area.width, t.border)),
        Rect { height: 1, ..area },
    );
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    if app.tab == Tab::Frames {
        // Frames belong to a connection, not to a turn: shown with or without a selection.
        super::frames::render(app, frame, body);
        return;
    }
    let preview = app.focus == Focus::Composer && app.tab == Tab::Payload;
    let lines = match (app.selected, preview) {
        (_, true) => match compose::build(app) {
            Ok(draft) => preview_lines(app, &draft),
            Err(_) => match app.selected {
                Some(i) => payload(app, i),
                None => vec![Line::from(Span::styled(
                    "  the request appears here as you type",
                    t.muted,
                ))],
            },
        },
        (Some(i), false) => match app.tab {
            Tab::Payload => payload(app, i),
            Tab::Events => events(
                app,
                i,
                usize::from(app.detail_scroll),
                usize::from(body.height),
            ),
            Tab::Context => context(
                app,
                i,
                usize::from(app.detail_scroll),
                usize::from(body.height),
            ),
            Tab::Output => output(app, i),
            Tab::Usage => usage(app, i),
            Tab::Insight => super::insight::lines(app, i),
            Tab::Frames => Vec::new(),
        },
        (None, false) => vec![Line::from(Span::styled(
            "  select a turn to see its detail",
            t.muted,
        ))],
    };
    // Events are already cut to the visible window; everything else scrolls here.
    let scroll = if app.tab == Tab::Events && !preview {
        0
    } else {
        app.detail_scroll
    };
    // Only the Payload tab scrolls sideways (H/L): its whole strings run past the edge.
    let sideways = if app.tab == Tab::Payload && !preview {
        app.payload_view.for_turn(app.selected).sideways
    } else {
        0
    };
    let para = Paragraph::new(lines).scroll((scroll, sideways));
    // Usage wraps too: a cost's "n/a (no price for …; add it …)" is wider than 80 columns.
    let para = if matches!(app.tab, Tab::Output | Tab::Insight | Tab::Usage) {
        para.wrap(Wrap { trim: false })
    } else {
        para
    };
    frame.render_widget(para, body);
}

/// The turn's bill by part, the session's so far, and what differs between modes.
fn cost_lines(app: &App, i: usize) -> Vec<Line<'static>> {
    use crate::ledger::cost::{SessionCost, TurnCost, fmt_usd, turn_cost};
    let turns = app.ledger.turns();
    let cost = turn_cost(&app.prices, &turns[i]);
    let parts = match &cost {
        TurnCost::Priced(c) => Some(format!(
            "uncached {} · cached {} · out {}",
            fmt_usd(c.uncached_input_usd),
            fmt_usd(c.cached_input_usd),
            fmt_usd(c.output_usd)
        )),
        _ => None,
    };
    // The turns that left the list count too (their cost was summed as they left).
    let mut session = SessionCost::of(&app.prices, turns);
    session.add(&app.earlier.cost);
    let mut session_text = session.text();
    if session.no_usage_turns > 0 {
        session_text.push_str(&format!(
            " ({} without usage not counted)",
            counted(session.no_usage_turns, "turn")
        ));
    }
    let mut out = vec![kv(app, "cost (this turn)", cost.text())];
    out.extend(parts.map(|p| kv(app, "cost by part", p)));
    out.push(kv(app, "cost (session)", session_text));
    // The note in two lines, so it fits an 80-column screen.
    let note = crate::ledger::cost::MODES_NOTE;
    let (first, second) = note.split_once("; ").unwrap_or((note, ""));
    for part in [format!("{first};"), second.to_owned()] {
        out.push(Line::from(Span::styled(
            format!("  {part}"),
            app.theme.muted,
        )));
    }
    out
}

fn kv(app: &App, key: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("  {key:<24}"), app.theme.muted),
        Span::styled(value, app.theme.text),
    ])
}

fn preview_lines(app: &App, draft: &compose::Draft) -> Vec<Line<'static>> {
    let mut out = vec![
        Line::from(vec![
            Span::styled("  next request (not sent yet): ", app.theme.accent),
            Span::styled(draft.summary.clone(), app.theme.text),
        ]),
        Line::default(),
    ];
    out.extend(json::pretty(&draft.json, FOLD).into_iter().map(Line::from));
    out
}

fn payload(app: &App, i: usize) -> Vec<Line<'static>> {
    let turn = &app.ledger.turns()[i];
    let Some(text) = payload::request_text(app, i) else {
        return vec![Line::from(Span::styled(
            "  no request: the server started this response itself (after a steer)",
            app.theme.muted,
        ))];
    };
    let mut head = vec![Span::styled(
        format!(
            "  {} · {} · {} tok",
            fmt_bytes(turn.incremental.bytes),
            counted(turn.incremental.items, "item"),
            thousands(turn.incremental.tokens)
        ),
        app.theme.text,
    )];
    match &turn.previous_response_id {
        Some(p) => head.push(Span::styled(format!(" · prev {p}"), app.theme.muted)),
        None => head.push(Span::styled(
            " · no previous_response_id (full context)",
            app.theme.muted,
        )),
    }
    let view = app.payload_view.for_turn(Some(i));
    let pretty = json::pretty_with(&text, FOLD, &|n| view.is_expanded(n));
    // The string `e` acts on is marked ▸ in the indent; the keys are named once, in the head.
    let marked = payload::target(&pretty.long_starts, usize::from(app.detail_scroll))
        .map(|n| pretty.long_starts[n]);
    // Where the blank line was: the keys, when there is a long string to use them on.
    let hint = if pretty.long_starts.is_empty() {
        Line::default()
    } else {
        Line::from(Span::styled(
            format!(
                "  long strings {} of {} whole · e the ▸ one · E all · H L sideways",
                (0..pretty.long_starts.len())
                    .filter(|&n| view.is_expanded(n))
                    .count(),
                pretty.long_starts.len()
            ),
            app.theme.muted,
        ))
    };
    let mut out = vec![Line::from(head), hint];
    out.extend(pretty.lines.into_iter().enumerate().map(|(k, line)| {
        if Some(k) == marked {
            let rest: String = line.strip_prefix(' ').unwrap_or(&line).to_owned();
            Line::from(vec![Span::styled("▸", app.theme.accent), Span::raw(rest)])
        } else {
            Line::from(line)
        }
    }));
    out
}

/// A raw part of an event as a `Value`, for the few lines on screen.
fn value(raw: Option<Raw<'_>>) -> Option<Value> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

/// One line per frame, only the visible window (`skip`, `take`): sessions can stream thousands.
fn events(app: &App, i: usize, skip: usize, take: usize) -> Vec<Line<'static>> {
    let turn = &app.ledger.turns()[i];
    let t = &app.theme;
    let all = turn.request_frame.into_iter().chain(turn.frames.iter());
    let count = turn.frames.len() + usize::from(turn.request_frame.is_some());
    let mut out = vec![Line::from(Span::styled(
        format!("  {count} frames · time since send"),
        t.muted,
    ))];
    for f in all.skip(skip).take(take.saturating_sub(1)) {
        let Some(frame) = app.frames.frame(f) else {
            continue;
        };
        let since = frame.t_us.saturating_sub(turn.sent_us);
        let arrow = match frame.dir {
            Dir::Sent => "→",
            Dir::Recv => "←",
            Dir::Meta => "·",
        };
        let text = frame.payload.json().unwrap_or("");
        let (kind, detail) = match EventHead::parse(text) {
            Some(h) => {
                let detail = h
                    .delta()
                    .map(|d| format!("{d:?}"))
                    .or_else(|| value(h.item).as_ref().map(chain::describe_item))
                    .or_else(|| value(h.error).as_ref().map(Value::to_string))
                    .or_else(|| {
                        value(h.response)
                            .as_ref()
                            .and_then(|r| r.get("id"))
                            .map(Value::to_string)
                    })
                    .unwrap_or_default();
                (h.kind().to_owned(), detail)
            }
            None => (
                "(not an event)".to_owned(),
                clip(&String::from_utf8_lossy(frame.payload.as_bytes()), 60),
            ),
        };
        let style = match ServerEventKind::of(&kind) {
            ServerEventKind::Error | ServerEventKind::Failed => t.error,
            k if k.is_terminal() => t.ok,
            ServerEventKind::Other => t.warn,
            _ => t.text,
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {:>9} ", fmt_us(since)), t.muted),
            Span::styled(format!("{arrow} "), t.border),
            Span::styled(kind, style),
            Span::styled(format!("  {}", clip(&detail, 80)), t.muted),
        ]));
    }
    out
}

/// The chain root first; only the turns needed for the visible window are parsed, so a long
/// chain costs in proportion to how far it is scrolled, not to its length.
fn context(app: &App, i: usize, skip: usize, take: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let turn = &app.ledger.turns()[i];
    let chain = app.ledger.chain_of(i);
    // The chain's root continues a turn that left the list: its items are not listed here
    // (the figures count them; the recording has them), and the chain is longer than listed.
    let root = chain.first().and_then(|&r| app.ledger.turns().get(r));
    let cut = app.ledger.retired() > 0 && root.is_some_and(|r| r.previous_response_id.is_some());
    let length = if cut {
        format!("{} + earlier", counted(chain.len(), "listed turn"))
    } else {
        counted(chain.len(), "turn")
    };
    let mut all = vec![
        Line::from(Span::styled(
            format!(
                "  chain of {length} · full context {} · {} · {} tok · sent {} ({:.0}% saved)",
                fmt_bytes(turn.full_context.bytes),
                counted(turn.full_context.items, "item"),
                thousands(turn.full_context.tokens),
                fmt_bytes(turn.incremental.bytes),
                turn.saved_pct()
            ),
            t.text,
        )),
        Line::from(Span::styled("  → input sent · ← output received", t.muted)),
    ];
    if turn.context_unknown {
        all.insert(
            1,
            Line::from(Span::styled(
                format!(
                    "  full context unknown: the chain goes back to a response older than turnscope keeps (the {} most recently used); the figures above count only what it still knows",
                    thousands(crate::ledger::CHAIN_KEEP as u64)
                ),
                t.warn,
            )),
        );
    }
    if cut {
        all.push(Line::from(Span::styled(
            format!(
                "  earlier turns of this chain left the list; {}",
                crate::tui::update::earlier_hint(app)
            ),
            t.warn,
        )));
    }
    for &link in &chain {
        if all.len() >= skip + take {
            break;
        }
        let lt = &app.ledger.turns()[link];
        all.push(Line::from(Span::styled(
            format!(
                "  turn {} {}",
                lt.index,
                lt.response_id.as_deref().unwrap_or("(no id yet)")
            ),
            t.title,
        )));
        for item in chain::input_items(&app.ledger, &app.frames, link) {
            all.push(Line::from(vec![
                Span::styled("    → ", t.border),
                Span::styled(clip(&chain::describe_item(&item), 120), t.text),
            ]));
        }
        for item in chain::output_items(&app.ledger, &app.frames, link) {
            all.push(Line::from(vec![
                Span::styled("    ← ", t.border),
                Span::styled(clip(&chain::describe_item(&item), 120), t.accent),
            ]));
        }
    }
    all.into_iter().skip(skip).take(take).collect()
}

/// Text and function calls, rebuilt from the frames so they show while streaming.
fn output(app: &App, i: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let turn = &app.ledger.turns()[i];
    let mut calls: Vec<(String, String, String)> = Vec::new();
    // The screens' ledger keeps no streamed text (it would grow with every byte relayed): the
    // text is rebuilt here from the turn's frames, read back from the store.
    let mut output_text = String::new();
    for f in turn.frames.iter() {
        let Some(text) = app.frames.json(f) else {
            continue;
        };
        let Some(h) = EventHead::parse(&text) else {
            continue;
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match ServerEventKind::of(h.kind()) {
            ServerEventKind::OutputItemAdded | ServerEventKind::OutputItemDone => {
                if let Some(item) = value(h.item)
                    .filter(|it| it.get("type").and_then(Value::as_str) == Some("function_call"))
                {
                    let id = s(&item, "call_id");
                    let entry = (s(&item, "name"), id.clone(), s(&item, "arguments"));
                    match calls.iter_mut().find(|c| c.1 == id) {
                        Some(c) if !entry.2.is_empty() => *c = entry,
                        Some(_) => {}
                        None => calls.push(entry),
                    }
                }
            }
            ServerEventKind::FunctionCallArgumentsDelta => {
                if let (Some(c), Some(d)) = (calls.last_mut(), h.delta()) {
                    c.2.push_str(&d);
                }
            }
            ServerEventKind::OutputTextDelta | ServerEventKind::RefusalDelta => {
                if let Some(d) = h.delta() {
                    output_text.push_str(&d);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let TurnStatus::Error { code, message } = &turn.status {
        out.push(Line::from(Span::styled(
            format!("  error {}: {message}", code.as_deref().unwrap_or("-")),
            t.error,
        )));
        if let Some(e) = code.as_deref().and_then(explain_error_code) {
            out.push(Line::from(Span::styled(format!("  why: {e}"), t.warn)));
        }
        out.push(Line::default());
    }
    if output_text.is_empty() && calls.is_empty() {
        let what = if turn.status.is_final() {
            "  no output"
        } else {
            "  waiting for output…"
        };
        out.push(Line::from(Span::styled(what, t.muted)));
    }
    for line in output_text.lines() {
        out.push(Line::from(Span::styled(line.to_owned(), t.text)));
    }
    for (name, id, args) in calls {
        out.push(Line::from(vec![
            Span::styled("  ƒ ", t.accent),
            Span::styled(name, t.accent),
            Span::styled(format!("({args})"), t.text),
            Span::styled(format!("  {id}"), t.muted),
        ]));
    }
    out
}

fn usage(app: &App, i: usize) -> Vec<Line<'static>> {
    let turn: &Turn = &app.ledger.turns()[i];
    let opt = |v: Option<u64>| v.map_or_else(|| "-".into(), fmt_us);
    let mut out = vec![
        kv(app, "status", turn.status.label().to_owned()),
        kv(
            app,
            "response",
            turn.response_id.clone().unwrap_or_else(|| "-".into()),
        ),
        kv(
            app,
            "connection / lane",
            format!(
                "#{} / {}",
                turn.conn,
                turn.lane.as_deref().unwrap_or("default")
            ),
        ),
        kv(
            app,
            "store / generate",
            format!(
                "{} / {}",
                turn.store.map_or_else(|| "-".into(), |s| s.to_string()),
                turn.generate
            ),
        ),
        kv(app, "latency created", opt(turn.latency_created_us())),
        kv(app, "latency first token", opt(turn.ttft_us())),
        kv(app, "latency total", opt(turn.latency_total_us())),
        kv(app, "gap before send", opt(turn.gap_us)),
        kv(
            app,
            "sent (incremental)",
            format!(
                "{} · {} · {} tok",
                fmt_bytes(turn.incremental.bytes),
                counted(turn.incremental.items, "item"),
                thousands(turn.incremental.tokens)
            ),
        ),
        kv(
            app,
            "full-context equivalent",
            format!(
                "{} · {} · {} tok",
                fmt_bytes(turn.full_context.bytes),
                counted(turn.full_context.items, "item"),
                thousands(turn.full_context.tokens)
            ),
        ),
        kv(
            app,
            "saved",
            format!(
                "{} · {} tok · {:.1}%",
                fmt_bytes_signed(turn.saved_bytes()),
                thousands_signed(turn.saved_tokens()),
                turn.saved_pct()
            ),
        ),
        kv(app, "context tokens (est)", thousands(turn.context_tokens)),
        kv(app, CONN_CONTEXT, thousands(turn.cache_estimate_tokens)),
    ];
    match &turn.usage {
        Some(u) => {
            out.push(kv(app, "input tokens", thousands(u.input_tokens)));
            out.push(kv(
                app,
                PROMPT_CACHE,
                thousands(u.input_tokens_details.cached_tokens),
            ));
            out.push(kv(app, "output tokens", thousands(u.output_tokens)));
            out.push(kv(
                app,
                "reasoning tokens",
                thousands(u.output_tokens_details.reasoning_tokens),
            ));
            out.push(kv(app, "total tokens", thousands(u.total_tokens)));
        }
        None => out.push(kv(app, "usage", "not reported yet".into())),
    }
    out.extend(cost_lines(app, i));
    for timing in &turn.timings {
        out.push(kv(app, "server timing", clip(&timing.to_string(), 100)));
    }
    out
}
