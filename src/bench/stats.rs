//! The bench's arithmetic, with no I/O and no clock: medians, percentiles, per-mode summaries,
//! byte and token sums, and the paired WebSocket speed-up with its 95% confidence interval.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// What one turn of one run measured (all times in µs from the client's clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TurnSample {
    /// Send → terminal event.
    pub latency_us: u64,
    /// Send → first output delta; `None` when the turn produced no output delta.
    pub ttft_us: Option<u64>,
    /// Request payload bytes as sent (the WebSocket text frame / the HTTP body).
    pub bytes_sent: u64,
    /// o200k tokens of the request's input items plus envelope (the ledger's count).
    pub tokens_sent: u64,
    /// Server-reported `usage.input_tokens`.
    pub input_tokens: u64,
    /// Server-reported `usage.input_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
    /// Server-reported `usage.output_tokens`.
    pub output_tokens: u64,
    /// Chained tokens the server loaded because the connection did not hold them
    /// ([`crate::latency::TurnLoad::from_turn`]).
    pub loaded_tokens: u64,
    /// False for a `generate: false` warm-up.
    pub generates: bool,
}

/// One run of one mode: its end-to-end time and its turns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSample {
    /// Repetition index (pairs a WebSocket run with the HTTP run of the same index).
    pub run: usize,
    /// First byte out (connect / first request) → last terminal event.
    pub e2e_us: u64,
    /// The turns, in order.
    pub turns: Vec<TurnSample>,
    /// Function calls the model made.
    pub tool_calls: usize,
    /// Turns that did not complete (error, failed, dropped).
    pub errors: usize,
}

impl RunSample {
    /// Request bytes of the whole run.
    pub fn bytes_sent(&self) -> u64 {
        self.turns.iter().map(|t| t.bytes_sent).sum()
    }

    /// Request bytes of every turn after the first (where the two modes differ).
    pub fn bytes_sent_after_first(&self) -> u64 {
        self.turns.iter().skip(1).map(|t| t.bytes_sent).sum()
    }

    /// Tokens of every request, summed.
    pub fn tokens_sent(&self) -> u64 {
        self.turns.iter().map(|t| t.tokens_sent).sum()
    }

    /// Server-reported input tokens, summed.
    pub fn input_tokens(&self) -> u64 {
        self.turns.iter().map(|t| t.input_tokens).sum()
    }

    /// Server-reported cached input tokens, summed.
    pub fn cached_tokens(&self) -> u64 {
        self.turns.iter().map(|t| t.cached_tokens).sum()
    }

    /// Server-reported output tokens, summed.
    pub fn output_tokens(&self) -> u64 {
        self.turns.iter().map(|t| t.output_tokens).sum()
    }
}

/// Median and spread of a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Sample size.
    pub n: usize,
    /// Median (mean of the two middle values for even `n`).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator); 0 for `n` < 2.
    pub sd: f64,
}

/// Sorted copy of `values` (NaN-free input assumed; NaNs sort last).
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The `p`-quantile (0 ≤ p ≤ 1) by linear interpolation between closest ranks
/// (Hyndman–Fan type 7, numpy's default): rank h = (n − 1)·p.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let v = sorted(values);
    #[allow(clippy::cast_precision_loss)]
    let h = (v.len() - 1) as f64 * p;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let (a, b) = (v.get(lo)?, v.get(hi)?);
    Some(a + (h - h.floor()) * (b - a))
}

/// The median (the 0.5 quantile).
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 0.5)
}

/// Median, min, max, mean and standard deviation; `None` for an empty sample.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let v = sorted(values);
    let (first, last) = (*v.first()?, *v.last()?);
    #[allow(clippy::cast_precision_loss)]
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() < 2 {
        0.0
    } else {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    Some(Summary {
        n: v.len(),
        median: median(&v)?,
        min: first,
        max: last,
        mean,
        sd,
    })
}

