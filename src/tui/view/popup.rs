//! Popups drawn over the screen: the key help, the message log and the resume offer. Each wraps
//! to the terminal and keeps the keys it needs on its last rows, whatever the size.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{key_hints, thousands};
use crate::report::{counted, fmt_bytes};
use crate::tui::app::{App, Level, Offer};
use crate::tui::keymap::{self, HelpRow};

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

/// What a popup holds: a title, a body that wraps (and scrolls) and the keys line(s).
struct Popup {
    title: String,
    border: Style,
    body: Vec<Line<'static>>,
    /// The popup's help rows from the keymap: packed into lines, a row never split across two.
    keys: Vec<HelpRow>,
    /// At most this wide, borders included (never wider than the screen).
    max_width: u16,
    /// Body lines scrolled away (clamped so the last page stays full).
    scroll: u16,
}

/// Wrapped rows `lines` take at `width`.
fn rows(lines: &[Line<'static>], width: u16) -> u16 {
    let n = Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.max(1));
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Draws `p` centred: as tall as its wrapped text, at most the screen. On a short screen the
/// body is cut (it scrolls) and the keys stay: a popup must always show how to leave it.
fn draw(app: &App, p: Popup, frame: &mut Frame<'_>, area: Rect) {
    let width = p.max_width.min(area.width);
    if width < 3 || area.height < 3 {
        return;
    }
    let inner_w = width - 2;
    let keys = key_rows(app, &p.keys, usize::from(inner_w));
    let keys_h = rows(&keys, inner_w);
    let body_h = rows(&p.body, inner_w);
    let rect = centered(area, width, body_h + 1 + keys_h + 2);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(p.border)
        .title(Span::styled(format!(" {} ", p.title), p.border));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let keys_h = keys_h.min(inner.height);
    let body_room = inner.height - keys_h;
    // A blank row between body and keys when there is room for one.
    let gap = u16::from(body_room > body_h);
    let body_shown = body_room - gap;
    let scroll = p.scroll.min(body_h.saturating_sub(body_shown));
    frame.render_widget(
        Paragraph::new(p.body)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        Rect {
            height: body_shown,
            ..inner
        },
    );
    frame.render_widget(
        Paragraph::new(keys).wrap(Wrap { trim: false }),
        Rect {
            y: inner.y + body_room,
            height: keys_h,
            ..inner
        },
    );
}

/// `key label · key label` rows no wider than `width`, breaking only between pairs.
fn key_rows(app: &App, pairs: &[HelpRow], width: usize) -> Vec<Line<'static>> {
    let mut rows: Vec<Vec<(&str, &str)>> = vec![Vec::new()];
    let mut used = 0;
    for HelpRow {
        keys: k,
        help: label,
    } in pairs
    {
        let w = k.chars().count() + 1 + label.chars().count();
        let row = rows
            .last_mut()
            .filter(|r| r.is_empty() || used + 3 + w <= width);
        match row {
            Some(row) => {
                used += if row.is_empty() { w } else { 3 + w };
                row.push((k, label));
            }
            None => {
                rows.push(vec![(k, label)]);
                used = w;
            }
        }
    }
    rows.iter().map(|r| key_hints(app, r)).collect()
}

/// Help lines for `scopes`: a title per scope, then `keys  what` rows from the App's keymap.
/// The key column is as wide as the section's widest key label (`Ctrl-J Alt-Enter`, or what a
/// `[keys.*]` remap names), so every description starts in one column.
fn help_section(app: &App, scopes: &[keymap::Scope]) -> Vec<Line<'static>> {
    let t = &app.theme;
    let sections: Vec<_> = scopes
        .iter()
        .map(|&scope| (scope, screen_rows(app, scope)))
        .collect();
    let key_w = sections
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| r.keys.chars().count()))
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (scope, rows) in sections {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(scope.title(), t.title)));
        for HelpRow { keys, help } in rows {
            lines.push(Line::from(vec![
                Span::styled(format!(" {keys:<key_w$} "), t.accent),
                Span::styled(help, t.text),
            ]));
        }
    }
    lines
}

/// The scopes the help popup lists, left column then right: the Frames tab's keys replace the
/// composer's while it is shown, the Payload tab's the resume offer's (that popup names its own
/// keys): those are the keys in force there, and two columns have room for two sections.
pub fn help_scopes(app: &App) -> [Vec<keymap::Scope>; 2] {
    use crate::tui::app::Tab;
    use keymap::Scope;
    let mut right = match app.tab {
        Tab::Frames => vec![Scope::Frames, Scope::Offer],
        Tab::Payload => vec![Scope::Composer, Scope::Payload],
        _ => vec![Scope::Composer, Scope::Offer],
    };
    if app.proxy.is_some() {
        right.push(Scope::Proxy);
    }
    [vec![Scope::Turns, Scope::Global], right]
}

/// A scope's help rows on the screen under the popup: in the Frames tab the turn list's rows
/// leave out the keys the tab takes first.
pub fn screen_rows(app: &App, scope: keymap::Scope) -> Vec<HelpRow> {
    use keymap::Scope;
    if scope == Scope::Turns && app.tab == crate::tui::app::Tab::Frames {
        return app.keymap.rows(scope, &[Scope::Global, Scope::Frames]);
    }
    if scope == Scope::Turns && app.tab == crate::tui::app::Tab::Payload {
        return app.keymap.rows(scope, &[Scope::Global, Scope::Payload]);
    }
    keymap::help_rows(&app.keymap, scope)
}

