//! Fits a latency profile to recorded turns by ordinary least squares, two regressions on the
//! ledger's per-turn figures:
//!
//! ```text
//! send → created   = overhead(mode) + rtt + bytes·(1/bandwidth) + request tokens·validation
//!                    + loaded tokens·state load
//! created → done   = ttft + uncached tokens·prefill + output tokens·(1/output speed)
//! ```
//!
//! The round trip and a mode's fixed overhead are one constant per request to a client; they
//! split only when the round trip is given (`rtt_ms`), otherwise it is folded into the
//! overheads (both modes pay it, so predictions do not change).

use nalgebra::{DMatrix, DVector};

use super::{LatencyProfile, Transport, TurnLoad};
use crate::ledger::{Ledger, TurnStatus};

/// One recorded turn, as the fit reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// WebSocket or HTTP mode.
    pub mode: Transport,
    /// Bytes and tokens of the turn.
    pub load: TurnLoad,
    /// Send → `response.created`, µs.
    pub created_us: f64,
    /// `response.created` → terminal event, µs (generating turns only).
    pub after_created_us: Option<f64>,
}

/// Turns of a ledger the fit can use: completed, with `response.created`, a terminal event and
/// usage. Returns them and the number left out (errors, drops, steering, unfinished).
#[allow(clippy::cast_precision_loss)]
pub fn samples(ledger: &Ledger) -> (Vec<Sample>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for t in ledger.turns() {
        let load = TurnLoad::from_turn(t);
        let usable = t.status == TurnStatus::Completed && !t.steered_successor && t.steers == 0;
        match (usable, load, t.created_us, t.done_us) {
            (true, Some(load), Some(created), Some(done)) if created >= t.sent_us => {
                out.push(Sample {
                    mode: t.transport,
                    load,
                    created_us: (created - t.sent_us) as f64,
                    after_created_us: t.generate.then(|| done.saturating_sub(created) as f64),
                });
            }
            _ => skipped += 1,
        }
    }
    (out, skipped)
}

/// Why no profile could be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalibrateError {
    /// Too few usable turns for the parameters.
    #[error(
        "{found} usable turn(s) (completed, with response.created and usage); the fit needs at least {need}: record a longer session"
    )]
    TooFew {
        /// Usable turns found.
        found: usize,
        /// Turns needed.
        need: usize,
    },
    /// The data cannot tell some parameters apart or never exercised them.
    #[error(
        "the recordings cannot identify {}: {why}; or pass --partial to fit the rest and write 0 for these",
        .terms.join(", ")
    )]
    Unidentifiable {
        /// Profile keys that stay unknown.
        terms: Vec<&'static str>,
        /// What the data lacks.
        why: String,
    },
}

/// One fitted parameter in profile units, with its 95 % interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The profile key.
    pub key: &'static str,
    /// The value written to the profile (negative fits clamp to 0).
    pub value: f64,
    /// 95 % confidence interval in the same units (`None`: not fitted).
    pub ci95: Option<(f64, f64)>,
}

/// A fitted profile and how well it fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The profile (name `fitted`).
    pub profile: LatencyProfile,
    /// Each parameter.
    pub estimates: Vec<Estimate>,
    /// R² of send → created, and of created → done.
    pub r2: (f64, f64),
    /// Turns used by each regression.
    pub turns: (usize, usize),
    /// Things the reader must know (folded round trip, terms left at 0).
    pub notes: Vec<String>,
}

/// One column of a regression: the profile key it estimates and its value per sample.
struct Column {
    key: &'static str,
    values: Vec<f64>,
}

/// An ordinary least-squares result.
struct Ols {
    beta: Vec<f64>,
    /// Half-width of each coefficient's 95 % interval.
    half: Vec<f64>,
    r2: f64,
}

/// Condition of a column against the others beyond which it is not identified: the variance
/// inflation (on unit-norm columns) at which a 1 % change in the data moves the estimate by
/// ~100 %.
const MAX_INFLATION: f64 = 1e4;