/// t(0.975, df), the two-sided 95% Student-t critical value, from statrs's inverse CDF (the
/// one quantile function `bench` and `calibrate` use); `None` for df = 0 or a non-finite df.
pub fn t975(df: f64) -> Option<f64> {
    if !(df >= 1.0 && df.is_finite()) {
        return None;
    }
    StudentsT::new(0.0, 1.0, df)
        .ok()
        .map(|d| d.inverse_cdf(0.975))
        .filter(|t| t.is_finite())
}

/// The WebSocket speed-up over paired runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeedUp {
    /// Pairs used (runs where both modes finished).
    pub pairs: usize,
    /// Mean over pairs of (1 − T_ws / T_http) × 100: the share of HTTP mode's end-to-end
    /// time that WebSocket mode saved.
    pub mean_pct: f64,
    /// 95% paired t-interval of that mean: mean ± t(0.975, pairs − 1) · sd / √pairs;
    /// `None` with a single pair.
    pub ci95_pct: Option<(f64, f64)>,
    /// (1 − median T_ws / median T_http) × 100.
    pub median_pct: f64,
    /// median T_http / median T_ws ("× faster").
    pub ratio: f64,
}

/// The paired speed-up of WebSocket (`ws`) over HTTP (`http`) end-to-end times; element `i`
/// of each slice is run `i`. Pairs with a zero HTTP time are skipped. `None` without pairs.
pub fn speedup(ws: &[f64], http: &[f64]) -> Option<SpeedUp> {
    let pairs: Vec<(f64, f64)> = ws
        .iter()
        .zip(http)
        .filter(|(_, h)| **h > 0.0)
        .map(|(w, h)| (*w, *h))
        .collect();
    let saved: Vec<f64> = pairs.iter().map(|(w, h)| (1.0 - w / h) * 100.0).collect();
    let s = summarize(&saved)?;
    #[allow(clippy::cast_precision_loss)]
    let n = s.n as f64;
    let ci95_pct = t975(n - 1.0).map(|t| {
        let half = t * s.sd / n.sqrt();
        (s.mean - half, s.mean + half)
    });
    let ws_only: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let http_only: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let (mw, mh) = (median(&ws_only)?, median(&http_only)?);
    Some(SpeedUp {
        pairs: s.n,
        mean_pct: s.mean,
        ci95_pct,
        median_pct: (1.0 - mw / mh) * 100.0,
        ratio: if mw > 0.0 { mh / mw } else { 0.0 },
    })
}

/// Everything the report shows for one mode at one tool-call count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModeStats {
    /// Runs measured.
    pub runs: usize,
    /// Turns per run (median).
    pub turns_per_run: f64,
    /// Function calls per run (median).
    pub tool_calls_per_run: f64,
    /// Turns that did not complete, over all runs.
    pub errors: usize,
    /// End-to-end time per run, µs.
    pub e2e_us: Summary,
    /// Per-turn latency (send → terminal event) over every turn of every run, µs.
    pub turn_p50_us: f64,
    /// 95th percentile of the same.
    pub turn_p95_us: f64,
    /// Time to first token over every turn with output, µs.
    pub ttft_p50_us: f64,
    /// 95th percentile of the same.
    pub ttft_p95_us: f64,
    /// Request bytes per run (median).
    pub bytes_sent: f64,
    /// Request bytes per run after the first turn (median).
    pub bytes_sent_after_first: f64,
    /// Request tokens per run, the ledger's o200k count (median).
    pub tokens_sent: f64,
    /// Server-reported input tokens per run (median).
    pub input_tokens: f64,
    /// Server-reported cached input tokens per run (median).
    pub cached_tokens: f64,
    /// Server-reported output tokens per run (median).
    pub output_tokens: f64,
}

#[allow(clippy::cast_precision_loss)]
fn per_run(runs: &[RunSample], f: impl Fn(&RunSample) -> u64) -> f64 {
    let v: Vec<f64> = runs.iter().map(|r| f(r) as f64).collect();
    median(&v).unwrap_or(0.0)
}

