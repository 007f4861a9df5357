//! What a recorded session would have taken in the other mode: the same turns sent over HTTP
//! instead of WebSocket (or the reverse), under a latency profile. Pure: ledger in, figures out.
//!
//! Each turn's prediction is its measured time plus what the profile says changes:
//! `measured + predict(other mode) − predict(this mode)`, so what the model does not cover
//! (client and tool time, CPU, scheduling) carries over unchanged.
//!
//! - WebSocket → HTTP: every turn resends its whole context — the ledger's full-context size
//!   (`ledger::context`'s rebuild, `Turn::full_context`) — without `previous_response_id`, as
//!   `bench`'s HTTP client does; with [`HttpStyle::Chain`] it sends what it sent and the server
//!   loads the chain by id instead. Either way it pays HTTP's per-request overhead.
//! - HTTP → WebSocket: only the input the server has not seen (the request minus the items
//!   the ledger recognised as resent), nothing to load while the connection holds the chain,
//!   and a new connection at the 55-minute rotation, which loads the chain (`store` true) or
//!   resends it (`store=false`).
//!
//! The bill does not change: the price per token is the same in both modes and the prompt
//! cache (`cached_tokens`) works the same on both transports, so the same turns bill the same
//! tokens. What changes is time and bytes.

use serde::Serialize;

use crate::latency::{LatencyProfile, TurnLoad, TurnTime, predict_turn};
use crate::ledger::cost::{Prices, SessionCost, TurnCost, turn_cost};
use crate::ledger::{Ledger, ROTATE_AGE_US, SendMode, Transport, Turn};

/// How HTTP mode sends a continued turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpStyle {
    /// The whole context in every request, no `previous_response_id` (stateless clients,
    /// `store=false`, Zero Data Retention; what `bench` measures).
    #[default]
    Resend,
    /// Only new items plus `previous_response_id`; the server loads the stored chain.
    Chain,
}

/// Why a recording cannot be predicted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WhatIfError {
    /// No turn at all.
    #[error(
        "{0} has no turns; record an agent session (turnscope proxy, or the live TUI) and try again"
    )]
    Empty(String),
    /// One turn: nothing is chained, so the modes do not differ.
    #[error(
        "{0} has one turn; the modes differ only on continued turns, so record a session of at least two"
    )]
    OneTurn(String),
    /// No turn finished with usage (every one errored, failed or was cut off).
    #[error(
        "{file}: none of its {turns} turns finished with usage ({why}); record a session whose turns complete"
    )]
    NoUsage {
        /// The recording.
        file: String,
        /// Turns in it.
        turns: usize,
        /// What the turns ended as.
        why: String,
    },
}

/// One side of a turn (as measured, or as predicted): what was sent and how long it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Side {
    /// Send → terminal event, µs.
    pub total_us: f64,
    /// Request bytes.
    pub bytes: u64,
    /// Request tokens (what the server parses and validates).
    pub request_tokens: u64,
    /// Earlier state the server loaded because no connection held it, tokens.
    pub loaded_tokens: u64,
    /// Input tokens not served from the prompt cache.
    pub uncached_tokens: u64,
}

/// One turn, measured and predicted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnWhatIf {
    /// 1-based turn number.
    pub index: usize,
    /// The mode it was recorded in.
    pub mode: Transport,
    /// As recorded.
    pub measured: Side,
    /// In the other mode.
    pub predicted: Side,
    /// The profile's model of the recorded mode, term by term.
    pub modelled_measured: TurnTime,
    /// The profile's model of the other mode, term by term.
    pub modelled_predicted: TurnTime,
    /// HTTP → WebSocket: a new connection opened before this turn (the 55-minute rotation).
    pub rotated: bool,
    /// What it cost (the same in both modes), USD; `None` when it cannot be priced.
    pub cost_usd: Option<f64>,
    /// The cost as shown: `$0.001234` or why it is n/a.
    pub cost_text: String,
}

