//! `bench --tui`: a ratatui chart of the result — end-to-end time per tool-call count, one bar
//! per mode — with the speed-up per count below. Rendering is pure; [`show`] runs it on the one loop.

use std::io;

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph};

use tokio_util::sync::CancellationToken;

use crate::bench::BenchReport;
use crate::bench::report::{server_line, speedup_text};
use crate::tui::run::{Screen, Step, run_on_terminal};

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn ms(us: f64) -> u64 {
    (us.max(0.0) / 1000.0).round() as u64
}

fn bar(label: &'static str, e2e_us: f64, style: Style) -> Bar<'static> {
    Bar::default()
        .value(ms(e2e_us))
        .label(Line::from(label))
        .text_value(format!("{:.1}s", e2e_us / 1e6))
        .style(style)
        .value_style(style.add_modifier(Modifier::REVERSED))
}

/// Draws the chart view of `report` on the whole frame.
pub fn render(report: &BenchReport, frame: &mut Frame<'_>) {
    let rows = u16::try_from(report.points.len()).unwrap_or(u16::MAX);
    let [head, chart, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(6),
        Constraint::Length(rows.saturating_add(3)),
    ])
    .areas(frame.area());
    let title = vec![
        Line::from(format!(
            "turnscope bench — scenario `{}`, median end-to-end time of {} paired runs",
            report.scenario, report.runs
        ))
        .style(Style::default().add_modifier(Modifier::BOLD)),
        Line::from(server_line(&report.server)),
    ];
    frame.render_widget(Paragraph::new(title), head);
    let ws_style = Style::default().add_modifier(Modifier::BOLD);
    let http_style = Style::default().add_modifier(Modifier::DIM);
    let mut chart_widget = BarChart::default()
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" ws = WebSocket (incremental), http = HTTP (full resend) "),
        )
        .bar_width(6)
        .bar_gap(1)
        .group_gap(4);
    for p in &report.points {
        let group = BarGroup::default()
            .label(Line::from(format!("{} calls", p.tool_calls)))
            .bars(&[
                bar("ws", p.websocket.e2e_us.median, ws_style),
                bar("http", p.http.e2e_us.median, http_style),
            ]);
        chart_widget = chart_widget.data(group);
    }
    frame.render_widget(chart_widget, chart);
    let mut lines: Vec<Line<'_>> = report
        .points
        .iter()
        .map(|p| {
            Line::from(match &p.speedup {
                Some(s) => format!(
                    "{:>4} calls: WebSocket {:.1}% faster{}",
                    p.tool_calls,
                    s.mean_pct,
                    s.ci95_pct.map_or(String::new(), |(lo, hi)| format!(
                        ", 95% CI {lo:.1}…{hi:.1}%"
                    ))
                ),
                None => format!("{:>4} calls: {}", p.tool_calls, speedup_text(None)),
            })
        })
        .collect();
    lines.push(Line::from("q / Esc: quit").style(Style::default().add_modifier(Modifier::DIM)));
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP)),
        foot,
    );
}

/// The chart as a screen: it only quits or redraws on resize.
pub struct BenchScreen<'a> {
    /// What it shows.
    pub report: &'a BenchReport,
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
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                (matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c)
                    .then_some(BenchAction::Quit)
            }
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
    use crate::bench::stats::{ModeStats, SpeedUp, Summary};
    use crate::bench::{BENCH_SCHEMA, PairedRuns, Point, Samples, ServerInfo};
    use ratatui::backend::TestBackend;

    fn mode(median_s: f64) -> ModeStats {
        ModeStats {
            runs: 5,
            e2e_us: Summary {
                n: 5,
                median: median_s * 1e6,
                min: median_s * 1e6,
                max: median_s * 1e6,
                mean: median_s * 1e6,
                sd: 0.0,
            },
            ..ModeStats::default()
        }
    }

    fn point(calls: usize, ws: f64, http: f64, pct: f64) -> Point {
        Point {
            tool_calls: calls,
            websocket: mode(ws),
            http: mode(http),
            speedup: Some(SpeedUp {
                pairs: 5,
                mean_pct: pct,
                ci95_pct: Some((pct - 1.0, pct + 1.0)),
                median_pct: pct,
                ratio: http / ws,
            }),
            e2e_us: PairedRuns::default(),
            model: None,
            samples: Samples::default(),
        }
    }

    fn report() -> BenchReport {
        BenchReport {
            schema: BENCH_SCHEMA,
            scenario: "coding-agent".into(),
            server: ServerInfo {
                kind: "url",
                url: Some("http://127.0.0.1:8787/v1".into()),
                latency: None,
            },
            runs: 5,
            parallel: 2,
            points: vec![point(5, 4.0, 4.2, 4.8), point(25, 20.0, 23.0, 13.0)],
            wall_us: 60_000_000,
        }
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

    /// `bench --tui` runs on the one loop and guard: a resize redraws, q quits.
    #[tokio::test]
    async fn the_chart_redraws_on_resize_and_quits_on_q() {
        use crate::tui::run::run_screen;
        use crate::tui::terminal::TerminalGuard;
        use crossterm::event::KeyEvent;
        let guard = TerminalGuard::with_backend(TestBackend::new(80, 24)).unwrap();
        let report = report();
        let mut screen = BenchScreen { report: &report };
        let (_keep, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut input = futures_util::stream::iter(vec![
            Ok(Event::Resize(80, 24)),
            Ok(Event::Key(KeyEvent::new(
                KeyCode::Char('x'),
                KeyModifiers::NONE,
            ))),
            Ok(Event::Key(KeyEvent::new(
                KeyCode::Char('q'),
                KeyModifiers::NONE,
            ))),
        ]);
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
