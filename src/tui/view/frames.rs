//! The Frames tab (pure): a summary line (connection, filter, search and its match count), the
//! shown frames around the selected one, then the selected frame's JSON with the search text
//! highlighted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{clip, json, thousands, title_rule};
use crate::frame::Dir;
use crate::replay::filter::{Filter, Head};
use crate::report::fmt_bytes;
use crate::tui::app::App;
use crate::tui::frames;
use crate::tui::theme::Theme;

/// Draws the tab's body into `area` (below the tab row).
pub fn render(app: &App, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let tab = &app.frames_tab;
    let (shown, on_conn) = frames::shown_of_all(app);
    let selected = frames::selected(app, &shown);
    let found = frames::matches(app, &shown);
    let mut lines = vec![summary(app, &shown, on_conn, selected, &found)];
    let list_h = usize::from(area.height.saturating_sub(2) / 2).max(1);
    let at = selected
        .and_then(|s| shown.binary_search(&s).ok())
        .unwrap_or(0);
    let start = at
        .saturating_sub(list_h / 2)
        .min(shown.len().saturating_sub(list_h));
    let t0 = app.frames.t_us(0).unwrap_or(0);
    // Only the rows drawn read their heads back from the store.
    for &i in shown.iter().skip(start).take(list_h) {
        let Some(head) = app.frames.head(i) else {
            continue;
        };
        let hit = found.binary_search(&i).is_ok();
        lines.push(row(app, i, &head, t0, Some(i) == selected, hit, area.width));
    }
    if shown.is_empty() {
        lines.push(Line::from(Span::styled(
            match tab.filter {
                Filter::All => "  no frames on this connection yet".to_owned(),
                _ => format!(
                    "  no frame matches filter {}; F shows every frame",
                    tab.filter.label()
                ),
            },
            t.muted,
        )));
    }
    while lines.len() < list_h + 1 {
        lines.push(Line::default());
    }
    if let Some((i, f)) = selected.and_then(|i| Some((i, app.frames.get(i)?))) {
        lines.push(title_rule(
            vec![Span::styled(
                format!(
                    "Frame #{} · {} · conn {} · {:?} · {}",
                    thousands(i as u64 + 1),
                    f.wall,
                    f.conn,
                    f.dir,
                    fmt_bytes(f.payload.len() as u64)
                ),
                t.title,
            )],
            area.width,
            t.border,
        ));
        let query = tab.search.as_deref().unwrap_or("");
        lines.extend(
            json::body_lines(&f.payload, 160)
                .into_iter()
                .skip(usize::from(app.detail_scroll))
                .map(|l| highlight(&l, query, t.text, t.accent.patch(t.selection))),
        );
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// `conn #0 · 12 of 30 frames · filter errors · /resp_4 2 matches (1/2)`, or the search being
/// typed.
fn summary(
    app: &App,
    shown: &[usize],
    on_conn: usize,
    selected: Option<usize>,
    found: &[usize],
) -> Line<'static> {
    let t = &app.theme;
    let tab = &app.frames_tab;
    if let Some(typing) = &tab.typing {
        // The search scope's rows: the keys that work while typing, from the App's keymap.
        let keys = crate::tui::keymap::help_rows(&app.keymap, crate::tui::keymap::Scope::Search)
            .iter()
            .map(|r| format!("{} {}", r.keys, r.help))
            .collect::<Vec<_>>()
            .join(" · ");
        return Line::from(vec![
            Span::styled("  search frames: /", t.accent),
            Span::styled(format!("{typing}▏"), t.text),
            Span::styled(format!("  {keys}"), t.muted),
        ]);
    }
    let conn = frames::connection(app).map_or_else(|| "-".to_owned(), |c| c.to_string());
    let mut spans = vec![Span::styled(
        format!(
            "  conn #{conn} · {} of {} frames",
            thousands(shown.len() as u64),
            thousands(on_conn as u64)
        ),
        t.text,
    )];
    if tab.filter != Filter::All {
        spans.push(Span::styled(
            format!(" · filter {}", tab.filter.label()),
            t.accent,
        ));
    }
    if let Some(q) = &tab.search {
        let nth = selected
            .and_then(|s| found.binary_search(&s).ok())
            .map_or_else(String::new, |k| format!(" ({}/{})", k + 1, found.len()));
        let plural = if found.len() == 1 { "" } else { "es" };
        spans.push(Span::styled(
            format!(" · /{q} {} match{plural}{nth}", found.len()),
            t.accent,
        ));
    }
    spans.push(Span::styled("  J/K frame · / search · f filter", t.muted));
    Line::from(spans)
}

/// The direction mark of a frame row.
pub fn arrow(dir: Dir) -> &'static str {
    match dir {
        Dir::Sent => "→",
        Dir::Recv => "←",
        Dir::Meta => "•",
    }
}

/// `▸#12     +0.321s → response.create [lane]     203B`, a match marked `*`.
fn row(
    app: &App,
    i: usize,
    h: &Head,
    t0: u64,
    selected: bool,
    hit: bool,
    width: u16,
) -> Line<'static> {
    let t = &app.theme;
    let secs = h.t_us.saturating_sub(t0) as f64 / 1e6;
    let left = format!(
        "{}{}#{:<6} {:>10} {} ",
        if selected { "▸" } else { " " },
        if hit { "*" } else { " " },
        i + 1,
        format!("+{secs:.3}s"),
        arrow(h.dir)
    );
    let line = frame_row(t, left, if hit { t.accent } else { t.muted }, h, width);
    if selected {
        line.patch_style(t.selection)
    } else {
        line
    }
}

/// A frame row: `left` (marks, number, time, arrow) in `left_style`, then the kind and lane
/// clipped to `width`, then the size. The Frames tab and replay's timeline draw frames alike.
pub fn frame_row(
    t: &Theme,
    left: String,
    left_style: Style,
    h: &Head,
    width: u16,
) -> Line<'static> {
    let lane = h
        .lane
        .as_deref()
        .map_or(String::new(), |l| format!(" [{l}]"));
    let size = format!(" {:>9}", fmt_bytes(h.bytes as u64));
    let room = usize::from(width).saturating_sub(left.chars().count() + size.chars().count());
    let kind = clip(&format!("{}{lane}", h.kind), room);
    let style = if h.error {
        t.error
    } else if h.dir == Dir::Meta {
        t.muted
    } else {
        t.text
    };
    Line::from(vec![
        Span::styled(left, left_style),
        Span::styled(format!("{kind:<room$}"), style),
        Span::styled(size, t.muted),
    ])
}

/// A JSON line with every occurrence of `query` in the `hit` style.
fn highlight(line: &str, query: &str, base: Style, hit: Style) -> Line<'static> {
    if query.is_empty() {
        return Line::from(Span::styled(line.to_owned(), base));
    }
    let mut spans = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(query) {
        if at > 0 {
            spans.push(Span::styled(rest[..at].to_owned(), base));
        }
        spans.push(Span::styled(query.to_owned(), hit));
        rest = &rest[at + query.len()..];
    }
    if !rest.is_empty() {
        spans.push(Span::styled(rest.to_owned(), base));
    }
    Line::from(spans)
}
