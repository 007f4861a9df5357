//! Latency profiles: how long the emulated network and model take, from documented parameters.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::EmulatorError;

/// The built-in profiles, each parameter justified in a comment.
const BUILTIN: &str = include_str!("latency_profiles.toml");

/// The parameters of one latency profile (see `latency_profiles.toml` for their meaning).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProfile {
    /// Profile name (the table name in the profiles file).
    #[serde(skip)]
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
        let values = [
            profile.rtt_ms,
            profile.request_bytes_per_s,
            profile.uncached_input_token_us,
            profile.ttft_ms,
            profile.output_tokens_per_s,
        ];
        if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(EmulatorError::Latency {
                origin: origin.to_owned(),
                message: format!("profile `{name}` has a negative or non-finite value"),
            });
        }
    }
    Ok(map)
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64((v / 1000.0).max(0.0))
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
        }
    }

    /// A built-in profile by name (`zero`, `realistic`, `lan`).
    pub fn named(name: &str) -> Option<Self> {
        parse_profiles(BUILTIN, "built-in profiles")
            .ok()?
            .remove(name)
    }

    /// The built-in profile names.
    pub fn builtin_names() -> Vec<String> {
        parse_profiles(BUILTIN, "built-in profiles")
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
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
        self.rtt_ms == 0.0
            && self.request_bytes_per_s == 0.0
            && self.uncached_input_token_us == 0.0
            && self.ttft_ms == 0.0
            && self.output_tokens_per_s == 0.0
    }

    /// Time before `response.created`: one round trip plus the upload of the request.
    pub fn request_delay(&self, request_bytes: usize) -> Duration {
        let upload = if self.request_bytes_per_s > 0.0 {
            request_bytes as f64 / self.request_bytes_per_s
        } else {
            0.0
        };
        ms(self.rtt_ms) + Duration::from_secs_f64(upload)
    }

    /// Time from `response.created` to the first output: prefill of uncached tokens plus TTFT.
    pub fn first_token_delay(&self, uncached_tokens: usize) -> Duration {
        ms(self.ttft_ms + uncached_tokens as f64 * self.uncached_input_token_us / 1000.0)
    }

    /// Time to stream `tokens` output tokens.
    pub fn output_delay(&self, tokens: usize) -> Duration {
        if self.output_tokens_per_s > 0.0 {
            Duration::from_secs_f64(tokens as f64 / self.output_tokens_per_s)
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
        assert!(LatencyProfile::named("zero").unwrap().is_zero());
        let r = LatencyProfile::named("realistic").unwrap();
        assert!(r.rtt_ms > 0.0 && r.output_tokens_per_s > 0.0);
        assert_eq!(
            LatencyProfile::zero(),
            LatencyProfile::named("zero").unwrap()
        );
        assert!(LatencyProfile::resolve("nope").is_err());
        assert_eq!(r.request_delay(0), Duration::from_millis(80));
    }
}
