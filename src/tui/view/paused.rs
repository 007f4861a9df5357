//! Proxy mode: the popup holding a paused frame in an editor, and the breakpoint status line.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::key_hints;
use crate::frame::Dir;
use crate::tui::app::App;
use crate::tui::breakpoint::{BreakpointAction, ProxyPanel};

/// The editor popup over most of the screen, while a frame is held.
pub fn render(app: &App, panel: &ProxyPanel, frame: &mut Frame<'_>, area: Rect) {
    let Some(held) = panel.held.front() else {
        return;
    };
    let t = &app.theme;
    let rect = Rect::new(
        area.x + area.width / 16,
        area.y + area.height / 8,
        area.width - area.width / 8,
        area.height - area.height / 4,
    );
    if rect.height < 5 || rect.width < 20 {
        return;
    }
    let way = match held.dir {
        Dir::Sent => "agent→upstream",
        _ => "upstream→agent",
    };
    // The queue: which of how many held frames this is.
    let more = format!(" · 1 of {} held", panel.held.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.warn)
        .title(Span::styled(
            format!(
                " PAUSED frame {} · conn {} · {way} · {}{more} ",
                held.id,
                held.conn,
                crate::report::fmt_bytes(held.text.len() as u64)
            ),
            t.warn,
        ));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let editor_h = inner.height.saturating_sub(2);
    frame.render_widget(
        &panel.editor,
        Rect {
            height: editor_h,
            ..inner
        },
    );
    let status = match &panel.error {
        Some(e) => Line::from(Span::styled(e.clone(), t.error)),
        None => Line::from(Span::styled(
            "edit the JSON and forward it; unchanged, the original bytes go out",
            t.muted,
        )),
    };
    frame.render_widget(
        Paragraph::new(status),
        Rect {
            y: inner.y + editor_h,
            height: 1.min(inner.height),
            ..inner
        },
    );
    // The held-frame scope's rows: the keys that work here, from the App's keymap.
    let rows = crate::tui::keymap::help_rows(&app.keymap, crate::tui::keymap::Scope::Held);
    let pairs: Vec<(&str, &str)> = rows.iter().map(|r| (r.keys.as_str(), r.help)).collect();
    let hints = key_hints(app, &pairs);
    frame.render_widget(
        Paragraph::new(hints),
        Rect {
            y: inner.y + editor_h + 1,
            height: 1.min(inner.height.saturating_sub(editor_h + 1)),
            ..inner
        },
    );
}

/// One line for the footer in proxy mode: what is paused, and what was edited or dropped.
pub fn status(app: &App, panel: &ProxyPanel) -> Line<'static> {
    let t = &app.theme;
    let flag = |on: bool| if on { "ON" } else { "off" };
    let key = |action| {
        super::key_for(
            app,
            &[crate::tui::keymap::Scope::Proxy],
            crate::tui::action::Action::Breakpoint(action),
        )
    };
    let mut spans = vec![
        Span::styled(key(BreakpointAction::TogglePauseClient), t.accent),
        Span::styled(
            format!(" pause agent→up: {} · ", flag(panel.pause_client)),
            t.muted,
        ),
        Span::styled(key(BreakpointAction::TogglePauseServer), t.accent),
        Span::styled(
            format!(" pause up→agent: {}", flag(panel.pause_server)),
            t.muted,
        ),
    ];
    if !panel.held.is_empty() {
        spans.push(Span::styled(
            format!(" · {} held", panel.held.len()),
            t.warn,
        ));
    }
    if panel.edited + panel.dropped > 0 {
        spans.push(Span::styled(
            format!(" · {} edited, {} dropped", panel.edited, panel.dropped),
            t.warn,
        ));
    }
    Line::from(spans)
}