/// Fits `y` on `cols`; the columns the data cannot identify are returned as the error.
#[allow(clippy::cast_precision_loss)]
fn ols(cols: &[Column], y: &[f64]) -> Result<Ols, Vec<&'static str>> {
    let (n, p) = (y.len(), cols.len());
    let dead: Vec<&'static str> = cols
        .iter()
        .filter(|c| c.values.iter().all(|v| *v == 0.0))
        .map(|c| c.key)
        .collect();
    if !dead.is_empty() {
        return Err(dead);
    }
    let norms: Vec<f64> = cols
        .iter()
        .map(|c| c.values.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let x = DMatrix::from_fn(n, p, |i, j| cols[j].values[i] / norms[j]);
    let yv = DVector::from_column_slice(y);
    let xtx = x.transpose() * &x;
    let inv = xtx.clone().try_inverse().ok_or_else(|| keys(cols))?;
    let inflated: Vec<&'static str> = (0..p)
        .filter(|j| !(inv[(*j, *j)].is_finite() && inv[(*j, *j)] < MAX_INFLATION))
        .map(|j| cols[j].key)
        .collect();
    if !inflated.is_empty() {
        return Err(inflated);
    }
    let b = &inv * (x.transpose() * &yv);
    let resid = &yv - &x * &b;
    let sse = resid.dot(&resid);
    let dof = n.saturating_sub(p).max(1) as f64;
    let s2 = sse / dof;
    let t = crate::bench::stats::t975(dof).unwrap_or(1.96);
    let mean = y.iter().sum::<f64>() / n as f64;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    Ok(Ols {
        beta: (0..p).map(|j| b[j] / norms[j]).collect(),
        half: (0..p)
            .map(|j| t * (s2 * inv[(j, j)]).sqrt() / norms[j])
            .collect(),
        r2: if sst > 0.0 { 1.0 - sse / sst } else { 0.0 },
    })
}

fn keys(cols: &[Column]) -> Vec<&'static str> {
    cols.iter().map(|c| c.key).collect()
}

/// How a coefficient maps to a profile value: as is (scaled), or as a rate (1 / coefficient).
#[derive(Clone, Copy)]
enum Unit {
    /// value = coefficient × factor.
    Scale(f64),
    /// value = 1e6 / coefficient (µs per unit → units per second).
    Rate,
}

fn estimate(key: &'static str, unit: Unit, beta: f64, half: f64) -> Estimate {
    let (lo, hi) = (beta - half, beta + half);
    match unit {
        Unit::Scale(k) => Estimate {
            key,
            value: (beta * k).max(0.0),
            ci95: Some((lo * k, hi * k)),
        },
        // A rate's interval inverts the coefficient's; a bound at or below 0 is "unbounded".
        Unit::Rate => Estimate {
            key,
            value: if beta > 0.0 { 1e6 / beta } else { 0.0 },
            ci95: Some((
                if hi > 0.0 { 1e6 / hi } else { f64::INFINITY },
                if lo > 0.0 { 1e6 / lo } else { f64::INFINITY },
            )),
        },
    }
}