/// Sums over the predicted turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// End to end: first send → last terminal event, µs (tool time between turns included).
    pub e2e_us: f64,
    /// Request bytes.
    pub bytes: u64,
    /// Request tokens.
    pub request_tokens: u64,
    /// Loaded state tokens.
    pub loaded_tokens: u64,
    /// Uncached input tokens.
    pub uncached_tokens: u64,
}

/// The whole what-if of a recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    /// The profile used.
    pub profile: LatencyProfile,
    /// How HTTP mode sends continued turns.
    pub http_style: HttpStyle,
    /// Every turn with usage, in order.
    pub turns: Vec<TurnWhatIf>,
    /// Turns left out (no usage: errors, drops), by 1-based number.
    pub skipped: Vec<usize>,
    /// As recorded.
    pub measured: Totals,
    /// In the other mode.
    pub predicted: Totals,
    /// New connections the other mode opens at the rotation age (HTTP → WebSocket).
    pub rotations: usize,
    /// The session's cost, the same in both modes.
    #[serde(skip)]
    pub cost: SessionCost,
}

impl WhatIf {
    /// The predicted change of end-to-end time, % of the measured (negative: faster).
    pub fn e2e_change_pct(&self) -> f64 {
        if self.measured.e2e_us > 0.0 {
            (self.predicted.e2e_us / self.measured.e2e_us - 1.0) * 100.0
        } else {
            0.0
        }
    }

    /// The modes of the recording (usually one).
    pub fn modes(&self) -> Vec<Transport> {
        let mut out: Vec<Transport> = Vec::new();
        for t in &self.turns {
            if !out.contains(&t.mode) {
                out.push(t.mode);
            }
        }
        out
    }
}

/// The other mode.
pub fn other(mode: Transport) -> Transport {
    match mode {
        Transport::WebSocket => Transport::Http,
        Transport::Http => Transport::WebSocket,
    }
}

/// The same turns in the other mode under `profile`. `file` names the recording in errors.
pub fn predict(
    file: &str,
    ledger: &Ledger,
    profile: &LatencyProfile,
    http_style: HttpStyle,
    prices: &Prices,
) -> Result<WhatIf, WhatIfError> {
    let turns = ledger.turns();
    match turns.len() {
        0 => return Err(WhatIfError::Empty(file.to_owned())),
        1 => return Err(WhatIfError::OneTurn(file.to_owned())),
        _ => {}
    }
    let mut out = WhatIf {
        profile: profile.clone(),
        http_style,
        turns: Vec::new(),
        skipped: Vec::new(),
        measured: Totals::default(),
        predicted: Totals::default(),
        rotations: 0,
        cost: SessionCost::of(prices, turns),
    };
    // HTTP → WebSocket: when the imagined connection opened (it rotates at the age limit).
    let mut conn_opened: Option<u64> = None;
    let mut delta_us = 0.0;
    for t in turns {
        let Some(load) = TurnLoad::from_turn(t) else {
            out.skipped.push(t.index);
            continue;
        };
        let Some(measured_us) = t.latency_total_us() else {
            out.skipped.push(t.index);
            continue;
        };
        let (other_load, rotated) = match t.transport {
            Transport::WebSocket => (as_http(t, &load, http_style), false),
            Transport::Http => {
                let opened = *conn_opened.get_or_insert(t.sent_us);
                let rotated = t.sent_us.saturating_sub(opened) >= ROTATE_AGE_US;
                if rotated {
                    conn_opened = Some(t.sent_us);
                    out.rotations += 1;
                }
                (as_websocket(t, &load, rotated), rotated)
            }
        };
        let this = predict_turn(profile, t.transport, &load);
        let that = predict_turn(profile, other(t.transport), &other_load);
        #[allow(clippy::cast_precision_loss)]
        let measured_total = measured_us as f64;
        let change = that.total_us() - this.total_us();
        delta_us += change;
        let measured = side(measured_total, &load);
        let predicted = side((measured_total + change).max(0.0), &other_load);
        add(&mut out.measured, &measured);
        add(&mut out.predicted, &predicted);
        let cost = turn_cost(prices, t);
        out.turns.push(TurnWhatIf {
            index: t.index,
            mode: t.transport,
            measured,
            predicted,
            modelled_measured: this,
            modelled_predicted: that,
            rotated,
            cost_usd: match &cost {
                TurnCost::Priced(c) => Some(c.total_usd),
                _ => None,
            },
            cost_text: cost.text(),
        });
    }
    if out.turns.is_empty() {
        return Err(WhatIfError::NoUsage {
            file: file.to_owned(),
            turns: turns.len(),
            why: endings(turns),
        });
    }
    out.measured.e2e_us = session_e2e_us(turns);
    out.predicted.e2e_us = (out.measured.e2e_us + delta_us).max(0.0);
    Ok(out)
}

