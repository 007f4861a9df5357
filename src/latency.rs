//! The latency model: how a profile's terms add up to one turn's time in either mode. Pure,
//! and the one definition the emulator (which waits these times), `bench`, `calibrate` and
//! `whatif` all use.
//!
//! ```text
//! send ─ rtt + upload + overhead(mode) + validation + state load ─▶ response.created
//!      ─ ttft + prefill of uncached tokens ─▶ first token ─ output ÷ speed ─▶ done
//! ```

pub mod calibrate;

pub use crate::emulator::LatencyProfile;
pub use crate::ledger::Transport;

use crate::ledger::Turn;

use serde::Serialize;

/// What one turn asks of the server: the figures the latency model needs, measured (from a
/// recording or the emulator) or predicted for the other mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TurnLoad {
    /// Bytes of the request as sent.
    pub request_bytes: f64,
    /// o200k tokens of the request as sent (instructions, tools, input items): what the
    /// server parses and validates.
    pub request_tokens: f64,
    /// Tokens of earlier conversation state the server loaded because it was not in the
    /// connection's cache (every `previous_response_id` over HTTP; a stored response continued
    /// on a new WebSocket connection). 0 when nothing is chained or the connection held it.
    pub loaded_tokens: f64,
    /// Input tokens not served from the prompt cache (`input_tokens − cached_tokens`).
    pub uncached_tokens: f64,
    /// Output tokens generated.
    pub output_tokens: f64,
    /// False for a `generate: false` warm-up: no time to first token, no prefill wait.
    pub generates: bool,
}

/// Tokens of earlier state the server had to load for a recorded turn: the whole chain over
/// HTTP (no connection holds anything), on WebSocket the part the ledger does not think the
/// connection held (a new connection continuing a stored response).
pub fn loaded_tokens(t: &Turn) -> u64 {
    let chain = t.full_context.tokens.saturating_sub(t.incremental.tokens);
    match (&t.previous_response_id, t.transport) {
        (None, _) => 0,
        (Some(_), Transport::Http) => chain,
        (Some(_), Transport::WebSocket) => chain.saturating_sub(t.cache_estimate_tokens),
    }
}

impl TurnLoad {
    /// The load of a recorded turn, from the ledger's figures: request bytes and tokens as
    /// sent, the chain the server loaded (all of it over HTTP; on WebSocket what the ledger
    /// does not think the connection held), uncached and output tokens as the server reported.
    /// `None` until the terminal event brought usage.
    #[allow(clippy::cast_precision_loss)]
    pub fn from_turn(t: &Turn) -> Option<TurnLoad> {
        let usage = t.usage.as_ref()?;
        let loaded = loaded_tokens(t);
        let cached = usage.input_tokens_details.cached_tokens;
        Some(TurnLoad {
            request_bytes: t.incremental.bytes as f64,
            request_tokens: t.incremental.tokens as f64,
            loaded_tokens: loaded as f64,
            uncached_tokens: usage.input_tokens.saturating_sub(cached) as f64,
            output_tokens: usage.output_tokens as f64,
            generates: t.generate,
        })
    }
}

/// Where one turn's time goes per the profile, µs. Also used for sums over turns or runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TurnTime {
    /// Network round trip.
    pub rtt_us: f64,
    /// Request bytes ÷ upload bandwidth.
    pub upload_us: f64,
    /// The mode's fixed per-request server cost.
    pub overhead_us: f64,
    /// Request tokens × validation cost per token.
    pub validation_us: f64,
    /// Loaded state tokens × load cost per token.
    pub state_load_us: f64,
    /// Fixed time to first token.
    pub ttft_us: f64,
    /// Uncached input tokens × prefill cost per token.
    pub prefill_us: f64,
    /// Output tokens ÷ output speed.
    pub output_us: f64,
}

/// The terms of [`TurnTime`] in timeline order, with labels for tables and charts.
pub const TERMS: [&str; 8] = [
    "round trip",
    "upload",
    "request overhead",
    "validation",
    "state load",
    "time to first token",
    "prefill",
    "output",
];

impl TurnTime {
    /// Each term in [`TERMS`] order.
    pub fn terms(&self) -> [f64; 8] {
        [
            self.rtt_us,
            self.upload_us,
            self.overhead_us,
            self.validation_us,
            self.state_load_us,
            self.ttft_us,
            self.prefill_us,
            self.output_us,
        ]
    }

    /// Send → `response.created`: everything the server does before it acknowledges.
    pub fn created_us(&self) -> f64 {
        self.rtt_us + self.upload_us + self.overhead_us + self.validation_us + self.state_load_us
    }

    /// `response.created` → first generated token.
    pub fn first_token_after_created_us(&self) -> f64 {
        self.ttft_us + self.prefill_us
    }

    /// Send → first generated token (TTFT as the ledger measures it).
    pub fn first_token_us(&self) -> f64 {
        self.created_us() + self.first_token_after_created_us()
    }

    /// Send → terminal event.
    pub fn total_us(&self) -> f64 {
        self.terms().iter().sum()
    }

