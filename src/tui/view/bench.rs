//! `bench --tui`: the result in the terminal — per tool-call count, one horizontal bar per mode
//! (median end-to-end time), stacked by where the time goes when the emulator's latency model is
//! known (each term its own fill character, then the rest), with the speed-up and the cost per
//! run above each pair. Rendering is pure; [`show`] runs it on the one loop.

use std::io;

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use tokio_util::sync::CancellationToken;

use crate::bench::model::{OTHER, SEGMENTS};
use crate::bench::report::{faster_or_slower, server_line, speedup_text};
use crate::bench::{BenchReport, Point};
use crate::latency::TERMS;
use crate::ledger::cost::fmt_usd;
use crate::report::fmt_us_compact;
use crate::tui::keymap::table::{Binding, KeyTable};
use crate::tui::run::{Screen, Step, run_on_terminal};

/// The fill of each stacked segment ([`TERMS`] order, then [`OTHER`]): distinct in monochrome
/// and single-width everywhere; the big fixed wait (TTFT) is the solid block.
const FILLS: [char; SEGMENTS] = ['░', '▒', '▓', '#', '%', '█', '+', '=', '·'];
/// Columns for the mode label (`  http `).
const LABEL_W: usize = 6;

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn time(us: f64) -> String {
    fmt_us_compact(us.max(0.0).round() as u64)
}

/// The segments of one mode's bar, µs: the model's stack, or the median alone.
fn stack(p: &Point, ws: bool) -> Vec<(char, f64)> {
    match &p.model {
        Some(m) => {
            let b = if ws { &m.websocket } else { &m.http };
            FILLS.iter().copied().zip(b.stack()).collect()
        }
        None => {
            let m = if ws { &p.websocket } else { &p.http };
            vec![('█', m.e2e_us.median)]
        }
    }
}

/// A bar of `segments` on a scale where `max_us` fills `width` cells: each segment ends at its
/// rounded cumulative sum, so rounding never adds up to a longer or shorter bar.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn bar(segments: &[(char, f64)], max_us: f64, width: usize) -> String {
    let mut out = String::new();
    let (mut sum, mut drawn) = (0.0, 0usize);
    for (fill, us) in segments {
        sum += us.max(0.0);
        let end = if max_us > 0.0 {
            ((sum / max_us * width as f64).round() as usize).min(width)
        } else {
            0
        };
        out.extend(std::iter::repeat_n(*fill, end.saturating_sub(drawn)));
        drawn = drawn.max(end);
    }
    out
}

/// The line above a pair of bars: count, speed-up and what HTTP mode costs more per run.
fn heading(p: &Point) -> String {
    let speed = match &p.speedup {
        Some(s) => format!(
            "WebSocket {}{}",
            faster_or_slower(s.mean_pct),
            s.ci95_pct.map_or(String::new(), |(lo, hi)| format!(
                " (95% CI {lo:.1}…{hi:.1}%)"
            ))
        ),
        None => speedup_text(None),
    };
    let cost = p.cost.as_ref().map_or(String::new(), |c| {
        let d = c.http_minus_websocket_usd;
        let sign = if d < 0.0 { "−" } else { "+" };
        format!("; HTTP {sign}{}/run", fmt_usd(d.abs()))
    });
    format!("{} calls: {speed}{cost}", p.tool_calls)
}

/// What follows a bar: the median time, and the mode's cost per run when priced.
fn value(p: &Point, ws: bool) -> String {
    let (m, c) = if ws {
        (&p.websocket, p.cost.map(|c| c.websocket))
    } else {
        (&p.http, p.cost.map(|c| c.http))
    };
    match c {
        Some(c) => format!("{} {}", time(m.e2e_us.median), fmt_usd(c.usd.total_usd)),
        None => time(m.e2e_us.median),
    }
}

