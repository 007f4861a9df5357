//! The latency model behind the speed-up, with no I/O: how a latency profile splits one run's
//! end-to-end time into round trips, upload, prefill of uncached tokens, time to first token
//! and output streaming — and what is left over (client and server CPU, scheduling).

use serde::Serialize;

use super::ProfileInfo;
use super::stats::ModeStats;

/// Where one run's time goes, per the profile, from the run's measured bytes and tokens (µs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// turns × rtt.
    pub rtt_us: f64,
    /// request bytes ÷ upload bandwidth.
    pub upload_us: f64,
    /// uncached input tokens × cost per uncached token.
    pub prefill_us: f64,
    /// turns × fixed time to first token.
    pub ttft_us: f64,
    /// output tokens ÷ output speed.
    pub output_us: f64,
    /// The sum of the above.
    pub modelled_us: f64,
    /// The measured median end-to-end time.
    pub measured_us: f64,
    /// measured − modelled: CPU work of client and server, timers, scheduling.
    pub other_us: f64,
}

/// The breakdown of the median run of `m` under profile `p`.
pub fn breakdown(p: &ProfileInfo, m: &ModeStats) -> Breakdown {
    let per_s = |amount: f64, rate: f64| if rate > 0.0 { amount / rate * 1e6 } else { 0.0 };
    let rtt_us = m.turns_per_run * p.rtt_ms * 1e3;
    let upload_us = per_s(m.bytes_sent, p.request_bytes_per_s);
    let uncached = (m.input_tokens - m.cached_tokens).max(0.0);
    let prefill_us = uncached * p.uncached_input_token_us;
    let ttft_us = m.turns_per_run * p.ttft_ms * 1e3;
    let output_us = per_s(m.output_tokens, p.output_tokens_per_s);
    let modelled_us = rtt_us + upload_us + prefill_us + ttft_us + output_us;
    Breakdown {
        rtt_us,
        upload_us,
        prefill_us,
        ttft_us,
        output_us,
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

    fn profile() -> ProfileInfo {
        ProfileInfo {
            name: "t".into(),
            rtt_ms: 80.0,
            request_bytes_per_s: 2_500_000.0,
            uncached_input_token_us: 20.0,
            ttft_ms: 400.0,
            output_tokens_per_s: 80.0,
        }
    }

    fn mode(bytes: f64, input: f64, cached: f64, e2e: f64) -> ModeStats {
        ModeStats {
            turns_per_run: 10.0,
            bytes_sent: bytes,
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: 400.0,
            e2e_us: Summary {
                median: e2e,
                ..Summary::default()
            },
            ..ModeStats::default()
        }
    }

    #[test]
    fn breakdown_worked_by_hand() {
        // 10 turns: rtt 0.8 s, TTFT 4 s; 400 output tokens at 80/s = 5 s.
        // WS: 50 kB at 2.5 MB/s = 20 ms; 10k uncached × 20 µs = 200 ms → 10.02 s.
        let ws = breakdown(&profile(), &mode(50_000.0, 100_000.0, 90_000.0, 10.5e6));
        assert_eq!(ws.rtt_us, 800_000.0);
        assert_eq!(ws.ttft_us, 4_000_000.0);
        assert_eq!(ws.output_us, 5_000_000.0);
        assert_eq!(ws.upload_us, 20_000.0);
        assert_eq!(ws.prefill_us, 200_000.0);
        assert_eq!(ws.modelled_us, 10_020_000.0);
        assert_eq!(ws.other_us, 480_000.0);
        // HTTP: 2.5 MB = 1 s upload, same uncached tokens → 11.0 s.
        let http = breakdown(&profile(), &mode(2_500_000.0, 100_000.0, 90_000.0, 11.5e6));
        assert_eq!(http.modelled_us, 11_000_000.0);
        // 1 − 10.02 / 11 = 8.909…%.
        let p = predicted_speedup_pct(&ws, &http);
        assert!((p - (1.0 - 10.02 / 11.0) * 100.0).abs() < 1e-9);
        assert!((p - 8.909).abs() < 1e-3);
    }

    #[test]
    fn zero_rates_cost_nothing() {
        let mut p = profile();
        p.request_bytes_per_s = 0.0;
        p.output_tokens_per_s = 0.0;
        let b = breakdown(&p, &mode(1e9, 0.0, 0.0, 0.0));
        assert_eq!((b.upload_us, b.output_us), (0.0, 0.0));
        assert_eq!(predicted_speedup_pct(&b, &Breakdown::default()), 0.0);
    }
}
