//! The latency model applied to a bench point, with no I/O: every turn of every run goes
//! through [`crate::latency::predict_turn`] with the ledger's bytes and tokens, and the sum
//! says where a run's end-to-end time goes — and what is left over (client and server CPU,
//! scheduling).

use serde::Serialize;

use super::Transport;
use super::stats::{ModeStats, RunSample, TurnSample};
use crate::latency::{LatencyProfile, TERMS, TurnLoad, TurnTime, predict_turn};

/// Where one run's time goes, per the profile, averaged over the mode's runs (µs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// Each term of the model, summed over a run's turns.
    #[serde(flatten)]
    pub terms: TurnTime,
    /// The sum of the terms.
    pub modelled_us: f64,
    /// The measured median end-to-end time.
    pub measured_us: f64,
    /// measured − modelled: CPU work of client and server, timers, scheduling.
    pub other_us: f64,
}

/// Label of the last segment of a stacked bar: what the model leaves over.
pub const OTHER: &str = "other (CPU, scheduling)";

/// Segments of a stacked bar: [`TERMS`], then [`OTHER`].
pub const SEGMENTS: usize = TERMS.len() + 1;

impl Breakdown {
    /// A stacked bar of this breakdown, µs: each term in [`TERMS`] order, then what the model
    /// leaves over ([`OTHER`]: measured − modelled, 0 when the model exceeds the measurement),
    /// so the bar is as tall as the measured median whenever the model does not overshoot it.
    pub fn stack(&self) -> [f64; SEGMENTS] {
        let mut out = [0.0; SEGMENTS];
        for (slot, v) in out.iter_mut().zip(self.terms.terms()) {
            *slot = v;
        }
        if let Some(last) = out.last_mut() {
            *last = self.other_us.max(0.0);
        }
        out
    }

    /// The height of [`Self::stack`]: the larger of the measured and the modelled time.
    pub fn stack_total_us(&self) -> f64 {
        self.stack().iter().sum()
    }

    /// Each term's share of the modelled time, % ([`TERMS`] order; zeros when nothing is
    /// modelled).
    pub fn shares_pct(&self) -> [f64; TERMS.len()] {
        let total = self.modelled_us;
        self.terms
            .terms()
            .map(|v| if total > 0.0 { v / total * 100.0 } else { 0.0 })
    }
}

#[allow(clippy::cast_precision_loss)]
fn load(t: &TurnSample) -> TurnLoad {
    TurnLoad {
        request_bytes: t.bytes_sent as f64,
        request_tokens: t.tokens_sent as f64,
        loaded_tokens: t.loaded_tokens as f64,
        uncached_tokens: t.input_tokens.saturating_sub(t.cached_tokens) as f64,
        output_tokens: t.output_tokens as f64,
        generates: t.generates,
    }
}

/// The breakdown of `mode`'s runs under profile `p`: each run's turns summed, the runs
/// averaged (the emulator's runs of one point carry the same workload), beside `m`'s
/// measured median.
#[allow(clippy::cast_precision_loss)]
pub fn breakdown(
    p: &LatencyProfile,
    mode: Transport,
    runs: &[RunSample],
    m: &ModeStats,
) -> Breakdown {
    let mut terms = TurnTime::default();
    for run in runs {
        for t in &run.turns {
            terms.add(&predict_turn(p, mode, &load(t)));
        }
    }
    if !runs.is_empty() {
        terms.scale(1.0 / runs.len() as f64);
    }
    let modelled_us = terms.total_us();
    Breakdown {
        terms,
        modelled_us,
        measured_us: m.e2e_us.median,
        other_us: m.e2e_us.median - modelled_us,
    }
}

