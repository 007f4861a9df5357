//! Popups drawn over the screen: the key help and the resume offer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{key_hints, thousands};
use crate::report::fmt_bytes;
use crate::tui::app::{App, Offer};
use crate::tui::keymap;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The key help, built from the keymap table, in two columns.
pub fn help(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let section = |scopes: &[keymap::Scope]| {
        let mut lines: Vec<Line<'static>> = Vec::new();
        for (scope, rows) in keymap::help_entries()
            .into_iter()
            .filter(|(s, _)| scopes.contains(s))
        {
            if !lines.is_empty() {
                lines.push(Line::default());
            }
            lines.push(Line::from(Span::styled(scope.title(), t.title)));
            for (keys, what) in rows {
                lines.push(Line::from(vec![
                    Span::styled(format!(" {keys:<15}"), t.accent),
                    Span::styled(what, t.text),
                ]));
            }
        }
        lines
    };
    let left = section(&[keymap::Scope::Turns, keymap::Scope::Global]);
    let right = section(&[keymap::Scope::Composer, keymap::Scope::Offer]);
    let rows = left.len().max(right.len()) + 2;
    let rect = centered(area, 80, u16::try_from(rows + 2).unwrap_or(u16::MAX));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.accent)
        .title(Span::styled(" Keys · Esc closes ", t.accent));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let half = inner.width / 2;
    let body_h = inner.height.saturating_sub(2);
    frame.render_widget(
        Paragraph::new(left),
        Rect {
            width: half,
            height: body_h,
            ..inner
        },
    );
    frame.render_widget(
        Paragraph::new(right),
        Rect {
            x: inner.x + half,
            width: inner.width - half,
            height: body_h,
            ..inner
        },
    );
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            "mouse: click a turn or a tab, the wheel scrolls",
            t.muted,
        ))),
        Rect {
            y: inner.y + inner.height.saturating_sub(1),
            height: 1.min(inner.height),
            ..inner
        },
    );
}

/// The resume offer after a reconnect or a lost parent.
pub fn offer(app: &App, offer: &Offer, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let Offer::Resume {
        why,
        turn,
        items,
        bytes,
        tokens,
    } = offer;
    let lines = vec![
        Line::from(Span::styled(why.clone(), t.warn)),
        Line::default(),
        Line::from(vec![
            Span::styled("Full context after turn ", t.text),
            Span::styled((turn + 1).to_string(), t.title),
            Span::styled(": ", t.text),
            Span::styled(
                format!(
                    "{items} items, {}, {} tokens",
                    fmt_bytes(*bytes),
                    thousands(*tokens)
                ),
                t.accent,
            ),
        ]),
        Line::from(Span::styled(
            "Resending it costs those input tokens once (uncached); chaining by id is no longer possible.",
            t.muted,
        )),
        Line::default(),
        key_hints(
            app,
            &[
                ("r", "resend full context with next turn"),
                ("f", "start fresh"),
                ("Esc", "later"),
            ],
        ),
    ];
    let rect = centered(area, 76, 9);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.warn)
        .title(Span::styled(" The connection's cache is gone ", t.warn));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}