/// First send → last terminal event, µs.
#[allow(clippy::cast_precision_loss)]
fn session_e2e_us(turns: &[Turn]) -> f64 {
    let first = turns.iter().map(|t| t.sent_us).min().unwrap_or(0);
    let last = turns
        .iter()
        .filter_map(|t| t.done_us)
        .max()
        .unwrap_or(first);
    last.saturating_sub(first) as f64
}

/// `3 error, 1 dropped`.
fn endings(turns: &[Turn]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for t in turns {
        let label = t.status.label().to_owned();
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    counts
        .iter()
        .map(|(l, n)| format!("{n} {l}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn side(total_us: f64, load: &TurnLoad) -> Side {
    Side {
        total_us,
        bytes: load.request_bytes as u64,
        request_tokens: load.request_tokens as u64,
        loaded_tokens: load.loaded_tokens as u64,
        uncached_tokens: load.uncached_tokens as u64,
    }
}

fn add(total: &mut Totals, s: &Side) {
    total.bytes += s.bytes;
    total.request_tokens += s.request_tokens;
    total.loaded_tokens += s.loaded_tokens;
    total.uncached_tokens += s.uncached_tokens;
}

/// A recorded WebSocket turn sent over HTTP.
#[allow(clippy::cast_precision_loss)]
fn as_http(t: &Turn, load: &TurnLoad, style: HttpStyle) -> TurnLoad {
    match style {
        // The full context, as the ledger rebuilds it: nothing left for the server to load.
        HttpStyle::Resend => TurnLoad {
            request_bytes: t.full_context.bytes as f64,
            request_tokens: t.full_context.tokens as f64,
            loaded_tokens: 0.0,
            ..*load
        },
        // The same request; no connection holds the chain, so all of it is loaded by id.
        HttpStyle::Chain => TurnLoad {
            loaded_tokens: t.full_context.tokens.saturating_sub(t.incremental.tokens) as f64,
            ..*load
        },
    }
}

/// What continuing a turn by `previous_response_id` adds to a request.
const CHAIN_FIELD_BYTES: u64 =
    r#","previous_response_id":"resp_0123456789abcdef0123456789abcdef0123456789abcdef01""#.len()
        as u64;

/// A recorded HTTP turn sent on a WebSocket connection.
#[allow(clippy::cast_precision_loss)]
fn as_websocket(t: &Turn, load: &TurnLoad, rotated: bool) -> TurnLoad {
    let (known_bytes, known_tokens) = match &t.insight.mode {
        SendMode::FullResend {
            known_bytes,
            known_tokens,
            ..
        } => (*known_bytes, *known_tokens),
        SendMode::Fresh | SendMode::Incremental => (0, 0),
    };
    // A continued turn: only what the server has not seen, plus the id of its parent.
    let continued = known_bytes > 0 || t.previous_response_id.is_some();
    let (bytes, tokens) = if continued && !(rotated && t.store == Some(false)) {
        (
            t.incremental.bytes.saturating_sub(known_bytes)
                + if known_bytes > 0 {
                    CHAIN_FIELD_BYTES
                } else {
                    0
                },
            t.incremental.tokens.saturating_sub(known_tokens),
        )
    } else {
        // A first turn, or store=false after a rotation: the whole request, as recorded.
        (t.incremental.bytes, t.incremental.tokens)
    };
    // A new connection loads the stored chain (store=true, the default) it continues.
    let chain = known_tokens.max(t.full_context.tokens.saturating_sub(t.incremental.tokens));
    let loaded = if rotated && continued && t.store != Some(false) {
        chain
    } else {
        0
    };
    TurnLoad {
        request_bytes: bytes as f64,
        request_tokens: tokens as f64,
        loaded_tokens: loaded as f64,
        ..*load
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_of(fixture: &str) -> Ledger {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
        let (_, frames, _) = crate::transcript::read_all(&path).unwrap();
        Ledger::from_frames(&frames)
    }

    fn profile() -> LatencyProfile {
        LatencyProfile {
            name: "t".into(),
            rtt_ms: 10.0,
            request_bytes_per_s: 1_000.0,
            request_overhead_http_ms: 30.0,
            request_overhead_websocket_ms: 5.0,
            ..LatencyProfile::zero()
        }
    }

    #[test]
    fn a_websocket_session_over_http_resends_its_context_and_pays_the_overhead() {
        let ledger = ledger_of("tool_loop.tsjsonl");
        let w = predict(
            "x",
            &ledger,
            &profile(),
            HttpStyle::Resend,
            &Prices::builtin(),
        )
        .unwrap();
        assert_eq!(w.turns.len(), 5);
        for (t, l) in w.turns.iter().zip(ledger.turns()) {
            assert_eq!(t.mode, Transport::WebSocket);
            assert_eq!(t.measured.bytes, l.incremental.bytes);
            assert_eq!(t.predicted.bytes, l.full_context.bytes);
            // Δ = 25 ms overhead + (full − incremental) bytes at 1 kB/s.
            #[allow(clippy::cast_precision_loss)]
            let upload = (l.full_context.bytes - l.incremental.bytes) as f64 * 1e3;
            let want = t.measured.total_us + 25_000.0 + upload;
            assert!((t.predicted.total_us - want).abs() < 1e-6, "{t:?}");
            assert_eq!(t.predicted.uncached_tokens, t.measured.uncached_tokens);
        }
        assert_eq!(w.predicted.bytes, ledger.totals().full_context.bytes);
        assert!(w.e2e_change_pct() > 0.0);
        assert_eq!(w.skipped, Vec::<usize>::new());
    }

    #[test]
    fn chaining_over_http_loads_the_chain_instead_of_sending_it() {
        let ledger = ledger_of("tool_loop.tsjsonl");
        let p = LatencyProfile {
            state_load_token_us: 100.0,
            ..LatencyProfile::zero()
        };
        let w = predict("x", &ledger, &p, HttpStyle::Chain, &Prices::builtin()).unwrap();
        let t = &w.turns[1];
        let l = &ledger.turns()[1];
        assert_eq!(t.predicted.bytes, l.incremental.bytes);
        let chain = l.full_context.tokens - l.incremental.tokens;
        assert_eq!(t.predicted.loaded_tokens, chain);
        #[allow(clippy::cast_precision_loss)]
        let want = t.measured.total_us + chain as f64 * 100.0;
        assert!((t.predicted.total_us - want).abs() < 1e-6);
    }

    #[test]
    fn empty_and_one_turn_recordings_say_why() {
        let empty = Ledger::new();
        let p = profile();
        let prices = Prices::builtin();
        assert!(matches!(
            predict("a.tsjsonl", &empty, &p, HttpStyle::Resend, &prices),
            Err(WhatIfError::Empty(_))
        ));
        let err = WhatIfError::OneTurn("b.tsjsonl".into()).to_string();
        assert!(err.starts_with("b.tsjsonl has one turn;"), "{err}");
    }
}