/// Fits a profile to `samples`. `rtt_ms` splits the per-mode constant into round trip and
/// overhead; `partial` fits what the data identifies and leaves the rest at 0.
#[allow(clippy::too_many_lines)]
pub fn fit(samples: &[Sample], rtt_ms: Option<f64>, partial: bool) -> Result<Fit, CalibrateError> {
    let modes: Vec<(Transport, &'static str)> = [
        (Transport::WebSocket, "request_overhead_websocket_ms"),
        (Transport::Http, "request_overhead_http_ms"),
    ]
    .into_iter()
    .filter(|(m, _)| samples.iter().any(|s| s.mode == *m))
    .collect();
    let mut unknown: Vec<&'static str> = Vec::new();
    let mut why: Vec<String> = Vec::new();
    if modes.len() < 2 {
        let missing = if modes.first().map(|m| m.0) == Some(Transport::WebSocket) {
            "request_overhead_http_ms"
        } else {
            "request_overhead_websocket_ms"
        };
        unknown.push(missing);
        why.push("only one mode was recorded (record the agent in the other mode too)".into());
    }
    // Send → created.
    let rtt_us = rtt_ms.unwrap_or(0.0) * 1e3;
    let mut created_cols: Vec<(Column, Unit)> = modes
        .iter()
        .map(|(m, key)| {
            let values = samples
                .iter()
                .map(|s| if s.mode == *m { 1.0 } else { 0.0 })
                .collect();
            (Column { key, values }, Unit::Scale(1e-3))
        })
        .collect();
    let slope = |key, f: fn(&TurnLoad) -> f64, unit| {
        (
            Column {
                key,
                values: samples.iter().map(|s| f(&s.load)).collect(),
            },
            unit,
        )
    };
    created_cols.push(slope(
        "request_bytes_per_s",
        |l| l.request_bytes,
        Unit::Rate,
    ));
    created_cols.push(slope(
        "request_validation_token_us",
        |l| l.request_tokens,
        Unit::Scale(1.0),
    ));
    created_cols.push(slope(
        "state_load_token_us",
        |l| l.loaded_tokens,
        Unit::Scale(1.0),
    ));
    let y: Vec<f64> = samples.iter().map(|s| s.created_us - rtt_us).collect();
    let gen_samples: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.after_created_us.is_some())
        .collect();
    let gen_col = |key, f: fn(&TurnLoad) -> f64, unit| {
        (
            Column {
                key,
                values: gen_samples.iter().map(|s| f(&s.load)).collect(),
            },
            unit,
        )
    };
    let mut after_cols = vec![
        gen_col("ttft_ms", |_| 1.0, Unit::Scale(1e-3)),
        gen_col(
            "uncached_input_token_us",
            |l| l.uncached_tokens,
            Unit::Scale(1.0),
        ),
        gen_col("output_tokens_per_s", |l| l.output_tokens, Unit::Rate),
    ];
    let y_after: Vec<f64> = gen_samples
        .iter()
        .filter_map(|s| s.after_created_us)
        .collect();
    let need = created_cols.len().max(after_cols.len()) + 2;
    if samples.len() < need || gen_samples.len() < after_cols.len() + 2 {
        return Err(CalibrateError::TooFew {
            found: samples.len().min(gen_samples.len()),
            need,
        });
    }
    // Drop what the data never exercises or cannot separate, then refit without it.
    let mut run = |cols: &mut Vec<(Column, Unit)>, y: &[f64], why: &mut Vec<String>| loop {
        let plain: Vec<Column> = cols
            .iter()
            .map(|(c, _)| Column {
                key: c.key,
                values: c.values.clone(),
            })
            .collect();
        match ols(&plain, y) {
            Ok(r) => return Some(r),
            Err(bad) => {
                why.push(format!(
                    "{} never varied independently in these turns",
                    bad.join(", ")
                ));
                unknown.extend(bad.iter().copied());
                cols.retain(|(c, _)| !bad.contains(&c.key));
                if cols.is_empty() {
                    return None;
                }
            }
        }
    };
    let created = run(&mut created_cols, &y, &mut why);
    let after = run(&mut after_cols, &y_after, &mut why);
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() && !partial {
        return Err(CalibrateError::Unidentifiable {
            terms: unknown,
            why: why.join("; "),
        });
    }
    let mut profile = LatencyProfile {
        name: "fitted".into(),
        rtt_ms: rtt_ms.unwrap_or(0.0),
        ..LatencyProfile::zero()
    };
    let mut estimates = vec![Estimate {
        key: "rtt_ms",
        value: profile.rtt_ms,
        ci95: None,
    }];
    for (cols, r) in [(&created_cols, &created), (&after_cols, &after)] {
        let Some(r) = r else { continue };
        for (j, (c, unit)) in cols.iter().enumerate() {
            let e = estimate(c.key, *unit, r.beta[j], r.half[j]);
            set(&mut profile, e.key, e.value);
            estimates.push(e);
        }
    }
    for key in &unknown {
        estimates.push(Estimate {
            key,
            value: 0.0,
            ci95: None,
        });
    }
    let mut notes = Vec::new();
    if rtt_ms.is_none() {
        notes.push("rtt_ms is 0: the round trip cannot be told apart from a mode's fixed overhead, so both overheads include it (pass --rtt-ms, e.g. from ping, to split them; predictions are the same either way)".into());
    }
    if !unknown.is_empty() {
        notes.push(format!(
            "left at 0 (unknown): {} ({})",
            unknown.join(", "),
            why.join("; ")
        ));
    }
    Ok(Fit {
        profile,
        estimates,
        r2: (
            created.as_ref().map_or(0.0, |r| r.r2),
            after.as_ref().map_or(0.0, |r| r.r2),
        ),
        turns: (samples.len(), gen_samples.len()),
        notes,
    })
}

