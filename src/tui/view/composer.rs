//! The composer box: toggles, pending function calls, the text area and a preview of the request.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{clip, key_for, table_hints};
use crate::tui::action::Action;
use crate::tui::app::{App, ComposerMode, Focus};
use crate::tui::compose;
use crate::tui::keymap::Scope;

/// Draws the composer.
pub fn render(app: &App, frame: &mut Frame<'_>, area: Rect) {
    if area.height < 3 {
        return;
    }
    let t = &app.theme;
    if app.replay.is_some() {
        read_only(app, frame, area);
        return;
    }
    let c = &app.composer;
    let focused = app.focus == Focus::Composer;
    let mode = if c.mode == ComposerMode::ToolOutputs && app.pending_calls().is_empty() {
        ComposerMode::Message
    } else {
        c.mode
    };
    let flag = |on: bool, label: &str| {
        Span::styled(format!(" {label}"), if on { t.accent } else { t.muted })
    };
    let mut title = vec![
        Span::styled(" Compose ", if focused { t.accent } else { t.title }),
        Span::styled(format!("[{}] ", mode.label()), t.text),
        Span::styled(
            format!("store={}", c.store),
            if c.store { t.accent } else { t.muted },
        ),
        Span::styled(
            format!(" lane={}", c.lane.as_deref().unwrap_or("default")),
            if c.lane.is_some() { t.accent } else { t.muted },
        ),
    ];
    if c.warmup {
        title.push(flag(true, "warm-up"));
    }
    if c.steer {
        title.push(flag(true, "steer"));
    }
    if app.resend.is_some() {
        title.push(Span::styled(" full-resend", t.warn));
    }
    title.push(Span::raw(" "));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { t.accent } else { t.border })
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let draft = compose::build(app);
    let footer = match (&c.error, &draft) {
        (Some(e), _) => Line::from(Span::styled(clip(e, usize::from(inner.width)), t.error)),
        (None, Ok(d)) => Line::from(vec![
            Span::styled("→ ", t.accent),
            Span::styled(d.summary.clone(), t.muted),
        ]),
        (None, Err(e)) => Line::from(Span::styled(clip(e, usize::from(inner.width)), t.muted)),
    };
    if !focused {
        // In proxy mode the agent answers its own calls: nothing is waiting for the user.
        let pending = if app.proxy.is_some() {
            0
        } else {
            app.pending_calls().len()
        };
        let line = if pending > 0 {
            Line::from(vec![
                Span::styled(
                    format!(
                        "{} waiting for an output",
                        crate::report::counted(pending, "function call")
                    ),
                    t.warn,
                ),
                Span::styled(
                    format!(
                        " · press {} to answer",
                        key_for(app, &[Scope::Turns], Action::FocusComposer)
                    ),
                    t.muted,
                ),
            ])
        } else if c.textarea.is_empty() {
            table_hints(
                &app.theme,
                &app.keymap,
                &[Scope::Turns, Scope::Global],
                &[
                    (&[Action::FocusComposer], "", "write a message"),
                    (&[Action::ToggleHelp], "", "all keys"),
                ],
            )
        } else {
            footer
        };
        frame.render_widget(Paragraph::new(line), inner);
        return;
    }
    let mut y = inner.y;
    if mode == ComposerMode::ToolOutputs {
        let calls = app.pending_calls();
        let shown = usize::from(inner.height.saturating_sub(2)).min(3);
        let first = c.call.saturating_sub(shown.saturating_sub(1));
        for (i, call) in calls.iter().enumerate().skip(first).take(shown) {
            let picked = i == c.call;
            let done = c
                .outputs
                .get(&call.call_id)
                .is_some_and(|o| !o.trim().is_empty())
                || (picked && !c.textarea.is_empty());
            let line = Line::from(vec![
                Span::styled(if picked { "▸ " } else { "  " }, t.accent),
                Span::styled(
                    if done { "✓ " } else { "○ " },
                    if done { t.ok } else { t.warn },
                ),
                Span::styled(call.name.clone(), if picked { t.accent } else { t.text }),
                Span::styled(clip(&format!(" {}", call.arguments), 40), t.text),
                Span::styled(format!("  {}", call.call_id), t.muted),
            ]);
            frame.render_widget(
                Paragraph::new(line),
                Rect {
                    y,
                    height: 1,
                    ..inner
                },
            );
            y += 1;
        }
    }
    let text_h = (inner.y + inner.height).saturating_sub(y + 1);
    let text_area = Rect {
        y,
        height: text_h,
        ..inner
    };
    if c.textarea.is_empty() {
        let key = |action| key_for(app, &[Scope::Composer], action);
        let hint = match mode {
            ComposerMode::Message => format!(
                "type a message · {} sends · {} new line · {} mode",
                key(Action::SendTurn),
                key(Action::ComposerNewline),
                key(Action::CycleComposerMode)
            ),
            ComposerMode::ToolOutputs => format!(
                "type the picked call's output (or a file path, then {}) · {} next call",
                key(Action::LoadOutputFile),
                key(Action::NextPendingCall)
            ),
            ComposerMode::Raw => {
                "type any client event as JSON · it is validated before it goes out".to_owned()
            }
        };
        frame.render_widget(&c.textarea, text_area);
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(" ", t.selection),
                Span::styled(hint, t.muted),
            ])),
            Rect {
                height: 1,
                ..text_area
            },
        );
    } else {
        frame.render_widget(&c.textarea, text_area);
    }
    frame.render_widget(
        Paragraph::new(footer),
        Rect {
            y: inner.y + inner.height - 1,
            height: 1,
            ..inner
        },
    );
}

/// A replay's composer: the box stays where the live one was, and says why it is empty.
fn read_only(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Span::styled(" Compose · read-only ", t.muted));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(
        Paragraph::new(Span::styled(
            clip(crate::tui::app::REPLAY_READ_ONLY, usize::from(inner.width)),
            t.muted,
        )),
        inner,
    );
}
