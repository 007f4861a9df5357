//! The turn list: one row per turn with its lane, status, latency, bytes, savings and tool calls.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{clip, thousands, title_rule};
use crate::ledger::{Mark, Turn, TurnStatus};
use crate::report::{PROMPT_CACHE, fmt_bytes, fmt_us_compact};
use crate::tui::app::{App, Focus};
use crate::tui::theme::Theme;

/// Whether the list starts with the row of turns that left it ([`App::turn_window`]).
fn earlier_shown(app: &App) -> bool {
    app.ledger.retired() > 0
}

/// Rows for turns in the list drawn in `area` (the title, the column header and the earlier row
/// take theirs).
pub fn turn_rows(app: &App, area: Rect) -> usize {
    usize::from(area.height.saturating_sub(2)).saturating_sub(usize::from(earlier_shown(app)))
}

/// Whether screen row `row` is the earlier row.
pub fn earlier_row_at(app: &App, area: Rect, row: u16) -> bool {
    earlier_shown(app) && row == area.y + 2 && row < area.y + area.height
}

/// Which turn (0-based position in the list) is drawn at screen row `row`, if any.
pub fn row_at(app: &App, area: Rect, row: u16) -> Option<usize> {
    let first = area.y + 2 + u16::from(earlier_shown(app));
    if row < first || row >= area.y + area.height {
        return None;
    }
    let i = app.list_offset + usize::from(row - first);
    (i < app.ledger.turns().len()).then_some(i)
}

/// The row of the turns that left the list: their number and the figures the header totals
/// sum, in the turn columns (sent, full, saved, prompt cache, tools).
fn earlier_row(app: &App) -> Vec<Cell<'static>> {
    let t = &app.theme;
    let totals = &app.earlier.totals;
    vec![
        Cell::from(Span::styled("…", t.muted)),
        Cell::from(Span::styled("earlier", t.muted)),
        Cell::from(Span::styled(
            clip(&crate::report::counted(app.ledger.retired(), "turn"), 11),
            t.muted,
        )),
        Cell::from("-"),
        Cell::from("-"),
        Cell::from(fmt_bytes(totals.incremental.bytes)),
        Cell::from(fmt_bytes(totals.full_context.bytes)),
        saved_cell(
            t,
            false,
            totals.full_context.bytes,
            totals.saved_bytes(),
            totals.saved_pct(),
        ),
        Cell::from(thousands(totals.cached_tokens)),
        count_cell(totals.tool_calls),
    ]
}

/// The saved column, one format for a turn and the earlier row: `?` when the chain is older
/// than the ledger keeps, `-` with nothing to compare, green when something was saved.
fn saved_cell(
    theme: &Theme,
    unknown: bool,
    full_bytes: u64,
    saved_bytes: i64,
    pct: f64,
) -> Cell<'static> {
    let text = if unknown {
        "?".into()
    } else if full_bytes == 0 {
        "-".into()
    } else {
        format!("{pct:.0}%")
    };
    let style = if saved_bytes > 0 {
        theme.ok
    } else {
        theme.text
    };
    Cell::from(Span::styled(text, style))
}

/// A count column (tool calls): `-` for none.
fn count_cell(n: usize) -> Cell<'static> {
    Cell::from(if n == 0 { "-".into() } else { n.to_string() })
}

/// Status label and its style.
pub fn status_cell(turn: &Turn, theme: &Theme) -> (String, Style) {
    match &turn.status {
        TurnStatus::Completed => ("done".into(), theme.ok),
        TurnStatus::InFlight => ("running".into(), theme.accent),
        TurnStatus::Queued => ("queued".into(), theme.warn),
        TurnStatus::Incomplete { reason } => (
            reason
                .as_deref()
                .map_or_else(|| "incomplete".into(), |r| format!("incompl:{r}")),
            theme.warn,
        ),
        TurnStatus::Error { code, .. } => {
            (code.clone().unwrap_or_else(|| "error".into()), theme.error)
        }
        TurnStatus::Failed => ("failed".into(), theme.error),
        TurnStatus::Dropped => ("dropped".into(), theme.error),
        TurnStatus::NotSent => ("not sent".into(), theme.warn),
    }
}

fn opt_us(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), fmt_us_compact)
}

/// The list's columns: header and width. `full` shows only from 90 columns.
const COLUMNS: [(&str, u16); 10] = [
    // `123 WE`: the number and its marks' letters.
    ("#", 6),
    ("lane", 8),
    ("status", 11),
    ("ttft", 6),
    ("total", 6),
    ("sent", 7),
    ("full", 7),
    ("saved", 6),
    (PROMPT_CACHE, 12),
    ("tools", 5),
];

/// Which columns fit `width`: whole columns drop out (tools, then lane, then prompt cache) rather
/// than every column being squeezed, which cut `482.5ms` to `482.5m`. When a turn ran on a named
/// lane the lane column outlives the prompt cache: the header shows the newest turn's prompt
/// cache, while nothing else tells which turn ran on which lane.
fn shown_columns(width: u16, lanes_used: bool) -> [bool; 10] {
    let mut shown = [true; 10];
    shown[6] = width >= 90;
    let needed = |shown: &[bool; 10]| -> u16 {
        let cols = COLUMNS.iter().zip(shown).filter(|(_, s)| **s);
        cols.map(|((_, w), _)| w + 1).sum::<u16>()
    };
    let order = if lanes_used { [9, 8, 1] } else { [9, 1, 8] };
    for drop in order {
        if needed(&shown) > width.saturating_add(1) {
            shown[drop] = false;
        }
    }
    shown
}

