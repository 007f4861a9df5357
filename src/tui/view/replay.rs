//! The replay screen (pure): the inspector at the time cursor (what it opens on), or the frames
//! view: header, timeline of frames, the selected frame or a diff, footer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{clip, frames, json, thousands, title_rule};
use crate::replay::context::{Change, Diff};
use crate::report::{PROMPT_CACHE, fmt_bytes};
use crate::tui::replay::app::{ExportKind, Level, PromptKind, ReplayAction, ReplayApp, Row};
use crate::tui::replay::keys::{self, Scope};
use crate::tui::theme::Theme;

/// Where each part of the replay screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayAreas {
    /// Two header rows.
    pub header: Rect,
    /// Timeline: a title row, then frames.
    pub timeline: Rect,
    /// Selected frame or diff: a title row, then content.
    pub detail: Rect,
    /// Prompt, message or key hints.
    pub footer: Rect,
}

/// Splits the screen; [`ReplayApp::timeline_rows`] agrees with it.
pub fn layout(area: Rect) -> ReplayAreas {
    let header_h = 2.min(area.height);
    let footer_h = u16::from(area.height > header_h);
    let body = area.height - header_h - footer_h;
    let timeline_h = (body * 2 / 5).max(3).min(body);
    let mut y = area.y;
    let mut take = |h: u16| {
        let r = Rect::new(area.x, y, area.width, h);
        y += h;
        r
    };
    ReplayAreas {
        header: take(header_h),
        timeline: take(timeline_h),
        detail: take(body - timeline_h),
        footer: take(footer_h),
    }
}

/// Draws the replay screen.
pub fn render(app: &ReplayApp, frame: &mut Frame<'_>) {
    let area = frame.area();
    if let (true, Some(ins)) = (app.inspect, &app.inspector) {
        crate::tui::replay::inspect::render(app, ins, frame);
        if app.help {
            help(app, frame, area);
        }
        return;
    }
    let areas = layout(area);
    header(app, frame, areas.header);
    timeline(app, frame, areas.timeline);
    match &app.diff {
        Some(d) => diff(app, d, frame, areas.detail),
        None => detail(app, frame, areas.detail),
    }
    footer(app, frame, areas.footer);
    if app.help {
        help(app, frame, area);
    }
}

fn pct(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(100)
}

fn header(app: &ReplayApp, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let p = &app.progress;
    let mut first = vec![
        Span::styled(" replay ", t.badge),
        Span::styled(format!(" {}", app.name), t.title),
        Span::styled(
            format!(
                " · {} · {}",
                app.header.source,
                app.header.model.as_deref().unwrap_or("model ?")
            ),
            t.muted,
        ),
    ];
    let play = if app.play.playing {
        Span::styled(format!("  ▶ {}", app.play.speed.label()), t.ok)
    } else {
        Span::styled(format!("  ⏸ {}", app.play.speed.label()), t.muted)
    };
    first.push(play);
    if app.tail {
        first.push(Span::styled("  tail -f", t.accent));
    }
    let turn = app
        .selection
        .as_ref()
        .and_then(|s| s.turn.as_ref())
        .map_or("-".to_owned(), |(i, _)| (i + 1).to_string());
    let mut second = vec![Span::styled(
        format!(
            " frame #{}/{} · turn {turn}/{} · filter {}",
            thousands(app.cursor + 1),
            thousands(p.frames),
            app.turns,
            app.filter.label()
        ),
        t.text,
    )];
    let indexed = if p.indexed {
        "indexed".to_owned()
    } else {
        format!("indexing {}%", pct(p.indexed_bytes, p.file_bytes))
    };
    let ledger = if p.tokens {
        "tokens ✓".to_owned()
    } else if let Some(done) = p.token_pass {
        format!("tokens {}%", pct(done, p.folded))
    } else {
        format!("ledger {}%", pct(p.folded, p.frames))
    };
    second.push(Span::styled(format!(" · {indexed} · {ledger}"), t.muted));
    if p.skipped > 0 {
        second.push(Span::styled(format!(" · bad lines: {}", p.skipped), t.warn));
    }
    if p.pending_bytes > 0 && p.following {
        second.push(Span::styled(
            format!(" · partial line {} B", p.pending_bytes),
            t.muted,
        ));
    }
    if let Some(e) = &p.error {
        second.push(Span::styled(format!(" · {e}"), t.error));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

fn row_line(app: &ReplayApp, row: &Row, width: u16) -> Line<'static> {
    let t = &app.theme;
    let selected = row.pos == app.cursor;
    let marker = if selected { "▸" } else { " " };
    let w = usize::from(width);
    let line = match &row.head {
        Ok(h) => {
            let secs = h.t_us.saturating_sub(app.t0) as f64 / 1e6;
            let left = format!(
                "{marker}#{:<6} {:>10} c{} {} ",
                row.pos + 1,
                format!("+{secs:.3}s"),
                h.conn,
                frames::arrow(h.dir)
            );
            frames::frame_row(t, left, t.muted, h, width)
        }
        Err(e) => Line::from(Span::styled(
            clip(&format!("{marker}#{:<6} ✗ {e}", row.pos + 1), w),
            t.error,
        )),
    };
    if selected {
        line.patch_style(t.selection)
    } else {
        line
    }
}

fn timeline(app: &ReplayApp, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let mut title = vec![Span::styled("Timeline", t.title)];
    if let Some(q) = &app.search {
        title.push(Span::styled(format!(" · /{q}"), t.muted));
    }
    if let Some(m) = app.mark {
        title.push(Span::styled(format!(" · marked turn {}", m + 1), t.accent));
    }
    let mut lines = vec![title_rule(title, area.width, t.border)];
    if app.rows.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no frames yet (the file has only a header, or indexing has not reached one)",
            t.muted,
        )));
    }
    lines.extend(app.rows.iter().map(|r| row_line(app, r, area.width)));
    frame.render_widget(Paragraph::new(lines), area);
}

