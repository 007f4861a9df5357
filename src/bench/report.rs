//! The bench's terminal table: one row per mode and tool-call count, then the speed-up line.

use std::fmt::Write as _;

use super::cost::{self, Pricing};
use super::stats::{ModeStats, SpeedUp};
use super::{BenchReport, ModelView, Point, ServerInfo};
use crate::latency::TERMS;
use crate::report::{PROMPT_CACHE, fmt_bytes, fmt_tokens, fmt_us};

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn us(v: f64) -> String {
    fmt_us(v.max(0.0).round() as u64)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn bytes(v: f64) -> String {
    fmt_bytes(v.max(0.0).round() as u64)
}

/// Token medians in the reports' one token format (`12,345`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn tokens(v: f64) -> String {
    fmt_tokens(v.max(0.0).round() as u64)
}

fn signed_us(v: f64) -> String {
    if v < 0.0 {
        format!("-{}", us(-v))
    } else {
        format!("+{}", us(v))
    }
}

/// A count with k/M suffix: `950`, `12.3k`, `4.56M`.
pub fn fmt_count(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e4 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

/// A profile parameter to four significant digits, without trailing zeros: a fitted profile's
/// `39.23316213882264` reads `39.23`, a hand-written `2` stays `2`.
fn param(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    #[allow(clippy::cast_possible_truncation)]
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// One line naming the server and its latency profile.
pub fn server_line(server: &ServerInfo) -> String {
    match (&server.latency, &server.url) {
        (Some(p), _) => {
            let mut line = format!(
                "emulator, latency profile `{}` (rtt {} ms, upload {} Mbit/s, {} µs per uncached input token, TTFT {} ms, {} output tok/s",
                p.name,
                param(p.rtt_ms),
                param(p.request_bytes_per_s * 8.0 / 1e6),
                param(p.uncached_input_token_us),
                param(p.ttft_ms),
                param(p.output_tokens_per_s)
            );
            // The server-cost terms only when set: the built-in profiles leave them at 0.
            for (v, label) in [
                (p.request_overhead_websocket_ms, "ms per WebSocket request"),
                (p.request_overhead_http_ms, "ms per HTTP request"),
                (p.request_validation_token_us, "µs per request token"),
                (p.state_load_token_us, "µs per loaded state token"),
                (p.jitter_ms, "ms jitter"),
            ] {
                if v > 0.0 {
                    let _ = write!(line, ", {} {label}", param(v));
                }
            }
            line.push(')');
            line
        }
        (None, Some(url)) => url.clone(),
        (None, None) => server.kind.to_owned(),
    }
}

fn mode_row(out: &mut String, calls: usize, mode: &str, m: &ModeStats) {
    let e = &m.e2e_us;
    let _ = writeln!(
        out,
        "{calls:>5}  {mode:<9}  {:>8} [{} … {}]  {:>8} {:>8}  {:>8} {:>8}  {:>8} {:>9}  {:>10} {:>12}",
        us(e.median),
        us(e.min),
        us(e.max),
        us(m.turn_p50_us),
        us(m.turn_p95_us),
        us(m.ttft_p50_us),
        us(m.ttft_p95_us),
        bytes(m.bytes_sent),
        bytes(m.bytes_sent_after_first),
        tokens(m.input_tokens),
        tokens(m.cached_tokens),
    );
}

/// "12.3% faster" or "1.6% slower": a negative speed-up reads as what it is.
pub fn faster_or_slower(pct: f64) -> String {
    if pct < 0.0 {
        format!("{:.1}% slower", -pct)
    } else {
        format!("{pct:.1}% faster")
    }
}

/// The speed-up sentence of one point.
pub fn speedup_text(s: Option<&SpeedUp>) -> String {
    match s {
        None => "no complete pair of runs".into(),
        Some(s) => {
            let ci = match s.ci95_pct {
                Some((lo, hi)) => {
                    format!("95% CI {lo:.1}% … {hi:.1}%, paired t, {} pairs", s.pairs)
                }
                None => "one pair: no interval".into(),
            };
            format!(
                "WebSocket {} ({ci}); HTTP/WS time {:.2}×",
                faster_or_slower(s.mean_pct),
                s.ratio
            )
        }
    }
}

/// Short column heads for [`TERMS`], same order.
const TERM_HEADS: [&str; TERMS.len()] = [
    "rtt", "upload", "overhead", "validate", "load", "TTFT", "prefill", "output",
];

/// The "where the time goes" table of one point: every term of the model per mode (summed
/// over a run's turns), then each term's share of the modelled time.
fn where_time_goes(out: &mut String, m: &ModelView) {
    let mut head = String::from("         model");
    for h in TERM_HEADS {
        let _ = write!(head, " {h:>8}");
    }
    let _ = writeln!(out, "{head}   modelled  measured (other)");
    for (name, b) in [("ws", &m.websocket), ("http", &m.http)] {
        let mut row = format!("         {name:<5}");
        for v in b.terms.terms() {
            let _ = write!(row, " {:>8}", us(v));
        }
        let _ = writeln!(
            out,
            "{row} = {:>8}  {:>8} ({})",
            us(b.modelled_us),
            us(b.measured_us),
            signed_us(b.other_us)
        );
        let mut share = String::from("              ");
        for v in b.shares_pct() {
            let _ = write!(share, " {:>7.0}%", v);
        }
        let _ = writeln!(out, "{share}");
    }
}

fn point_rows(out: &mut String, p: &Point, pricing: Option<&Pricing>) {
    mode_row(out, p.tool_calls, "websocket", &p.websocket);
    mode_row(out, p.tool_calls, "http", &p.http);
    let saved = if p.http.bytes_sent > 0.0 {
        (1.0 - p.websocket.bytes_sent / p.http.bytes_sent) * 100.0
    } else {
        0.0
    };
    let uncached = |m: &ModeStats| (m.input_tokens - m.cached_tokens).max(0.0);
    let _ = writeln!(
        out,
        "       └ {}; {saved:.0}% fewer bytes sent; input tokens outside the {PROMPT_CACHE} {} (ws) vs {} (http)",
        speedup_text(p.speedup.as_ref()),
        tokens(uncached(&p.websocket)),
        tokens(uncached(&p.http)),
    );
    if let Some(pricing) = pricing {
        let _ = writeln!(out, "         {}", cost::line(pricing, p.cost.as_ref()));
    }
    if let Some(m) = &p.model {
        where_time_goes(out, m);
        let _ = writeln!(
            out,
            "         the profile alone predicts {}; the rest is CPU and scheduling",
            faster_or_slower(m.predicted_speedup_pct)
        );
    }
    let errors = p.websocket.errors + p.http.errors;
    if errors > 0 {
        let _ = writeln!(out, "       ! {errors} turns did not complete");
    }
}

/// The whole table.
pub fn table(r: &BenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "turnscope bench: scenario `{}`, {} paired runs ({} at once), on {}",
        r.scenario,
        r.runs,
        r.parallel,
        server_line(&r.server)
    );
    let _ = writeln!(
        out,
        "calls  mode       end-to-end median [min … max]    turn p50      p95  TTFT p50      p95  sent/run after 1st   input tok {PROMPT_CACHE}"
    );
    for p in &r.points {
        point_rows(&mut out, p, r.pricing.as_ref());
    }
    let _ = writeln!(
        out,
        "(sent = request payload bytes per run; tokens are server-reported per run; wall time {})",
        fmt_us(r.wall_us)
    );
    if let Some(pricing) = &r.pricing {
        let _ = writeln!(out, "(cost: {})", pricing.note);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_parameters_print_four_significant_digits() {
        let cases = [
            (39.233_162_138_822_64, "39.23"),
            (1.625_033_718_040_361_8, "1.625"),
            (253.276_495, "253.3"),
            (203_129.4, "203129"),
            (2.0, "2"),
            (0.5, "0.5"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(param(v), want, "{v}");
        }
    }

    #[test]
    fn speedup_text_names_interval_and_method() {
        let s = SpeedUp {
            pairs: 5,
            mean_pct: 12.34,
            ci95_pct: Some((10.0, 14.5)),
            median_pct: 12.0,
            ratio: 1.14,
        };
        assert_eq!(
            speedup_text(Some(&s)),
            "WebSocket 12.3% faster (95% CI 10.0% … 14.5%, paired t, 5 pairs); HTTP/WS time 1.14×"
        );
        assert_eq!(speedup_text(None), "no complete pair of runs");
        let slower = SpeedUp {
            mean_pct: -1.62,
            ci95_pct: Some((-3.9, 0.7)),
            ratio: 0.98,
            ..s
        };
        assert_eq!(
            speedup_text(Some(&slower)),
            "WebSocket 1.6% slower (95% CI -3.9% … 0.7%, paired t, 5 pairs); HTTP/WS time 0.98×"
        );
        assert_eq!(fmt_count(950.0), "950");
        assert_eq!(fmt_count(12_345.0), "12.3k");
        assert_eq!(fmt_count(4_560_000.0), "4.56M");
    }

    #[test]
    fn where_the_time_goes_shows_every_term_and_its_share_per_mode() {
        use crate::bench::model::Breakdown;
        use crate::latency::TurnTime;
        let b = |overhead_us: f64| Breakdown {
            terms: TurnTime {
                rtt_us: 50_000.0,
                overhead_us,
                output_us: 50_000.0,
                ..TurnTime::default()
            },
            modelled_us: 100_000.0 + overhead_us,
            measured_us: 250_000.0,
            other_us: 150_000.0 - overhead_us,
        };
        let m = ModelView {
            websocket: b(0.0),
            http: b(100_000.0),
            predicted_speedup_pct: 50.0,
        };
        let mut out = String::new();
        where_time_goes(&mut out, &m);
        let lines: Vec<&str> = out.lines().collect();
        for h in TERM_HEADS {
            assert!(lines[0].contains(h), "{h} missing: {}", lines[0]);
        }
        assert!(lines[1].trim_start().starts_with("ws"), "{out}");
        assert!(
            lines[1].contains(" 100.0ms ") && lines[1].contains("(+150.0ms)"),
            "{out}"
        );
        // WS: rtt and output 50% each; HTTP: rtt 25%, overhead 50%, output 25%.
        let shares = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            shares(lines[2]),
            ["50%", "0%", "0%", "0%", "0%", "0%", "0%", "50%"]
        );
        assert_eq!(
            shares(lines[4]),
            ["25%", "0%", "50%", "0%", "0%", "0%", "0%", "25%"]
        );
    }
}
