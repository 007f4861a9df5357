//! Latency profiles: how long the emulated network and model take, from documented parameters.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::EmulatorError;

/// The built-in profiles, each parameter justified in a comment.
const BUILTIN: &str = include_str!("latency_profiles.toml");

/// The parameters of one latency profile (see `latency_profiles.toml` for their meaning).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProfile {
    /// Profile name (the table name in the profiles file; reported, never read from a table).
    #[serde(skip_deserializing)]
    pub name: String,
    /// Network round trip, added once per request.
    pub rtt_ms: f64,
    /// Upload bandwidth for request bytes; 0 = free.
    pub request_bytes_per_s: f64,
    /// Server cost per uncached input token (context rebuild / prefill), microseconds.
    pub uncached_input_token_us: f64,
    /// Fixed time to first token, milliseconds.
    pub ttft_ms: f64,
    /// Output tokens per second; 0 = instant.
    pub output_tokens_per_s: f64,
    /// Fixed server cost of one request on a WebSocket connection (routing, scheduling), ms.
    #[serde(default)]
    pub request_overhead_websocket_ms: f64,
    /// Fixed server cost of one `POST /v1/responses` (connection, auth, routing), ms.
    #[serde(default)]
    pub request_overhead_http_ms: f64,
    /// Server cost per token of the request body (parsing, validating, tokenizing what was
    /// sent: the whole context in HTTP mode, only new items on a warm connection), µs.
    #[serde(default)]
    pub request_validation_token_us: f64,
    /// Server cost per token of earlier conversation state loaded because it was not in the
    /// connection's cache (HTTP chaining by `previous_response_id`; a new WebSocket connection
    /// after rotation continuing a stored response), µs.
    #[serde(default)]
    pub state_load_token_us: f64,
    /// Noise: each modelled wait (before `response.created`, before the first token) moves by
    /// a uniform random amount in ±this, ms (never below zero). For calibration tests.
    #[serde(default)]
    pub jitter_ms: f64,
    /// Seed of the noise generator, so a noisy run repeats.
    #[serde(default)]
    pub jitter_seed: u64,
}

impl Default for LatencyProfile {
    fn default() -> Self {
        Self::zero()
    }
}

