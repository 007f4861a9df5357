//! Draws the whole screen from the app state (pure): header, turns, detail, composer, footer.

pub mod bench;
pub mod composer;
pub mod detail;
pub mod frames;
pub mod header;
pub mod insight;
pub mod json;
pub mod paused;
pub mod popup;
pub mod replay;
pub mod turns;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, ComposerMode, Focus, Level};

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// Status header (3 rows).
    pub header: Rect,
    /// Turn list: a title row, a column header row, then turns.
    pub list: Rect,
    /// Detail: a tab row, then content.
    pub detail: Rect,
    /// Composer box.
    pub composer: Rect,
    /// Status message or key hints (1 row).
    pub footer: Rect,
}

/// Splits the screen; `update` uses the same function for scrolling and mouse hits.
pub fn layout(app: &App, area: Rect) -> Areas {
    let header_h = 3.min(area.height);
    let footer_h = u16::from(area.height > header_h);
    let calls = u16::try_from(app.pending_calls().len().min(3)).unwrap_or(3);
    let composer_want = match (app.focus, app.composer.mode) {
        (Focus::Turns, _) => 3,
        (Focus::Composer, ComposerMode::ToolOutputs) => 6 + calls,
        (Focus::Composer, _) => 6,
    };
    let rest = area.height - header_h - footer_h;
    let composer_h = composer_want.min(rest / 2);
    let body = rest - composer_h;
    let list_h = if body < 8 {
        body / 2
    } else {
        (body * 2 / 5).max(5)
    };
    // A short list leaves its spare rows to the detail pane.
    // The turns listed, and the row of those that left the list.
    let rows = app.ledger.turns().len() + usize::from(app.ledger.retired() > 0);
    let turns = u16::try_from(rows).unwrap_or(u16::MAX);
    let list_h = list_h.min(turns.saturating_add(2).max(4));
    let detail_h = body - list_h;
    let mut y = area.y;
    let mut take = |h: u16| {
        let r = Rect::new(area.x, y, area.width, h);
        y += h;
        r
    };
    Areas {
        header: take(header_h),
        list: take(list_h),
        detail: take(detail_h),
        composer: take(composer_h),
        footer: take(footer_h),
    }
}

/// The smallest screen the layout works on: header (3), a turn or two, a few detail rows, the
/// composer and the footer. Below it one message says so instead of empty, clipped panes.
pub const MIN_SIZE: (u16, u16) = (40, 12);

/// Draws everything.
pub fn render(app: &App, frame: &mut Frame<'_>) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        too_small(app, frame, area);
        return;
    }
    let areas = layout(app, area);
    header::render(app, frame, areas.header);
    turns::render(app, frame, areas.list);
    detail::render(app, frame, areas.detail);
    composer::render(app, frame, areas.composer);
    render_footer(app, frame, areas.footer);
    if let Some(offer) = &app.offer {
        popup::offer(app, offer, frame, area);
    }
    if let Some(panel) = app.proxy.as_ref().filter(|p| p.is_open()) {
        paused::render(app, panel, frame, area);
    }
    if app.help {
        popup::help(app, frame, area);
    }
    if app.log_open {
        popup::log(app, frame, area);
    }
}