/// Summarizes the runs of one mode; an empty slice gives all zeros.
#[allow(clippy::cast_precision_loss)]
pub fn mode_stats(runs: &[RunSample]) -> ModeStats {
    let e2e: Vec<f64> = runs.iter().map(|r| r.e2e_us as f64).collect();
    let turns: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.turns.iter().map(|t| t.latency_us as f64))
        .collect();
    let ttft: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.turns.iter().filter_map(|t| t.ttft_us.map(|v| v as f64)))
        .collect();
    let q = |v: &[f64], p| percentile(v, p).unwrap_or(0.0);
    ModeStats {
        runs: runs.len(),
        turns_per_run: per_run(runs, |r| r.turns.len() as u64),
        tool_calls_per_run: per_run(runs, |r| r.tool_calls as u64),
        errors: runs.iter().map(|r| r.errors).sum(),
        e2e_us: summarize(&e2e).unwrap_or_default(),
        turn_p50_us: q(&turns, 0.5),
        turn_p95_us: q(&turns, 0.95),
        ttft_p50_us: q(&ttft, 0.5),
        ttft_p95_us: q(&ttft, 0.95),
        bytes_sent: per_run(runs, RunSample::bytes_sent),
        bytes_sent_after_first: per_run(runs, RunSample::bytes_sent_after_first),
        tokens_sent: per_run(runs, RunSample::tokens_sent),
        input_tokens: per_run(runs, RunSample::input_tokens),
        cached_tokens: per_run(runs, RunSample::cached_tokens),
        output_tokens: per_run(runs, RunSample::output_tokens),
    }
}