/// Draws the list.
pub fn render(app: &App, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let turns = app.ledger.turns();
    let mut title = vec![Span::styled(
        format!("Turns {}", app.ledger.retired() + turns.len()),
        t.title,
    )];
    // The letters beside a turn's number, spelled out once for the marks in use.
    for mark in Mark::ALL {
        if turns.iter().any(|turn| turn.has_mark(mark)) {
            title.push(Span::styled(" · ", t.muted));
            title.push(Span::styled(mark.letter().to_string(), t.warn));
            title.push(Span::styled(format!(" {}", mark.label()), t.muted));
        }
    }
    if app.follow && !turns.is_empty() {
        title.push(Span::styled(" · following", t.muted));
    }
    if app.focus == Focus::Turns {
        title.push(Span::styled(" ◂", t.accent));
    }
    frame.render_widget(
        Paragraph::new(title_rule(title, area.width, t.border)),
        Rect { height: 1, ..area },
    );
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    if turns.is_empty() {
        if let Some(panel) = app.proxy.as_ref().filter(|_| app.replay.is_none()) {
            // The proxy waits for an agent: say how to point one at it, the two usual ways.
            let url = &panel.base_url;
            let lines: Vec<Line<'_>> = [
                "  no turns yet: point an agent at this proxy".to_owned(),
                format!("  OPENAI_BASE_URL={url}  (OpenAI SDKs, most clients)"),
                "  Codex: a model provider with that base_url, supports_websockets = true"
                    .to_owned(),
            ]
            .into_iter()
            .map(|text| Line::from(Span::styled(text, t.muted)))
            .collect();
            frame.render_widget(Paragraph::new(lines), body);
            return;
        }
        let hint = Line::from(Span::styled(
            match &app.replay {
                Some(mark) => format!("  no turn has started yet at this time: {}", mark.move_hint),
                None => "  no turns yet: type a message below and press Enter".to_owned(),
            },
            t.muted,
        ));
        let mut lines = vec![Line::default(), hint];
        let tools = app.request_tools();
        let names: Vec<&str> = tools
            .iter()
            .filter_map(|t| t.get("name").and_then(serde_json::Value::as_str))
            .collect();
        if app.on_emulator() && !names.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("  the emulator calls a tool you name: {}", names.join(", ")),
                t.muted,
            )));
        } else if let Some(why) = app.demo_tools_off() {
            lines.push(Line::from(Span::styled(format!("  {why}"), t.muted)));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        return;
    }
    let shown = shown_columns(area.width, turns.iter().any(|turn| turn.lane.is_some()));
    let keep = |cells: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        cells
            .into_iter()
            .zip(shown)
            .filter_map(|(c, s)| s.then_some(c))
            .collect()
    };
    let header: Vec<&str> = COLUMNS
        .iter()
        .zip(shown)
        .filter_map(|((h, _), s)| s.then_some(*h))
        .collect();
    let rows_room = turn_rows(app, area);
    let start = app.list_offset.min(turns.len().saturating_sub(1));
    let earlier = earlier_shown(app).then(|| Row::new(keep(earlier_row(app))));
    let rows = turns[start..]
        .iter()
        .take(rows_room)
        .enumerate()
        .map(|(i, turn)| {
            let (status, status_style) = status_cell(turn, t);
            let lane = turn.lane.as_deref().unwrap_or("-");
            let lane = if turn.conn > 0 {
                format!("{}/{lane}", turn.conn)
            } else {
                lane.to_owned()
            };
            let letters: String = turn.marks().into_iter().map(Mark::letter).collect();
            let mut cells = vec![
                Cell::from(Line::from(vec![
                    Span::raw(turn.index.to_string()),
                    Span::styled(
                        if letters.is_empty() {
                            letters
                        } else {
                            format!(" {letters}")
                        },
                        t.warn,
                    ),
                ])),
                Cell::from(clip(&lane, 8)),
                Cell::from(Span::styled(clip(&status, 11), status_style)),
                Cell::from(opt_us(turn.ttft_us())),
                Cell::from(opt_us(turn.latency_total_us())),
                Cell::from(fmt_bytes(turn.incremental.bytes)),
                // A chain older than the ledger keeps: no number rather than a wrong one.
                Cell::from(if turn.context_unknown {
                    "?".into()
                } else {
                    fmt_bytes(turn.full_context.bytes)
                }),
            ];
            cells.push(saved_cell(
                t,
                turn.context_unknown,
                turn.full_context.bytes,
                turn.saved_bytes(),
                turn.saved_pct(),
            ));
            cells.push(Cell::from(
                turn.cached_tokens().map_or_else(|| "-".into(), thousands),
            ));
            cells.push(count_cell(turn.tool_calls.len()));
            let row = Row::new(keep(cells));
            if app.selected == Some(start + i) {
                row.style(t.selection)
            } else {
                row
            }
        });
    let widths: Vec<Constraint> = COLUMNS
        .iter()
        .zip(shown)
        .filter_map(|((_, w), s)| s.then_some(Constraint::Length(*w)))
        .collect();
    let table = Table::new(earlier.into_iter().chain(rows), widths)
        .header(Row::new(header).style(t.muted))
        .column_spacing(1);
    frame.render_widget(table, body);
}