fn set(p: &mut LatencyProfile, key: &str, v: f64) {
    let slot = match key {
        "request_overhead_websocket_ms" => &mut p.request_overhead_websocket_ms,
        "request_overhead_http_ms" => &mut p.request_overhead_http_ms,
        "request_bytes_per_s" => &mut p.request_bytes_per_s,
        "request_validation_token_us" => &mut p.request_validation_token_us,
        "state_load_token_us" => &mut p.state_load_token_us,
        "ttft_ms" => &mut p.ttft_ms,
        "uncached_input_token_us" => &mut p.uncached_input_token_us,
        "output_tokens_per_s" => &mut p.output_tokens_per_s,
        _ => return,
    };
    *slot = v;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::predict_turn;

    fn truth() -> LatencyProfile {
        LatencyProfile {
            rtt_ms: 5.0,
            request_bytes_per_s: 10_000_000.0,
            uncached_input_token_us: 3.0,
            ttft_ms: 20.0,
            output_tokens_per_s: 400.0,
            request_overhead_websocket_ms: 4.0,
            request_overhead_http_ms: 25.0,
            request_validation_token_us: 1.5,
            state_load_token_us: 0.8,
            ..LatencyProfile::zero()
        }
    }

    /// Turns of both modes with loads that vary independently, timed by the model plus a
    /// deterministic ±1 ms wobble.
    fn synthetic(modes: &[Transport], n: usize) -> Vec<Sample> {
        let p = truth();
        let mut out = Vec::new();
        for i in 0..n {
            let mode = modes[i % modes.len()];
            let k = i as f64;
            let load = TurnLoad {
                request_bytes: 2_000.0 + (k * 7_919.0) % 50_000.0,
                request_tokens: 500.0 + (k * 3_571.0) % 9_000.0,
                loaded_tokens: if mode == Transport::Http {
                    (k * 1_237.0) % 20_000.0
                } else {
                    0.0
                },
                uncached_tokens: 100.0 + (k * 2_333.0) % 5_000.0,
                output_tokens: 10.0 + (k * 37.0) % 200.0,
                generates: true,
            };
            let t = predict_turn(&p, mode, &load);
            let wobble = ((k * 0.618).fract() - 0.5) * 2_000.0;
            out.push(Sample {
                mode,
                load,
                created_us: t.created_us() + wobble,
                after_created_us: Some(t.first_token_after_created_us() + t.output_us - wobble),
            });
        }
        out
    }

    fn value(f: &Fit, key: &str) -> f64 {
        f.estimates
            .iter()
            .find(|e| e.key == key)
            .map_or(f64::NAN, |e| e.value)
    }

    #[test]
    fn recovers_a_known_profile_with_intervals_that_cover_it() {
        let s = synthetic(&[Transport::WebSocket, Transport::Http], 120);
        let f = fit(&s, Some(5.0), false).unwrap();
        let t = truth();
        for (key, want) in t.values() {
            if key == "jitter_ms" || key == "rtt_ms" {
                continue;
            }
            let got = value(&f, key);
            assert!((got - want).abs() <= want * 0.1, "{key}: {got} vs {want}");
            let e = f.estimates.iter().find(|e| e.key == key).unwrap();
            let (lo, hi) = e.ci95.unwrap();
            assert!(lo <= want && want <= hi, "{key}: {want} outside {lo}…{hi}");
        }
        assert!(f.r2.0 > 0.9 && f.r2.1 > 0.9, "{:?}", f.r2);
        assert_eq!(f.turns, (120, 120));
        // Without the round trip, it folds into both overheads.
        let folded = fit(&s, None, false).unwrap();
        assert!((value(&folded, "request_overhead_http_ms") - 30.0).abs() < 3.0);
        assert!(folded.notes[0].contains("--rtt-ms"));
    }

    #[test]
    fn one_mode_names_the_unknown_terms() {
        let s = synthetic(&[Transport::WebSocket], 60);
        let e = fit(&s, None, false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("request_overhead_http_ms"), "{msg}");
        assert!(msg.contains("state_load_token_us"), "{msg}");
        assert!(msg.contains("only one mode"), "{msg}");
        let partial = fit(&s, None, true).unwrap();
        assert_eq!(partial.profile.request_overhead_http_ms, 0.0);
        assert!(partial.profile.ttft_ms > 0.0);
    }

    #[test]
    fn too_few_turns_and_collinear_columns_are_refused() {
        assert!(matches!(
            fit(&[], None, false),
            Err(CalibrateError::TooFew { found: 0, .. })
        ));
        let one = synthetic(&[Transport::Http], 1);
        assert!(matches!(
            fit(&one, None, false),
            Err(CalibrateError::TooFew { .. })
        ));
        // Bytes always 4 × tokens: upload and validation cannot be told apart.
        let mut s = synthetic(&[Transport::WebSocket, Transport::Http], 60);
        for x in &mut s {
            x.load.request_bytes = x.load.request_tokens * 4.0;
        }
        let msg = fit(&s, None, false).unwrap_err().to_string();
        assert!(
            msg.contains("request_bytes_per_s") && msg.contains("request_validation_token_us"),
            "{msg}"
        );
    }
}
