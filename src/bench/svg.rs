//! `bench --svg FILE`: a hand-written SVG bar chart of end-to-end time per tool-call count,
//! one bar per mode (median) with a min–max whisker, and the speed-up above each group. Against
//! the emulator each bar is stacked by where the time goes: every latency-model term, then the
//! rest of the measured time (CPU, scheduling).

use std::fmt::Write as _;

use super::BenchReport;
use super::model::{OTHER, SEGMENTS};
use super::report::server_line;
use crate::latency::TERMS;

const PLOT_H: f64 = 260.0;
const TOP: f64 = 70.0;
const LEFT: f64 = 70.0;
const GROUP_W: f64 = 130.0;
const BAR_W: f64 = 40.0;
const WS_FILL: &str = "#2b7bb9";
const HTTP_FILL: &str = "#e07b39";
/// One colour per stacked segment ([`TERMS`], then [`OTHER`] in grey): the Tableau 10 palette,
/// told apart by most kinds of colour blindness.
const SEGMENT_FILLS: [&str; SEGMENTS] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#bab0ac",
];
/// Legend entries per row.
const LEGEND_PER_ROW: usize = 5;

/// The label of stacked segment `k`.
fn segment_label(k: usize) -> &'static str {
    TERMS.get(k).copied().unwrap_or(OTHER)
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round axis maximum ≥ `v` and at most a third above it, whose fifths are round too
/// (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k seconds). Only 1, 2 and 5 ran a 21 s chart to 50 s.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|m| *m >= v * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

/// A tick label: `5 s`, `0.3 s`, `1.25 s` (no float noise such as `0.30000000000000004`).
fn tick_label(v: f64) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

/// The chart.
pub fn svg(r: &BenchReport) -> String {
    let groups = r.points.len().max(1);
    let subtitle = format!(
        "{} — median of {} runs, whiskers min–max",
        server_line(&r.server),
        r.runs
    );
    // Wide enough for the subtitle (the profile line, ~6.3 px a character at 12 px sans-serif)
    // even with one group.
    #[allow(clippy::cast_precision_loss)]
    let width = (LEFT + GROUP_W * groups as f64 + 40.0)
        .max(900.0)
        .max((LEFT + subtitle.chars().count() as f64 * 6.3 + 20.0).round());
    let stacked = r.points.iter().any(|p| p.model.is_some());
    let legend_rows = if stacked {
        SEGMENTS.div_ceil(LEGEND_PER_ROW) + 2
    } else {
        1
    };
    #[allow(clippy::cast_precision_loss)]
    let height = TOP + PLOT_H + 60.0 + 18.0 * legend_rows as f64;
    // A stack taller than the slowest run (the model overshooting it) still fits.
    let max_s = r
        .points
        .iter()
        .flat_map(|p| {
            let stacks = p.model.as_ref().map_or([0.0, 0.0], |m| {
                [m.websocket.stack_total_us(), m.http.stack_total_us()]
            });
            [
                p.websocket.e2e_us.max,
                p.http.e2e_us.max,
                stacks[0],
                stacks[1],
            ]
        })
        .fold(0.0, f64::max)
        / 1e6;
    let axis = nice_max(max_s);
    let y = |secs: f64| TOP + PLOT_H - secs / axis * PLOT_H;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">End-to-end time per agent run: WebSocket vs HTTP ({})</text>"#,
        esc(&r.scenario)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" fill="#555">{}</text>"##,
        esc(&subtitle)
    );
    // Axis with 5 ticks.
    for i in 0..=5 {
        let v = axis * f64::from(i) / 5.0;
        let ty = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - 30.0,
            LEFT - 6.0,
            ty + 4.0,
            tick_label(v)
        );
    }
    for (g, p) in r.points.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = LEFT + 20.0 + GROUP_W * g as f64;
        let stacks = p
            .model
            .as_ref()
            .map(|m| [m.websocket.stack(), m.http.stack()]);
        for (k, (m, fill, name)) in [(&p.websocket, WS_FILL, "ws"), (&p.http, HTTP_FILL, "http")]
            .into_iter()
            .enumerate()
        {
            #[allow(clippy::cast_precision_loss)]
            let x = x0 + k as f64 * (BAR_W + 6.0);
            let (med, lo, hi) = (
                m.e2e_us.median / 1e6,
                m.e2e_us.min / 1e6,
                m.e2e_us.max / 1e6,
            );
            let cx = x + BAR_W / 2.0;
            match stacks.as_ref().and_then(|st| st.get(k)) {
                Some(stack) => {
                    // Bottom up in timeline order; zero terms draw nothing.
                    let mut below = 0.0;
                    for (j, us) in stack.iter().enumerate().filter(|(_, v)| **v > 0.0) {
                        let secs = us / 1e6;
                        let (y_top, y_bottom) = (y(below + secs), y(below));
                        let _ = writeln!(
                            s,
                            r#"<rect x="{x:.1}" y="{y_top:.1}" width="{BAR_W}" height="{:.1}" fill="{}"><title>{name}: {} {:.3} s</title></rect>"#,
                            (y_bottom - y_top).max(0.0),
                            SEGMENT_FILLS.get(j).copied().unwrap_or(WS_FILL),
                            esc(segment_label(j)),
                            secs
                        );
                        below += secs;
                    }
                }
                None => {
                    let top = y(med);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x:.1}" y="{top:.1}" width="{BAR_W}" height="{:.1}" fill="{fill}"><title>{:.2} s median</title></rect>"#,
                        (TOP + PLOT_H - top).max(0.0),
                        med
                    );
                }
            }
            let _ = writeln!(
                s,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{name}</text>"#,
                TOP + PLOT_H + 12.0
            );
            let _ = writeln!(
                s,
                r#"<line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/>"#,
                y(lo),
                y(hi)
            );
        }
        let label = p
            .speedup
            .as_ref()
            .map_or_else(|| "–".to_owned(), |sp| format!("{:+.1}%", sp.mean_pct));
        let mid = x0 + BAR_W + 3.0;
        let _ =
            writeln!(
                s,
                r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
                y(p.websocket.e2e_us.max.max(p.http.e2e_us.max).max(
                    stacks.map_or(0.0, |[w, h]| w
                        .iter()
                        .sum::<f64>()
                        .max(h.iter().sum::<f64>()))
                ) / 1e6)
                    - 8.0,
                esc(&label)
            );
        let _ = writeln!(
            s,
            r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle">{} calls</text>"#,
            TOP + PLOT_H + 28.0,
            p.tool_calls
        );
    }
    let ly = TOP + PLOT_H + 52.0;
    if stacked {
        legend_stacked(&mut s, ly);
    } else {
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{:.1}" width="12" height="12" fill="{WS_FILL}"/><text x="{}" y="{ly:.1}">WebSocket (incremental + previous_response_id)</text>"#,
            ly - 10.0,
            LEFT + 16.0
        );
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{:.1}" width="12" height="12" fill="{HTTP_FILL}"/><text x="{}" y="{ly:.1}">HTTP (full input resent); label: WebSocket speed-up</text>"#,
            LEFT + 330.0,
            ly - 10.0,
            LEFT + 346.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The legend of a stacked chart: the bar names, then one swatch per segment.