/// The key help, built from the keymap table: two columns when they fit, else one that scrolls.
pub fn help(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let [left_scopes, right_scopes] = help_scopes(app);
    let left = help_section(app, &left_scopes);
    let right = help_section(app, &right_scopes);
    // Two columns need their rows and the borders, and each column's widest row side by side
    // (a blank cell between them); the mouse line comes when there is room.
    let two_cols_h = u16::try_from(left.len().max(right.len()) + 2).unwrap_or(u16::MAX);
    let two_cols_w = widest(&left) + 1 + widest(&right);
    if area.width >= HELP_WIDTH
        && area.height >= two_cols_h
        && two_cols_w <= usize::from(HELP_WIDTH - 2)
    {
        two_columns(app, frame, area, left, right);
        return;
    }
    let mut body = left;
    body.push(Line::default());
    // One column scrolls: it has room for every section in force, the resume offer's too.
    let mut one_column = right_scopes.clone();
    if !one_column.contains(&keymap::Scope::Offer) {
        one_column.push(keymap::Scope::Offer);
    }
    body.extend(help_section(app, &one_column));
    body.push(Line::default());
    body.push(Line::from(Span::styled(
        "mouse: click a turn or a tab, the wheel scrolls",
        t.muted,
    )));
    draw(
        app,
        Popup {
            title: "Keys".into(),
            border: t.accent,
            body,
            keys: keymap::help_rows(&app.keymap, keymap::Scope::Help),
            max_width: 60,
            scroll: app.popup_scroll,
        },
        frame,
        area,
    );
}

/// The two-column help's width, borders included.
const HELP_WIDTH: u16 = 80;

/// The widest of `lines`, in cells.
fn widest(lines: &[Line<'_>]) -> usize {
    lines.iter().map(Line::width).max().unwrap_or(0)
}

/// `Esc ? q close`: the help scope's row that closes it, for the two-column title.
fn close_hint(app: &App) -> String {
    keymap::help_rows(&app.keymap, keymap::Scope::Help)
        .into_iter()
        .find(|r| r.help == "close")
        .map_or_else(String::new, |r| format!("{} {}", r.keys, r.help))
}

fn two_columns(
    app: &App,
    frame: &mut Frame<'_>,
    area: Rect,
    left: Vec<Line<'static>>,
    right: Vec<Line<'static>>,
) {
    let t = &app.theme;
    let rows = left.len().max(right.len()) + 2;
    let rect = centered(
        area,
        HELP_WIDTH,
        u16::try_from(rows + 2).unwrap_or(u16::MAX),
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.accent)
        .title(Span::styled(
            format!(" Keys · {} ", close_hint(app)),
            t.accent,
        ));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    // The left column takes half when the right one's widest row fits beside it, else it gives
    // way down to its own widest row and a blank cell (`help` checked that both fit).
    let right_w = u16::try_from(widest(&right)).unwrap_or(u16::MAX);
    let left_w = u16::try_from(widest(&left) + 1).unwrap_or(u16::MAX);
    let split = (inner.width / 2)
        .min(inner.width.saturating_sub(right_w))
        .max(left_w)
        .min(inner.width);
    let mouse_line = usize::from(inner.height) >= rows;
    let body_h = if mouse_line {
        inner.height.saturating_sub(2)
    } else {
        inner.height
    };
    frame.render_widget(
        Paragraph::new(left),
        Rect {
            width: split,
            height: body_h,
            ..inner
        },
    );
    frame.render_widget(
        Paragraph::new(right),
        Rect {
            x: inner.x + split,
            width: inner.width - split,
            height: body_h,
            ..inner
        },
    );
    if mouse_line {
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
}

/// The message log: every status message, newest first, each whole.
pub fn log(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let mut body: Vec<Line<'static>> = Vec::new();
    for (i, m) in app.log.iter().rev().enumerate() {
        if i > 0 {
            body.push(Line::default());
        }
        let style = match m.level {
            Level::Info => t.text,
            Level::Warn => t.warn,
            Level::Error => t.error,
        };
        body.push(Line::from(Span::styled(m.text.clone(), style)));
    }
    if body.is_empty() {
        body.push(Line::from(Span::styled("no messages yet", t.muted)));
    }
    draw(
        app,
        Popup {
            title: "Messages, newest first".into(),
            border: t.accent,
            body,
            keys: keymap::help_rows(&app.keymap, keymap::Scope::Log),
            max_width: 100,
            scroll: app.popup_scroll,
        },
        frame,
        area,
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
    let body = vec![
        Line::from(Span::styled(why.clone(), t.warn)),
        Line::default(),
        Line::from(vec![
            Span::styled("Full context after turn ", t.text),
            Span::styled((turn + 1).to_string(), t.title),
            Span::styled(": ", t.text),
            Span::styled(
                format!(
                    "{}, {}, {} tokens",
                    counted(*items, "item"),
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
    ];
    draw(
        app,
        Popup {
            title: "The connection's cache is gone".into(),
            border: t.warn,
            body,
            keys: keymap::help_rows(&app.keymap, keymap::Scope::Offer),
            max_width: 76,
            scroll: 0,
        },
        frame,
        area,
    );
}