/// The legend: the fill of every segment that has time in some bar.
fn legend(report: &BenchReport) -> String {
    let mut used = [false; SEGMENTS];
    for p in &report.points {
        if let Some(m) = &p.model {
            for b in [&m.websocket, &m.http] {
                for (u, v) in used.iter_mut().zip(b.stack()) {
                    *u |= v > 0.0;
                }
            }
        }
    }
    let labels = TERMS.iter().copied().chain([OTHER]);
    FILLS
        .iter()
        .zip(labels)
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|((f, l), _)| format!("{f} {l}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Draws the chart view of `report` on the whole frame.
pub fn render(report: &BenchReport, frame: &mut Frame<'_>) {
    let stacked = report.points.iter().any(|p| p.model.is_some());
    // The chart first; then the legend and the key, which a short terminal still shows; the
    // cost note last.
    let mut foot: Vec<Line<'_>> = Vec::new();
    if stacked {
        foot.push(Line::from(legend(report)));
    }
    let hints: Vec<String> = keys()
        .rows(Chart, &[])
        .into_iter()
        .map(|r| format!("{}: {}", r.keys, r.help))
        .collect();
    foot.push(Line::from(hints.join(" · ")).style(Style::default().add_modifier(Modifier::DIM)));
    if let Some(pricing) = &report.pricing {
        foot.push(Line::from(format!(
            "cost per run at {} prices. {}",
            pricing.model, pricing.note
        )));
    }
    let area = frame.area();
    let rows = report.points.len() * 4 + 1;
    let chart_h = u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(4))
        .max(3);
    let [head, chart, foot_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(chart_h),
        Constraint::Min(0),
    ])
    .areas(area);
    let title = vec![
        Line::from(format!(
            "turnscope bench — scenario `{}`, median end-to-end time of {} paired runs",
            report.scenario, report.runs
        ))
        .style(Style::default().add_modifier(Modifier::BOLD)),
        Line::from(server_line(&report.server)),
    ];
    frame.render_widget(Paragraph::new(title), head);
    let block = Block::default().borders(Borders::ALL).title(if stacked {
        " where the time goes — ws = WebSocket (incremental), http = HTTP (full resend) "
    } else {
        " ws = WebSocket (incremental), http = HTTP (full resend) "
    });
    let inner = block.inner(chart);
    let value_w = report
        .points
        .iter()
        .flat_map(|p| [value(p, true), value(p, false)])
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    let width = usize::from(inner.width).saturating_sub(LABEL_W + value_w + 1);
    let max_us = report
        .points
        .iter()
        .flat_map(|p| [stack(p, true), stack(p, false)])
        .map(|s| s.iter().map(|(_, v)| v.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (i, p) in report.points.iter().enumerate() {
        if i > 0 {
            lines.push(Line::from(""));
        }
        lines.push(Line::from(heading(p)).style(Style::default().add_modifier(Modifier::BOLD)));
        for (ws, name) in [(true, "ws"), (false, "http")] {
            lines.push(Line::from(format!(
                "{name:>w$} {} {}",
                bar(&stack(p, ws), max_us, width),
                value(p, ws),
                w = LABEL_W - 1
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), chart);
    frame.render_widget(
        Paragraph::new(foot)
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::TOP)),
        foot_area,
    );
}

/// The chart as a screen: it only quits or redraws on resize.
pub struct BenchScreen<'a> {
    /// What it shows.
    pub report: &'a BenchReport,
}

/// The chart's one key scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chart;

/// The chart's key table: what it dispatches and what its footer names, so they cannot drift.
fn keys() -> KeyTable<Chart, BenchAction> {
    let quit = |code, mods| Binding {
        scope: Chart,
        code,
        mods,
        action: BenchAction::Quit,
        help: "quit",
    };
    KeyTable::new(vec![
        quit(KeyCode::Char('q'), KeyModifiers::NONE),
        quit(KeyCode::Esc, KeyModifiers::NONE),
        quit(KeyCode::Char('c'), KeyModifiers::CONTROL),
    ])
}

/// What a key or resize means to the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchAction {
    /// The terminal changed size.
    Resized,
    /// q, Esc or Ctrl-C.
    Quit,
}

impl Screen for BenchScreen<'_> {
    type Action = BenchAction;

    fn on_event(&self, event: Event) -> Option<BenchAction> {
        match event {
            Event::Key(k) if k.kind == KeyEventKind::Press => keys().lookup(Chart, &k),
            Event::Resize(..) => Some(BenchAction::Resized),
            _ => None,
        }
    }

    fn apply(&mut self, action: BenchAction) -> Step {
        match action {
            BenchAction::Resized => Step::Redraw,
            BenchAction::Quit => Step::Quit,
        }
    }

    fn render(&self, frame: &mut Frame<'_>) {
        render(self.report, frame);
    }
}