    /// Every term times `k` (an average over runs).
    pub fn scale(&mut self, k: f64) {
        for v in [
            &mut self.rtt_us,
            &mut self.upload_us,
            &mut self.overhead_us,
            &mut self.validation_us,
            &mut self.state_load_us,
            &mut self.ttft_us,
            &mut self.prefill_us,
            &mut self.output_us,
        ] {
            *v *= k;
        }
    }

    /// Term-by-term sum (turns of a run, runs of a bench).
    pub fn add(&mut self, other: &TurnTime) {
        self.rtt_us += other.rtt_us;
        self.upload_us += other.upload_us;
        self.overhead_us += other.overhead_us;
        self.validation_us += other.validation_us;
        self.state_load_us += other.state_load_us;
        self.ttft_us += other.ttft_us;
        self.prefill_us += other.prefill_us;
        self.output_us += other.output_us;
    }
}

/// The modelled time of one turn sent in `mode` under profile `p`.
pub fn predict_turn(p: &LatencyProfile, mode: Transport, load: &TurnLoad) -> TurnTime {
    let per_s = |amount: f64, rate: f64| if rate > 0.0 { amount / rate * 1e6 } else { 0.0 };
    let overhead_ms = match mode {
        Transport::WebSocket => p.request_overhead_websocket_ms,
        Transport::Http => p.request_overhead_http_ms,
    };
    let generates = if load.generates { 1.0 } else { 0.0 };
    TurnTime {
        rtt_us: p.rtt_ms * 1e3,
        upload_us: per_s(load.request_bytes, p.request_bytes_per_s),
        overhead_us: overhead_ms * 1e3,
        validation_us: load.request_tokens * p.request_validation_token_us,
        state_load_us: load.loaded_tokens * p.state_load_token_us,
        ttft_us: generates * p.ttft_ms * 1e3,
        prefill_us: generates * load.uncached_tokens * p.uncached_input_token_us,
        output_us: per_s(load.output_tokens, p.output_tokens_per_s),
    }
}

/// Modelled microseconds as a `Duration` to wait, saturating: a profile may say
/// `rtt_ms = 1e300` or a rate of `1e-300`, and `Duration::from_secs_f64` panics on a value it
/// cannot hold. Negative (jitter below zero) and NaN wait nothing.
pub fn wait_of_us(us: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64((us / 1e6).max(0.0)).unwrap_or(std::time::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> LatencyProfile {
        LatencyProfile {
            rtt_ms: 80.0,
            request_bytes_per_s: 2_500_000.0,
            uncached_input_token_us: 20.0,
            ttft_ms: 400.0,
            output_tokens_per_s: 80.0,
            request_overhead_websocket_ms: 5.0,
            request_overhead_http_ms: 30.0,
            request_validation_token_us: 2.0,
            state_load_token_us: 1.0,
            ..LatencyProfile::zero()
        }
    }

    #[test]
    fn waits_saturate_instead_of_panicking() {
        // `Duration::from_secs_f64` panicked on these (a profile with rtt_ms = 1e300).
        assert_eq!(wait_of_us(1e300 * 1e3), std::time::Duration::MAX);
        assert_eq!(wait_of_us(f64::INFINITY), std::time::Duration::MAX);
        assert_eq!(wait_of_us(-5.0), std::time::Duration::ZERO);
        assert_eq!(wait_of_us(f64::NAN), std::time::Duration::ZERO);
        assert_eq!(wait_of_us(1500.0), std::time::Duration::from_micros(1500));
    }

    #[test]
    fn every_term_worked_by_hand() {
        let load = TurnLoad {
            request_bytes: 250_000.0,
            request_tokens: 50_000.0,
            loaded_tokens: 10_000.0,
            uncached_tokens: 2_000.0,
            output_tokens: 40.0,
            generates: true,
        };
        let t = predict_turn(&profile(), Transport::Http, &load);
        // 80 ms rtt, 250 kB at 2.5 MB/s = 100 ms, 30 ms overhead, 50k × 2 µs = 100 ms,
        // 10k × 1 µs = 10 ms → created at 320 ms.
        assert_eq!(t.created_us(), 320_000.0);
        // 400 ms TTFT + 2k × 20 µs = 40 ms; 40 tokens at 80/s = 500 ms.
        assert_eq!(t.first_token_us(), 760_000.0);
        assert_eq!(t.total_us(), 1_260_000.0);
        let ws = predict_turn(&profile(), Transport::WebSocket, &load);
        assert_eq!(ws.overhead_us, 5_000.0);
        let mut sum = t;
        sum.add(&ws);
        assert_eq!(sum.total_us(), t.total_us() + ws.total_us());
    }

    #[test]
    fn a_warm_up_waits_for_no_token() {
        let load = TurnLoad {
            uncached_tokens: 1_000.0,
            ..TurnLoad::default()
        };
        let t = predict_turn(&profile(), Transport::WebSocket, &load);
        assert_eq!(t.first_token_after_created_us(), 0.0);
        assert_eq!(t.created_us(), 85_000.0);
        let zero = predict_turn(&LatencyProfile::zero(), Transport::Http, &load);
        assert_eq!(zero.total_us(), 0.0);
    }
}