fn legend_stacked(s: &mut String, ly: f64) {
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{ly:.1}">ws = WebSocket (incremental + previous_response_id), http = HTTP (full input resent); label: WebSocket speed-up</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555">Bars stacked by where the time goes: the latency profile's terms, bottom up; grey: the rest (CPU, scheduling)</text>"##,
        ly + 18.0
    );
    for j in 0..SEGMENTS {
        #[allow(clippy::cast_precision_loss)]
        let (col, row) = (
            (j % LEGEND_PER_ROW) as f64,
            (j / LEGEND_PER_ROW) as f64 + 2.0,
        );
        let (x, yy) = (LEFT + col * 170.0, ly + row * 18.0);
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{yy:.1}">{}</text>"#,
            yy - 10.0,
            SEGMENT_FILLS.get(j).copied().unwrap_or(WS_FILL),
            x + 16.0,
            esc(segment_label(j))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_max_fits_the_data() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(0.7), 0.8);
        assert_eq!(nice_max(1.3), 1.5);
        assert_eq!(nice_max(21.0), 25.0, "21 s bars on a 25 s axis, not 50 s");
        assert_eq!(nice_max(23.0), 25.0);
        assert_eq!(nice_max(50.0), 50.0);
        assert_eq!(nice_max(51.0), 60.0);
        for v in [0.011, 0.9, 1.01, 3.3, 7.7, 21.0, 99.0, 4321.0] {
            let axis = nice_max(v);
            assert!(axis >= v && axis <= v * 1.5, "{v} -> {axis}");
        }
        assert_eq!(tick_label(25.0 * 3.0 / 5.0), "15 s");
        assert_eq!(tick_label(1.5 * 1.0 / 5.0), "0.3 s");
    }

    /// The chart as a user opens it: stacked by where the time goes against the emulator,
    /// plain median bars against a URL. Review the `.snap` (or render it with rsvg-convert).
    #[test]
    fn stacked_chart_svg() {
        let r = crate::bench::test_report::report(true);
        let text = svg(&r);
        // Every term with time in it has a segment; a zero term (state load) draws nothing.
        for label in ["round trip", "upload", "request overhead", "output", OTHER] {
            assert!(
                text.contains(&format!("ws: {label} "))
                    || text.contains(&format!("http: {label} ")),
                "{label}"
            );
        }
        assert!(
            !text.contains(": state load "),
            "zero terms draw no segment"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn plain_chart_svg_without_a_model() {
        let text = svg(&crate::bench::test_report::report(false));
        assert!(!text.contains("stacked"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn esc_escapes_markup() {
        assert_eq!(esc(r#"a<b & "c">"#), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