/// The speed-up the profile alone predicts: (1 − modelled WS ÷ modelled HTTP) × 100.
pub fn predicted_speedup_pct(ws: &Breakdown, http: &Breakdown) -> f64 {
    if http.modelled_us > 0.0 {
        (1.0 - ws.modelled_us / http.modelled_us) * 100.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::Summary;

    fn profile() -> LatencyProfile {
        LatencyProfile {
            rtt_ms: 80.0,
            request_bytes_per_s: 2_500_000.0,
            uncached_input_token_us: 20.0,
            ttft_ms: 400.0,
            output_tokens_per_s: 80.0,
            request_overhead_http_ms: 10.0,
            request_validation_token_us: 1.0,
            state_load_token_us: 2.0,
            ..LatencyProfile::zero()
        }
    }

    /// Ten turns of `bytes`/10 each, 1,000 uncached and 40 output tokens per turn.
    fn run(bytes: u64, loaded: u64) -> RunSample {
        let turn = TurnSample {
            bytes_sent: bytes / 10,
            tokens_sent: bytes / 40,
            input_tokens: 10_000,
            cached_tokens: 9_000,
            output_tokens: 40,
            loaded_tokens: loaded,
            generates: true,
            ..TurnSample::default()
        };
        RunSample {
            turns: vec![turn; 10],
            ..RunSample::default()
        }
    }

    fn measured(e2e: f64) -> ModeStats {
        ModeStats {
            e2e_us: Summary {
                median: e2e,
                ..Summary::default()
            },
            ..ModeStats::default()
        }
    }

    /// The WebSocket run the tests read: 10 turns sending 50 kB in all, measured at `e2e_us`
    /// end to end; its terms are worked out by hand in [`breakdown_worked_by_hand`].
    fn ws_breakdown(e2e_us: f64) -> Breakdown {
        breakdown(
            &profile(),
            Transport::WebSocket,
            &[run(50_000, 0)],
            &measured(e2e_us),
        )
    }

    #[test]
    fn breakdown_worked_by_hand() {
        // 10 turns: rtt 0.8 s, TTFT 4 s; 400 output tokens at 80/s = 5 s; 10k uncached ×
        // 20 µs = 200 ms. WS: 50 kB at 2.5 MB/s = 20 ms; 10 × 1,250 tokens × 1 µs validation.
        let p = profile();
        let ws = ws_breakdown(10.5e6);
        assert_eq!(ws.terms.rtt_us, 800_000.0);
        assert_eq!(ws.terms.ttft_us, 4_000_000.0);
        assert_eq!(ws.terms.output_us, 5_000_000.0);
        assert_eq!(ws.terms.upload_us, 20_000.0);
        assert_eq!(ws.terms.prefill_us, 200_000.0);
        assert_eq!(ws.terms.validation_us, 12_500.0);
        assert_eq!(ws.terms.overhead_us, 0.0);
        assert_eq!(ws.modelled_us, 10_032_500.0);
        assert_eq!(ws.other_us, 10.5e6 - 10_032_500.0);
        // HTTP: 2.5 MB = 1 s upload, 625,000 tokens validated = 625 ms, 10 × 10 ms overhead,
        // 10 × 500 loaded tokens × 2 µs = 10 ms → 11.735 s.
        let http = breakdown(
            &p,
            Transport::Http,
            &[run(2_500_000, 500)],
            &measured(11.5e6),
        );
        assert_eq!(http.terms.overhead_us, 100_000.0);
        assert_eq!(http.terms.state_load_us, 10_000.0);
        assert_eq!(http.terms.validation_us, 625_000.0);
        assert_eq!(http.modelled_us, 11_735_000.0);
        let pct = predicted_speedup_pct(&ws, &http);
        assert!((pct - (1.0 - 10_032_500.0 / 11_735_000.0) * 100.0).abs() < 1e-9);
        let shares = http.shares_pct();
        assert!((shares.iter().sum::<f64>() - 100.0).abs() < 1e-9);
        // Two runs average, not add.
        let two = breakdown(
            &p,
            Transport::Http,
            &[run(2_500_000, 500), run(2_500_000, 500)],
            &measured(0.0),
        );
        assert_eq!(two.modelled_us, http.modelled_us);
    }

    #[test]
    fn a_stack_is_the_terms_then_the_rest_of_the_measured_time() {
        let ws = ws_breakdown(10.5e6);
        let s = ws.stack();
        assert_eq!(s[..TERMS.len()], ws.terms.terms());
        assert_eq!(s[TERMS.len()], 10.5e6 - 10_032_500.0);
        assert_eq!(ws.stack_total_us(), 10.5e6);
        // The model overshoots the measurement: no negative segment, the bar is the model.
        let over = ws_breakdown(1e6);
        assert_eq!(over.stack()[TERMS.len()], 0.0);
        assert_eq!(over.stack_total_us(), over.modelled_us);
    }

    #[test]
    fn zero_rates_cost_nothing() {
        let mut p = profile();
        p.request_bytes_per_s = 0.0;
        p.output_tokens_per_s = 0.0;
        let b = breakdown(
            &p,
            Transport::Http,
            &[run(1_000_000_000, 0)],
            &measured(0.0),
        );
        assert_eq!((b.terms.upload_us, b.terms.output_us), (0.0, 0.0));
        assert_eq!(predicted_speedup_pct(&b, &Breakdown::default()), 0.0);
        assert_eq!(Breakdown::default().shares_pct(), [0.0; TERMS.len()]);
        assert_eq!(
            breakdown(&p, Transport::Http, &[], &measured(0.0)).modelled_us,
            0.0
        );
    }
}