/// Shows the chart until q, Esc or Ctrl-C on the one loop; redraws only on resize.
pub async fn show(report: &BenchReport) -> io::Result<()> {
    // No source feeds the chart: the channel only keeps the loop's action arm open.
    let (_keep, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut screen = BenchScreen { report };
    run_on_terminal(&mut screen, &mut rx, &CancellationToken::new()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;

    fn report() -> BenchReport {
        crate::bench::test_report::report(true)
    }

    fn draw(width: u16, height: u16) -> TestBackend {
        let mut terminal = ratatui::Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| render(&report(), f)).unwrap();
        terminal.backend().clone()
    }

    #[test]
    fn chart_80x24() {
        insta::assert_snapshot!(draw(80, 24));
    }

    #[test]
    fn chart_narrow() {
        insta::assert_snapshot!(draw(44, 16));
    }

    /// Against a URL there is no model: one plain bar per mode.
    #[test]
    fn chart_without_a_model_80x24() {
        let mut terminal = ratatui::Terminal::new(TestBackend::new(80, 24)).unwrap();
        let r = crate::bench::test_report::report(false);
        terminal.draw(|f| render(&r, f)).unwrap();
        insta::assert_snapshot!(terminal.backend().clone());
    }

    #[test]
    fn bars_round_by_cumulative_sum() {
        // Three thirds of 10 cells: 3, 4 (6.67 → 7), 3 → exactly 10, never 9 or 11.
        let third = 1.0 / 3.0;
        let b = bar(&[('a', third), ('b', third), ('c', third)], 1.0, 10);
        assert_eq!(b, "aaabbbbccc");
        assert_eq!(bar(&[('a', 5.0)], 10.0, 10), "aaaaa");
        assert_eq!(bar(&[('a', 5.0)], 0.0, 10), "");
        // Longer than the scale: clipped to the width.
        assert_eq!(bar(&[('a', 20.0)], 10.0, 4), "aaaa");
    }

    /// Every key the footer names quits, and nothing else does.
    #[test]
    fn the_footer_keys_are_the_keys_that_quit() {
        use crossterm::event::KeyEvent;
        let table = keys();
        for b in table.bindings() {
            let key = KeyEvent::new(b.code, b.mods);
            assert_eq!(
                table.lookup(Chart, &key),
                Some(BenchAction::Quit),
                "{}",
                b.label()
            );
        }
        let rows = table.rows(Chart, &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].keys, "q Esc Ctrl-C");
        let other = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(table.lookup(Chart, &other), None);
    }

    /// `bench --tui` runs on the one loop and guard: a resize redraws, q quits. The keys come
    /// a draw gap apart on the paused test clock (as a person types; no real time passes): keys
    /// closer together than the gap are drawn once, and a quit before the gap ends draws nothing.
    #[tokio::test(start_paused = true)]
    async fn the_chart_redraws_on_resize_and_quits_on_q() {
        use crate::tui::run::run_screen;
        use crate::tui::terminal::TerminalGuard;
        use crossterm::event::KeyEvent;
        use futures_util::StreamExt;
        let guard = TerminalGuard::with_backend(TestBackend::new(80, 24)).unwrap();
        let report = report();
        let mut screen = BenchScreen { report: &report };
        let (_keep, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut input = Box::pin(
            futures_util::stream::iter(vec![
                Ok(Event::Resize(80, 24)),
                Ok(Event::Key(KeyEvent::new(
                    KeyCode::Char('x'),
                    KeyModifiers::NONE,
                ))),
                Ok(Event::Key(KeyEvent::new(
                    KeyCode::Char('q'),
                    KeyModifiers::NONE,
                ))),
            ])
            .then(|ev| async {
                tokio::time::sleep(crate::tui::run::MIN_DRAW_GAP).await;
                ev
            }),
        );
        let stats = run_screen(
            guard,
            &mut screen,
            &mut rx,
            &mut input,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!((stats.draws, stats.actions), (2, 2), "{stats:?}");
    }
}
