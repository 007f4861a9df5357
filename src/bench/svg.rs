//! `bench --svg FILE`: a hand-written SVG bar chart of end-to-end time per tool-call count,
//! one bar per mode (median) with a min–max whisker, and the speed-up above each group.

use std::fmt::Write as _;

use super::BenchReport;
use super::report::server_line;

const PLOT_H: f64 = 260.0;
const TOP: f64 = 70.0;
const LEFT: f64 = 70.0;
const GROUP_W: f64 = 130.0;
const BAR_W: f64 = 40.0;
const WS_FILL: &str = "#2b7bb9";
const HTTP_FILL: &str = "#e07b39";

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
    #[allow(clippy::cast_precision_loss)]
    // Wide enough for the subtitle (the profile line) even with one group.
    let width = (LEFT + GROUP_W * groups as f64 + 40.0).max(900.0);
    let height = TOP + PLOT_H + 60.0;
    let max_s = r
        .points
        .iter()
        .flat_map(|p| [p.websocket.e2e_us.max, p.http.e2e_us.max])
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
        r##"<text x="{LEFT}" y="40" fill="#555">{} — median of {} runs, whiskers min–max</text>"##,
        esc(&server_line(&r.server)),
        r.runs
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
        for (k, (m, fill)) in [(&p.websocket, WS_FILL), (&p.http, HTTP_FILL)]
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
            let top = y(med);
            let cx = x + BAR_W / 2.0;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{top:.1}" width="{BAR_W}" height="{:.1}" fill="{fill}"><title>{:.2} s median</title></rect>"#,
                (TOP + PLOT_H - top).max(0.0),
                med
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
        let _ = writeln!(
            s,
            r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            y(p.websocket.e2e_us.max.max(p.http.e2e_us.max) / 1e6) - 8.0,
            esc(&label)
        );
        let _ = writeln!(
            s,
            r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle">{} calls</text>"#,
            TOP + PLOT_H + 18.0,
            p.tool_calls
        );
    }
    let ly = TOP + PLOT_H + 42.0;
    let _ = writeln!(
        s,
        r#"<rect x="{LEFT}" y="{:.1}" width="12" height="12" fill="{WS_FILL}"/><text x="{}" y="{ly:.1}">WebSocket (incremental + previous_response_id)</text>"#,
        ly - 10.0,
        LEFT + 16.0
    );
    let _ = writeln!(
        s,
        r#"<rect x="{}" y="{:.1}" width="12" height="12" fill="{HTTP_FILL}"/><text x="{}" y="{ly:.1}">HTTP (full input resent); label: WebSocket speed-up</text>"#,
        LEFT + 300.0,
        ly - 10.0,
        LEFT + 316.0
    );
    s.push_str("</svg>\n");
    s
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

    #[test]
    fn esc_escapes_markup() {
        assert_eq!(esc(r#"a<b & "c">"#), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