fn ms(us: Option<u64>) -> String {
    us.map_or("-".into(), |v| format!("{:.1} ms", v as f64 / 1000.0))
}

fn detail(app: &ReplayApp, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let Some(sel) = &app.selection else {
        frame.render_widget(
            Paragraph::new(title_rule(
                vec![Span::styled("Frame", t.title)],
                area.width,
                t.border,
            )),
            area,
        );
        return;
    };
    let mut lines = Vec::new();
    let title = match &sel.entry {
        Ok(e) => format!("Frame #{} · line {}", app.cursor + 1, e.line),
        Err(e) => format!("Frame #{} · line {}", app.cursor + 1, e.line),
    };
    lines.push(title_rule(
        vec![Span::styled(title, t.title)],
        area.width,
        t.border,
    ));
    if let Some((i, turn)) = &sel.turn {
        let (status, style) = super::turns::status_cell(turn, t);
        let lane = turn
            .lane
            .as_deref()
            .map_or(String::new(), |l| format!(" · lane {l}"));
        let usage = turn.usage.as_ref().map_or(String::new(), |u| {
            format!(
                " · in {} / {PROMPT_CACHE} {} / out {} tok",
                thousands(u.input_tokens),
                thousands(u.input_tokens_details.cached_tokens),
                thousands(u.output_tokens)
            )
        });
        lines.push(Line::from(vec![
            Span::styled(format!(" turn {}{lane} · ", i + 1), t.accent),
            Span::styled(status, style),
            Span::styled(
                format!(
                    " · total {} · ttft {}{usage} · sent {} · HTTP {}",
                    ms(turn.latency_total_us()),
                    ms(turn.ttft_us()),
                    fmt_bytes(turn.incremental.bytes),
                    fmt_bytes(turn.full_context.bytes)
                ),
                t.muted,
            ),
        ]));
    }
    let body: Vec<Line<'static>> = match &sel.entry {
        Ok(e) => {
            let f = &e.frame;
            let secs = f.t_us.saturating_sub(app.t0) as f64 / 1e6;
            let mut out = vec![Line::from(Span::styled(
                format!(
                    " +{secs:.3}s · {} · conn {} · {:?} · {}",
                    f.wall,
                    f.conn,
                    f.dir,
                    fmt_bytes(f.payload.len() as u64)
                ),
                t.muted,
            ))];
            out.extend(
                json::body_lines(&f.payload, 160)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, t.text))),
            );
            out
        }
        Err(e) => vec![Line::from(Span::styled(format!(" ✗ {e}"), t.error))],
    };
    let skip = usize::from(app.scroll).min(body.len().saturating_sub(1));
    lines.extend(body.into_iter().skip(skip));
    frame.render_widget(Paragraph::new(lines), area);
}

fn change_style(t: &Theme, c: Change) -> (Style, &'static str) {
    match c {
        Change::Same => (t.text, "  "),
        Change::Removed => (t.error, "- "),
        Change::Added => (t.ok, "+ "),
        Change::Blank => (t.muted, "  "),
    }
}