/// End-to-end times of `runs` ordered by run index, as paired input for [`speedup`]:
/// only runs whose index appears in both modes, in the same order in both outputs.
#[allow(clippy::cast_precision_loss)]
pub fn paired_e2e(ws: &[RunSample], http: &[RunSample]) -> (Vec<f64>, Vec<f64>) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for w in ws {
        if let Some(h) = http.iter().find(|h| h.run == w.run) {
            a.push(w.e2e_us as f64);
            b.push(h.e2e_us as f64);
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn median_and_percentiles_interpolate_between_ranks() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // 1..=10: h = 9 · 0.95 = 8.55 → 9 + 0.55 · (10 − 9) = 9.55.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!(close(percentile(&v, 0.95).unwrap(), 9.55));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 1.0), Some(10.0));
        assert_eq!(percentile(&v, 1.5), None);
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
    }

    #[test]
    fn summary_has_sample_sd() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32, sd = √(32/7).
        let s = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(
            (s.n, s.min, s.max, s.median, s.mean),
            (8, 2.0, 9.0, 4.5, 5.0)
        );
        assert!(close(s.sd, (32.0f64 / 7.0).sqrt()));
        assert_eq!(summarize(&[3.0]).unwrap().sd, 0.0);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn speedup_is_a_paired_t_interval_worked_by_hand() {
        // Pairs (ws, http): (6,10) (7,10) (8,10) (4,5) → saved 40%, 30%, 20%, 20%.
        // mean 27.5; deviations 12.5, 2.5, −7.5, −7.5 → squares 156.25 + 6.25 + 56.25 + 56.25
        // = 275; sd = √(275/3) = 9.5743; half-width = t(0.975, 3) · sd / √4
        // = 3.18245 · 9.57427 / 2 = 15.2346.
        let s = speedup(&[6.0, 7.0, 8.0, 4.0], &[10.0, 10.0, 10.0, 5.0]).unwrap();
        assert_eq!(s.pairs, 4);
        assert!(close(s.mean_pct, 27.5));
        let (lo, hi) = s.ci95_pct.unwrap();
        let half = t975(3.0).unwrap() * (275.0f64 / 3.0).sqrt() / 2.0;
        assert!(close(lo, 27.5 - half) && close(hi, 27.5 + half));
        assert!((half - 15.2346).abs() < 1e-3);
        // Medians: ws 6.5, http 10 → 35% saved, ratio 10 / 6.5.
        assert!(close(s.median_pct, 35.0));
        assert!(close(s.ratio, 10.0 / 6.5));
    }

    #[test]
    fn speedup_edge_cases() {
        let one = speedup(&[3.0], &[4.0]).unwrap();
        assert!(close(one.mean_pct, 25.0));
        assert_eq!(one.ci95_pct, None);
        assert!(speedup(&[], &[]).is_none());
        // A zero HTTP time cannot be divided by: that pair is dropped.
        let s = speedup(&[1.0, 5.0], &[0.0, 10.0]).unwrap();
        assert_eq!(s.pairs, 1);
        assert!(close(s.mean_pct, 50.0));
        // WebSocket slower: a negative speed-up, not clamped.
        assert!(speedup(&[12.0], &[10.0]).unwrap().mean_pct < 0.0);
    }

    #[test]
    fn t975_matches_published_tables() {
        // Published two-sided 95% critical values (e.g. NIST/SEMATECH e-Handbook table 1.4.3.2).
        for (df, want) in [
            (1.0, 12.706),
            (3.0, 3.182),
            (4.0, 2.776),
            (30.0, 2.042),
            (40.0, 2.021),
            (120.0, 1.980),
        ] {
            let got = t975(df).unwrap();
            assert!((got - want).abs() < 5e-4, "df {df}: {got} vs {want}");
        }
        assert!((t975(1e6).unwrap() - 1.96).abs() < 1e-3);
        assert_eq!(t975(0.0), None);
        assert_eq!(t975(f64::NAN), None);
    }

    fn turn(latency_us: u64, ttft: Option<u64>, bytes: u64, input: u64, cached: u64) -> TurnSample {
        TurnSample {
            latency_us,
            ttft_us: ttft,
            bytes_sent: bytes,
            tokens_sent: bytes / 4,
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: 7,
            loaded_tokens: 0,
            generates: true,
        }
    }

    #[test]
    fn mode_stats_sums_bytes_per_run_and_pools_turns() {
        let a = RunSample {
            run: 0,
            e2e_us: 1_000,
            turns: vec![
                turn(100, Some(40), 400, 100, 0),
                turn(300, None, 800, 300, 100),
            ],
            tool_calls: 1,
            errors: 0,
        };
        let b = RunSample {
            run: 1,
            e2e_us: 3_000,
            turns: vec![
                turn(200, Some(60), 400, 100, 0),
                turn(400, Some(80), 1_200, 300, 200),
            ],
            tool_calls: 1,
            errors: 1,
        };
        assert_eq!(a.bytes_sent(), 1_200);
        assert_eq!(b.bytes_sent_after_first(), 1_200);
        let m = mode_stats(&[a.clone(), b.clone()]);
        assert_eq!(m.runs, 2);
        assert_eq!(m.errors, 1);
        assert_eq!(m.e2e_us.median, 2_000.0);
        assert_eq!((m.e2e_us.min, m.e2e_us.max), (1_000.0, 3_000.0));
        // Turn latencies 100, 200, 300, 400: p50 = 250, p95: h = 2.85 → 300 + 0.85 · 100.
        assert!(close(m.turn_p50_us, 250.0));
        assert!(close(m.turn_p95_us, 385.0));
        // TTFTs 40, 60, 80 (the turn without output is left out).
        assert!(close(m.ttft_p50_us, 60.0));
        // Per run: bytes 1200 and 1600 → median 1400; after first 800 and 1200 → 1000.
        assert_eq!(m.bytes_sent, 1_400.0);
        assert_eq!(m.bytes_sent_after_first, 1_000.0);
        assert_eq!(m.tokens_sent, 350.0);
        assert_eq!(m.input_tokens, 400.0);
        assert_eq!(m.cached_tokens, 150.0);
        assert_eq!(m.output_tokens, 14.0);
        let empty = mode_stats(&[]);
        assert_eq!(empty.runs, 0);
        // Pairing by run index, whatever the order.
        let (w, h) = paired_e2e(&[b.clone(), a.clone()], &[a, b]);
        assert_eq!((w, h), (vec![3_000.0, 1_000.0], vec![3_000.0, 1_000.0]));
    }
}
