//! What a bench's runs cost, per mode and tool-call count, at one model's list price: the one
//! cost function (`ledger::cost::cost`) over each run's server-reported tokens, averaged over
//! the runs, and HTTP mode's bill minus WebSocket mode's.
//!
//! The price per token is the same in both modes; the bills differ only where the tokens do:
//! prompt-cache hits (`cached_tokens`, billed at the cached rate) and the tokens processed.

use serde::Serialize;

use super::stats::RunSample;
use super::{BenchReport, Point};
use crate::ledger::cost::{Billed, Cost, MODES_NOTE, Price, Prices, cost, fmt_usd};

/// One mode's bill per run, averaged over its runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ModeCost {
    /// USD per run, by part and in total.
    #[serde(flatten)]
    pub usd: Cost,
    /// Input tokens not served from the prompt cache, per run.
    pub uncached_input_tokens: f64,
    /// Input tokens served from the prompt cache, per run.
    pub cached_input_tokens: f64,
    /// Output tokens, per run.
    pub output_tokens: f64,
}

/// Both modes' bills at one tool-call count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PointCost {
    /// WebSocket mode.
    pub websocket: ModeCost,
    /// HTTP mode.
    pub http: ModeCost,
    /// HTTP mode's bill minus WebSocket mode's, USD per run (positive: WebSocket is cheaper).
    pub http_minus_websocket_usd: f64,
}

/// The price a bench's tokens are billed at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pricing {
    /// The model whose list price is used.
    pub model: String,
    /// Its price; `None` when the table has none (then every cost is n/a).
    pub price: Option<Price>,
    /// What differs between the modes' bills.
    pub note: &'static str,
}

/// The mean bill per run of `runs` at `price`.
#[allow(clippy::cast_precision_loss)]
pub fn mode_cost(price: &Price, runs: &[RunSample]) -> ModeCost {
    let mut out = ModeCost::default();
    if runs.is_empty() {
        return out;
    }
    for run in runs {
        let mut billed = Billed::default();
        for t in &run.turns {
            let cached = t.cached_tokens.min(t.input_tokens);
            billed.add(Billed {
                uncached_input: t.input_tokens - cached,
                cached_input: cached,
                output: t.output_tokens,
            });
        }
        out.usd.add(cost(price, billed));
        out.uncached_input_tokens += billed.uncached_input as f64;
        out.cached_input_tokens += billed.cached_input as f64;
        out.output_tokens += billed.output as f64;
    }
    let k = 1.0 / runs.len() as f64;
    for v in [
        &mut out.usd.uncached_input_usd,
        &mut out.usd.cached_input_usd,
        &mut out.usd.output_usd,
        &mut out.usd.total_usd,
        &mut out.uncached_input_tokens,
        &mut out.cached_input_tokens,
        &mut out.output_tokens,
    ] {
        *v *= k;
    }
    out
}

/// Both modes' bills of one point at `price`.
pub fn point_cost(price: &Price, p: &Point) -> PointCost {
    let websocket = mode_cost(price, &p.samples.websocket);
    let http = mode_cost(price, &p.samples.http);
    PointCost {
        websocket,
        http,
        http_minus_websocket_usd: http.usd.total_usd - websocket.usd.total_usd,
    }
}

/// Prices every point of `report` at `model`'s price in `prices` (n/a when it has none).
pub fn price(report: &mut BenchReport, prices: &Prices, model: &str) {
    let price = prices.get(model).cloned();
    for p in &mut report.points {
        p.cost = price.as_ref().map(|pr| point_cost(pr, p));
    }
    report.pricing = Some(Pricing {
        model: model.to_owned(),
        price,
        note: MODES_NOTE,
    });
}

/// The cost line of one point: both modes per run and the difference, or why there is none.
pub fn line(pricing: &Pricing, c: Option<&PointCost>) -> String {
    match c {
        Some(c) => {
            let d = c.http_minus_websocket_usd;
            let diff = if d >= 0.0 {
                format!("HTTP costs {} more", fmt_usd(d))
            } else {
                format!("HTTP costs {} less", fmt_usd(-d))
            };
            format!(
                "cost per run at {} prices: {} (ws) vs {} (http); {diff}",
                pricing.model,
                fmt_usd(c.websocket.usd.total_usd),
                fmt_usd(c.http.usd.total_usd),
            )
        }
        None => format!(
            "cost n/a: no price for {}; pass --price-as MODEL (a model in the price table) or add it under [prices] in config.toml",
            pricing.model
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::TurnSample;

    fn price() -> Price {
        Price {
            input: 1.0,
            cached_input: 0.1,
            output: 10.0,
            as_of: None,
            source: None,
        }
    }

    fn run(input: u64, cached: u64, output: u64) -> RunSample {
        let t = TurnSample {
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: output,
            ..TurnSample::default()
        };
        RunSample {
            turns: vec![t; 2],
            ..RunSample::default()
        }
    }

    #[test]
    fn a_runs_bill_worked_by_hand_and_averaged_over_runs() {
        // Two turns of 10,000 input (4,000 cached) and 100 output: 12,000 uncached × $1/M =
        // $0.012, 8,000 cached × $0.1/M = $0.0008, 200 output × $10/M = $0.002.
        let one = mode_cost(&price(), &[run(10_000, 4_000, 100)]);
        assert!((one.usd.uncached_input_usd - 0.012).abs() < 1e-12);
        assert!((one.usd.cached_input_usd - 0.000_8).abs() < 1e-12);
        assert!((one.usd.output_usd - 0.002).abs() < 1e-12);
        assert!((one.usd.total_usd - 0.014_8).abs() < 1e-12);
        assert_eq!(one.uncached_input_tokens, 12_000.0);
        // A second run with no cache hits: the mean of the two, not the sum.
        let two = mode_cost(&price(), &[run(10_000, 4_000, 100), run(10_000, 0, 100)]);
        assert!((two.usd.total_usd - (0.014_8 + 0.022) / 2.0).abs() < 1e-12);
        assert_eq!(two.cached_input_tokens, 4_000.0);
        assert_eq!(mode_cost(&price(), &[]), ModeCost::default());
    }

    #[test]
    fn the_line_names_the_price_and_the_difference() {
        let pricing = Pricing {
            model: "gpt-x".into(),
            price: Some(price()),
            note: MODES_NOTE,
        };
        let ws = mode_cost(&price(), &[run(10_000, 4_000, 100)]);
        let http = mode_cost(&price(), &[run(10_000, 0, 100)]);
        let c = PointCost {
            websocket: ws,
            http,
            http_minus_websocket_usd: http.usd.total_usd - ws.usd.total_usd,
        };
        assert_eq!(
            line(&pricing, Some(&c)),
            "cost per run at gpt-x prices: $0.0148 (ws) vs $0.0220 (http); HTTP costs $0.007200 more"
        );
        assert!(line(&pricing, None).starts_with("cost n/a: no price for gpt-x; pass --price-as"));
    }
}
