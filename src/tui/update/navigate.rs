//! Moving around: the selected turn, the detail tab and its scroll, mouse clicks.

use crate::tui::app::{App, Focus, Tab};
use crate::tui::view;

pub(super) fn show_tab(app: &mut App, tab: Tab) {
    app.tab = tab;
    app.detail_scroll = 0;
}

pub(super) fn scroll_detail(app: &mut App, n: i32) {
    let next = i64::from(app.detail_scroll) + i64::from(n);
    app.detail_scroll = u16::try_from(next.max(0)).unwrap_or(u16::MAX);
}

pub(super) fn move_selection(app: &mut App, delta: i32) {
    let count = app.ledger.turns().len();
    if count == 0 {
        return;
    }
    let cur = app.selected.unwrap_or(count - 1);
    if delta < 0 && cur == 0 {
        say_where_earlier_turns_are(app);
    }
    let next = if delta < 0 {
        cur.saturating_sub(delta.unsigned_abs() as usize)
    } else {
        (cur + delta as usize).min(count - 1)
    };
    app.follow = next == count - 1 && delta > 0;
    select(app, next);
}

pub(super) fn select(app: &mut App, index: usize) {
    if app.ledger.turns().is_empty() {
        return;
    }
    if app.selected != Some(index) {
        app.detail_scroll = 0;
    }
    app.selected = Some(index);
    ensure_visible(app);
}

/// Moving above the first listed turn: the turns before it left the list
/// ([`App::turn_window`]); the status line says where they can be seen.
pub(super) fn say_where_earlier_turns_are(app: &mut App) {
    if app.ledger.retired() > 0 {
        let hint = super::source::earlier_hint(app);
        app.set_message(crate::tui::app::Level::Info, hint);
    }
}

/// Keeps the selected row inside the list's visible rows, and the list full when it can be.
pub(super) fn ensure_visible(app: &mut App) {
    let rows = view::turns::turn_rows(app, view::layout(app, app.area).list).max(1);
    let count = app.ledger.turns().len();
    app.list_offset = app.list_offset.min(count.saturating_sub(rows));
    let Some(sel) = app.selected else {
        return;
    };
    if sel < app.list_offset {
        app.list_offset = sel;
    } else if sel >= app.list_offset + rows {
        app.list_offset = sel + 1 - rows;
    }
}

pub(super) fn on_click(app: &mut App, column: u16, row: u16) {
    if app.help || app.log_open {
        app.help = false;
        app.log_open = false;
        return;
    }
    let areas = view::layout(app, app.area);
    let at = ratatui::layout::Position::new(column, row);
    if view::turns::earlier_row_at(app, areas.list, row) && areas.list.contains(at) {
        app.focus = Focus::Turns;
        say_where_earlier_turns_are(app);
    } else if let Some(i) =
        view::turns::row_at(app, areas.list, row).filter(|_| areas.list.contains(at))
    {
        app.focus = Focus::Turns;
        app.follow = i + 1 == app.ledger.turns().len();
        select(app, i);
    } else if let Some(tab) = view::detail::tab_at(app, areas.detail, column, row) {
        app.focus = Focus::Turns;
        show_tab(app, tab);
    } else if areas.composer.contains(at) && app.replay.is_none() {
        app.focus = Focus::Composer;
    }
}