fn parse_profiles(
    text: &str,
    origin: &str,
) -> Result<BTreeMap<String, LatencyProfile>, EmulatorError> {
    let mut map: BTreeMap<String, LatencyProfile> =
        toml::from_str(text).map_err(|e| EmulatorError::Latency {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
    for (name, profile) in &mut map {
        profile.name.clone_from(name);
        if profile
            .values()
            .iter()
            .any(|(_, v)| !v.is_finite() || *v < 0.0)
        {
            return Err(EmulatorError::Latency {
                origin: origin.to_owned(),
                message: format!("profile `{name}` has a negative or non-finite value"),
            });
        }
    }
    Ok(map)
}

/// The built-in profiles, parsed once: every `--latency` value is looked up here first, and
/// parsing the commented TOML took ~2 ms per lookup in a debug build (the property tests
/// resolve millions of specs). A table that fails to parse is empty (a unit test parses it).
fn builtin() -> &'static BTreeMap<String, LatencyProfile> {
    static TABLE: LazyLock<BTreeMap<String, LatencyProfile>> =
        LazyLock::new(|| parse_profiles(BUILTIN, "built-in profiles").unwrap_or_default());
    &TABLE
}

impl LatencyProfile {
    /// No modelled latency at all (tests and throughput benchmarks).
    pub fn zero() -> Self {
        LatencyProfile {
            name: "zero".into(),
            rtt_ms: 0.0,
            request_bytes_per_s: 0.0,
            uncached_input_token_us: 0.0,
            ttft_ms: 0.0,
            output_tokens_per_s: 0.0,
            request_overhead_websocket_ms: 0.0,
            request_overhead_http_ms: 0.0,
            request_validation_token_us: 0.0,
            state_load_token_us: 0.0,
            jitter_ms: 0.0,
            jitter_seed: 0,
        }
    }

    /// Every numeric parameter by its file name, in file order (the seed is not a value).
    pub fn values(&self) -> [(&'static str, f64); 10] {
        [
            ("rtt_ms", self.rtt_ms),
            ("request_bytes_per_s", self.request_bytes_per_s),
            ("uncached_input_token_us", self.uncached_input_token_us),
            ("ttft_ms", self.ttft_ms),
            ("output_tokens_per_s", self.output_tokens_per_s),
            (
                "request_overhead_websocket_ms",
                self.request_overhead_websocket_ms,
            ),
            ("request_overhead_http_ms", self.request_overhead_http_ms),
            (
                "request_validation_token_us",
                self.request_validation_token_us,
            ),
            ("state_load_token_us", self.state_load_token_us),
            ("jitter_ms", self.jitter_ms),
        ]
    }

    /// A built-in profile by name (`zero`, `realistic`, `lan`).
    pub fn named(name: &str) -> Option<Self> {
        builtin().get(name).cloned()
    }

    /// The built-in profile names.
    pub fn builtin_names() -> Vec<String> {
        builtin().keys().cloned().collect()
    }

    /// Resolves `--latency` values: a built-in name, or `FILE.toml:NAME` / `FILE.toml`
    /// (a file in the same format as the built-in one; without `:NAME` it must hold one profile).
    pub fn resolve(spec: &str) -> Result<Self, EmulatorError> {
        if let Some(p) = Self::named(spec) {
            return Ok(p);
        }
        let (path, name) = match spec.rsplit_once(':') {
            Some((p, n)) if p.ends_with(".toml") => (p, Some(n)),
            _ => (spec, None),
        };
        if !Path::new(path).is_file() {
            return Err(EmulatorError::Latency {
                origin: spec.to_owned(),
                message: format!(
                    "no such profile; use one of {} or a TOML file",
                    Self::builtin_names().join(", ")
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| EmulatorError::Latency {
            origin: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut map = parse_profiles(&text, path)?;
        let found = match name {
            Some(n) => map.remove(n),
            None if map.len() == 1 => map.into_values().next(),
            None => None,
        };
        found.ok_or_else(|| EmulatorError::Latency {
            origin: spec.to_owned(),
            message: "name one profile of the file as FILE.toml:NAME".into(),
        })
    }

    /// True when every parameter is zero.
    pub fn is_zero(&self) -> bool {
        self.values().iter().all(|(_, v)| *v == 0.0)
    }

    /// The profile as a TOML table named `name` (the format `--latency FILE.toml` reads).
    pub fn to_toml(&self, name: &str) -> String {
        let mut out = format!("[{name}]\n");
        for (key, v) in self.values() {
            out.push_str(&format!("{key} = {v:?}\n"));
        }
        out.push_str(&format!("jitter_seed = {}\n", self.jitter_seed));
        out
    }

    /// Time to stream `tokens` output tokens.
    pub fn output_delay(&self, tokens: usize) -> Duration {
        if self.output_tokens_per_s > 0.0 {
            crate::latency::wait_of_us(tokens as f64 / self.output_tokens_per_s * 1e6)
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        assert!(parse_profiles(BUILTIN, "built-in").is_ok());
        assert_eq!(LatencyProfile::builtin_names().len(), 3);
        assert!(LatencyProfile::named("zero").unwrap().is_zero());
        let r = LatencyProfile::named("realistic").unwrap();
        assert!(r.rtt_ms > 0.0 && r.output_tokens_per_s > 0.0);
        assert_eq!(
            LatencyProfile::zero(),
            LatencyProfile::named("zero").unwrap()
        );
        assert!(LatencyProfile::resolve("nope").is_err());
    }

    #[test]
    fn toml_round_trips_every_parameter() {
        let mut p = LatencyProfile::named("realistic").unwrap();
        p.request_overhead_http_ms = 12.5;
        p.state_load_token_us = 0.75;
        p.jitter_seed = 7;
        let map = parse_profiles(&p.to_toml("fitted"), "test").unwrap();
        let mut back = map["fitted"].clone();
        back.name.clone_from(&p.name);
        assert_eq!(back, p);
    }

    #[test]
    fn older_files_without_the_new_terms_still_read() {
        let text = "[old]\nrtt_ms = 1.0\nrequest_bytes_per_s = 0.0\nuncached_input_token_us = 0.0\nttft_ms = 2.0\noutput_tokens_per_s = 0.0\n";
        let map = parse_profiles(text, "test").unwrap();
        assert_eq!(map["old"].request_overhead_http_ms, 0.0);
        assert!(parse_profiles(&text.replace("2.0", "-2.0"), "t").is_err());
    }
}
