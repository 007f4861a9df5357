//! A hand-made two-count bench report for the chart and table tests (SVG and TUI snapshots):
//! medians, speed-ups, where the time goes and costs chosen to read easily, not measured.

use super::cost::{ModeCost, PointCost, Pricing};
use super::model::Breakdown;
use super::stats::{ModeStats, SpeedUp, Summary};
use super::{BENCH_SCHEMA, BenchReport, ModelView, PairedRuns, Point, Samples, ServerInfo};
use crate::latency::{LatencyProfile, TurnTime};
use crate::ledger::cost::{Cost, MODES_NOTE};

fn mode(median_s: f64) -> ModeStats {
    ModeStats {
        runs: 5,
        e2e_us: Summary {
            n: 5,
            median: median_s * 1e6,
            min: median_s * 0.97e6,
            max: median_s * 1.03e6,
            mean: median_s * 1e6,
            sd: 0.0,
        },
        ..ModeStats::default()
    }
}

/// A breakdown of `turns` turns: 80 ms round trip, 400 ms TTFT and 0.5 s of output each,
/// `upload_s` and `overhead_s` in all, measured `measured_s`.
fn breakdown(turns: f64, upload_s: f64, overhead_s: f64, measured_s: f64) -> Breakdown {
    let terms = TurnTime {
        rtt_us: turns * 80e3,
        upload_us: upload_s * 1e6,
        overhead_us: overhead_s * 1e6,
        validation_us: overhead_s * 0.5e6,
        ttft_us: turns * 400e3,
        prefill_us: turns * 20e3,
        output_us: turns * 500e3,
        ..TurnTime::default()
    };
    let modelled_us = terms.total_us();
    Breakdown {
        terms,
        modelled_us,
        measured_us: measured_s * 1e6,
        other_us: measured_s * 1e6 - modelled_us,
    }
}

fn cost(ws: f64, http: f64) -> PointCost {
    let c = |usd: f64| ModeCost {
        usd: Cost {
            total_usd: usd,
            ..Cost::default()
        },
        ..ModeCost::default()
    };
    PointCost {
        websocket: c(ws),
        http: c(http),
        http_minus_websocket_usd: http - ws,
    }
}

fn point(calls: usize, ws: f64, http: f64, pct: f64, stacked: bool) -> Point {
    #[allow(clippy::cast_precision_loss)]
    let turns = calls as f64 + 1.0;
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
        model: stacked.then(|| ModelView {
            websocket: breakdown(turns, 0.01 * turns, 0.0, ws),
            http: breakdown(turns, 0.01 * turns * turns, 0.03 * turns, http),
            predicted_speedup_pct: pct,
        }),
        cost: Some(cost(0.002 * turns, 0.0025 * turns)),
        samples: Samples::default(),
    }
}

/// Two counts (5 and 25 calls); `stacked`: against the emulator, with where the time goes.
pub fn report(stacked: bool) -> BenchReport {
    BenchReport {
        schema: BENCH_SCHEMA,
        scenario: "coding-agent".into(),
        server: if stacked {
            ServerInfo {
                kind: "emulator",
                url: None,
                latency: LatencyProfile::named("realistic"),
            }
        } else {
            ServerInfo {
                kind: "url",
                url: Some("http://127.0.0.1:8787/v1".into()),
                latency: None,
            }
        },
        runs: 5,
        parallel: 2,
        points: vec![
            point(5, 6.1, 6.9, 11.6, stacked),
            point(25, 26.5, 35.0, 24.3, stacked),
        ],
        wall_us: 60_000_000,
        pricing: Some(Pricing {
            model: "gpt-5.1".into(),
            price: None,
            note: MODES_NOTE,
        }),
    }
}