/// Draws a diff into `area` (the frames view's detail pane, or the inspector's).
pub fn diff(app: &ReplayApp, d: &Diff, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let half = usize::from(area.width.saturating_sub(1) / 2);
    let mut lines = vec![title_rule(
        vec![
            Span::styled(d.title.clone(), t.title),
            Span::styled(format!(" · -{} +{}", d.removed, d.added), t.muted),
        ],
        area.width,
        t.border,
    )];
    lines.push(Line::from(vec![
        Span::styled(format!("{:<half$}", clip(&d.left, half)), t.accent),
        Span::styled("│", t.border),
        Span::styled(clip(&d.right, half), t.accent),
    ]));
    let skip = usize::from(app.scroll).min(d.rows.len().saturating_sub(1));
    for row in d.rows.iter().skip(skip) {
        let (ls, lp) = change_style(t, row.left.1);
        let (rs, rp) = change_style(t, row.right.1);
        let left = clip(&format!("{lp}{}", row.left.0), half);
        lines.push(Line::from(vec![
            Span::styled(format!("{left:<half$}"), ls),
            Span::styled("│", t.border),
            Span::styled(clip(&format!("{rp}{}", row.right.0), half), rs),
        ]));
    }
    if d.rows.is_empty() {
        lines.push(Line::from(Span::styled(
            "  (both sides are empty)",
            t.muted,
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The open prompt, else the status message: what the bottom line shows first in both views.
pub fn prompt_or_message(app: &ReplayApp) -> Option<Line<'static>> {
    let t = &app.theme;
    if let Some(p) = &app.prompt {
        let label = match p.kind {
            PromptKind::Search => "/",
            PromptKind::Jump => "jump to (turn, #frame, resp_…, 12.5s): ",
            PromptKind::Export(_) if app.overwrite.is_some() => {
                "that file exists: Enter overwrites it, or edit the name (Esc cancels): "
            }
            PromptKind::Export(ExportKind::Frame) => "export frame to file: ",
            PromptKind::Export(ExportKind::Turn) => "export turn to file: ",
            PromptKind::Export(ExportKind::Response) => "export response to file: ",
        };
        return Some(Line::from(vec![
            Span::styled(label, t.accent),
            Span::styled(format!("{}▏", p.text), t.text),
        ]));
    }
    app.message.as_ref().map(|(level, text)| {
        let style = match level {
            Level::Info => t.text,
            Level::Error => t.error,
        };
        Line::from(Span::styled(text.clone(), style))
    })
}

fn footer(app: &ReplayApp, frame: &mut Frame<'_>, area: Rect) {
    let line = if let Some(line) = prompt_or_message(app) {
        line
    } else if app.diff.is_some() {
        use ReplayAction as A;
        replay_hints(
            app,
            &[Scope::Diff, Scope::Cursor],
            &[
                (&[A::Back], "", "close diff"),
                (&[A::Scroll(1), A::Scroll(-1)], "/", "scroll"),
                (&[A::Quit], "", "quit"),
            ],
        )
    } else {
        use ReplayAction as A;
        replay_hints(
            app,
            &[Scope::Cursor],
            &[
                (&[A::Quit], "", "quit"),
                (&[A::ToggleHelp], "", "keys"),
                (&[A::ToggleInspect], "", "inspector"),
                (&[A::StepFrame(1), A::StepFrame(-1)], "/", "frame"),
                (&[A::StepTurn(-1), A::StepTurn(1)], "/", "turn"),
                (&[A::TogglePlay], "", "play"),
                (&[A::OpenPrompt(PromptKind::Search)], "", "search"),
                (&[A::OpenPrompt(PromptKind::Jump)], "", "jump"),
                (&[A::CycleFilter], "", "filter"),
                (&[A::ShowDiff { http: false }], "", "diff"),
                (&[A::Export(ExportKind::Frame)], "", "export"),
            ],
        )
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Footer hints from the replay's own key table (remaps included), looked up in `scopes`.
pub fn replay_hints(
    app: &ReplayApp,
    scopes: &[Scope],
    hints: &[super::Hint<'_, ReplayAction>],
) -> Line<'static> {
    super::table_hints(&app.theme, &app.keys, scopes, hints)
}

fn help(app: &ReplayApp, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    // The keys of the screen under the popup, from the replay's key table.
    let entries = keys::help_rows(app);
    let h = u16::try_from(entries.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let w = 72.min(area.width);
    // The key column as wide as its widest row (`g Home G End PgDn PgUp`), within reason.
    let key_w = entries
        .iter()
        .map(|r| r.keys.chars().count())
        .max()
        .unwrap_or(0)
        .min(22);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.accent)
        .title(Span::styled(
            format!(" Replay keys · {} ", close_hint(app)),
            t.accent,
        ));
    let lines: Vec<Line<'static>> = entries
        .iter()
        .map(|row| {
            Line::from(vec![
                Span::styled(format!(" {:<key_w$} ", row.keys), t.accent),
                Span::styled(row.help, t.text),
            ])
        })
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

/// `Esc ? close`: the help scope's closing row, for the popup's title.
fn close_hint(app: &ReplayApp) -> String {
    keys::close_rows(app)
        .into_iter()
        .next()
        .map_or_else(String::new, |r| format!("{} {}", r.keys, r.help))
}