fn too_small(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let lines = vec![
        Line::from(Span::styled(
            format!(
                "terminal too small ({}×{}, need {}×{})",
                area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
            ),
            t.warn,
        )),
        Line::from(Span::styled("enlarge it, or Ctrl-C quits", t.muted)),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

fn render_footer(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let line = match &app.message {
        Some(m) => {
            let style = match m.level {
                Level::Info => t.text,
                Level::Warn => t.warn,
                Level::Error => t.error,
            };
            // A message wider than the screen is cut with a pointer to the log that holds it
            // whole (errors quote URLs and server messages that run long).
            let width = usize::from(area.width);
            if m.text.chars().count() > width && width > 20 {
                const MORE: &str = " F8 log";
                Line::from(vec![
                    Span::styled(clip(&m.text, width - MORE.len()), style),
                    Span::styled(MORE, t.accent),
                ])
            } else {
                Line::from(Span::styled(m.text.clone(), style))
            }
        }
        None => match &app.proxy {
            Some(panel) => paused::status(app, panel),
            None => hints(app),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(app: &App) -> Line<'static> {
    use super::action::Action as A;
    use super::keymap::Scope;
    match app.focus {
        Focus::Turns => table_hints(
            &app.theme,
            &app.keymap,
            &[Scope::Turns, Scope::Global],
            &[
                (&[A::ToggleHelp], "", "help"),
                (&[A::Quit], "", "quit"),
                (&[A::FocusComposer], "", "compose"),
                (&[A::NextTab], "", "detail tab"),
                (&[A::SelectNext, A::SelectPrev], "/", "turns"),
                (&[A::Reconnect], "", "reconnect"),
            ],
        ),
        // Help and quit first: a newcomer must find them on the first screen. The F2–F5 toggles
        // show their state in the composer's title and are listed in help.
        Focus::Composer => table_hints(
            &app.theme,
            &app.keymap,
            &[Scope::Composer, Scope::Global],
            &[
                (&[A::SendTurn], "", "send"),
                (&[A::ToggleHelp], "", "help"),
                (&[A::Quit], "", "quit"),
                (&[A::FocusTurns], "", "turns"),
                (&[A::CycleComposerMode], "", "mode"),
                (&[A::ToggleStore, A::ToggleSteer], "-", "options"),
            ],
        ),
    }
}

/// The first key of `action` in the first of `scopes` that binds it, as help writes it, for a
/// line of text that names a key (`press i to answer`); `(unbound)` when a remap took it away.
pub fn key_for(
    app: &App,
    scopes: &[super::keymap::Scope],
    action: super::action::Action,
) -> String {
    app.keymap
        .hint(scopes, &[action], "")
        .unwrap_or_else(|| "(unbound)".to_owned())
}

/// One footer hint drawn from a key table: actions, the separator between their keys, and
/// what they do.
pub type Hint<'a, A> = (&'a [A], &'a str, &'a str);

/// [`key_hints_in`] from a key table: each hint names the keys `table` binds to its actions in
/// `scopes`, so a `[keys.*]` remap shows in the footer too; a hint whose action lost its keys
/// to a remap is left out.
pub fn table_hints<S: Copy + PartialEq, A: Clone + PartialEq>(
    t: &crate::tui::theme::Theme,
    table: &super::keymap::table::KeyTable<S, A>,
    scopes: &[S],
    hints: &[Hint<'_, A>],
) -> Line<'static> {
    let pairs: Vec<(String, &str)> = hints
        .iter()
        .filter_map(|(actions, sep, label)| table.hint(scopes, actions, sep).map(|k| (k, *label)))
        .collect();
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, l)| (k.as_str(), *l)).collect();
    key_hints_in(t, &refs)
}

/// `key label · key label` with keys in the accent style.
pub fn key_hints(app: &App, pairs: &[(&str, &str)]) -> Line<'static> {
    key_hints_in(&app.theme, pairs)
}

/// [`key_hints`] in theme `t`, for screens without an [`App`].
pub fn key_hints_in(t: &crate::tui::theme::Theme, pairs: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (k, label)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", t.muted));
        }
        spans.push(Span::styled((*k).to_owned(), t.accent));
        spans.push(Span::styled(format!(" {label}"), t.muted));
    }
    Line::from(spans)
}

/// A title row: `─ Title ───────` filling the width.
pub fn title_rule(mut spans: Vec<Span<'static>>, width: u16, border: Style) -> Line<'static> {
    let used: usize = spans.iter().map(Span::width).sum::<usize>() + 2;
    let mut out = vec![Span::styled("─ ", border)];
    out.append(&mut spans);
    let fill = usize::from(width).saturating_sub(used);
    if fill > 0 {
        out.push(Span::styled(
            format!(" {}", "─".repeat(fill.saturating_sub(1))),
            border,
        ));
    }
    Line::from(out)
}

/// Cuts `s` to `n` characters, ending with `…` when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n.saturating_sub(1)).chain(['…']).collect()
    }
}

/// Thousands separators: `12,345` (the reports' one token format).
pub use crate::report::fmt_tokens as thousands;

/// Signed thousands: `-1,234`.
pub use crate::report::fmt_tokens_signed as thousands_signed;
