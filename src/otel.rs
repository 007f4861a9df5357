//! OpenTelemetry export: a session's ledger as one trace (session → connections → turns),
//! sent over OTLP/HTTP protobuf to a collector (Phoenix, Jaeger, Tempo, …) or written as OTLP/JSON.
//!
//! ```text
//!  frames ─▶ ledger ─▶ spans (pure mapping) ─▶ sink: OTLP/HTTP (opentelemetry-otlp) | OTLP/JSON file
//! ```
//! Every figure on a span comes from the ledger; nothing is recomputed here. Prompts and
//! outputs travel only when asked for (`include_content`), and pass the transcript's key
//! redaction first.

pub mod live;
mod sink;
pub mod spans;

pub use sink::{EXPORT_TIMEOUT, Sink};
pub use spans::{SessionTrace, TimeBase};

use std::collections::BTreeMap;

/// The environment variable holding the collector's base URL (OpenTelemetry convention).
pub const ENV_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The environment variable holding extra headers, `k1=v1,k2=v2` (OpenTelemetry convention).
pub const ENV_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// The environment variable holding the export timeout in milliseconds (OpenTelemetry convention).
pub const ENV_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// The path OTLP/HTTP collectors take traces on, appended to a base URL.
pub const TRACES_PATH: &str = "/v1/traces";

/// Why export cannot be set up or did not go through; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// The collector URL is unusable.
    #[error(
        "bad OTLP endpoint {url:?}: {detail}; use http(s)://HOST:PORT (the collector's base URL, e.g. http://127.0.0.1:6006)"
    )]
    BadEndpoint {
        /// The URL given.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// A header is not `KEY=VALUE` or not a valid HTTP header.
    #[error(
        "bad OTLP header {spec:?} (from {origin}): {detail}; write KEY=VALUE, e.g. authorization=Bearer%20TOKEN"
    )]
    BadHeader {
        /// The header as given (the value masked).
        spec: String,
        /// `--otlp-header` or the environment variable.
        origin: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The timeout is not a number of milliseconds.
    #[error("bad {ENV_TIMEOUT} {value:?}: not a number of milliseconds; e.g. {ENV_TIMEOUT}=10000")]
    BadTimeout {
        /// The value found.
        value: String,
    },
    /// The OTLP exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Build(String),
    /// The collector refused the spans or could not be reached.
    #[error("OTLP export to {endpoint} failed: {detail}")]
    Export {
        /// The traces URL.
        endpoint: String,
        /// What went wrong, one line.
        detail: String,
    },
    /// The OTLP/JSON file cannot be written.
    #[error("cannot write the OTLP/JSON file {path}: {detail}; choose another --otlp-file path")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// Where the spans go and what they carry.
#[derive(Debug, Clone, Default)]
pub struct ExportConfig {
    /// The collector's traces URL (already resolved by [`traces_url`]).
    pub endpoint: Option<String>,
    /// Headers sent with every export (authentication), already validated.
    pub headers: BTreeMap<String, String>,
    /// Write OTLP/JSON here instead of (or besides) sending.
    pub file: Option<std::path::PathBuf>,
    /// Put prompts and outputs on the spans (`input.value`, `output.value`).
    pub include_content: bool,
    /// How long one export may take; `None` = the caller's default.
    pub timeout: Option<std::time::Duration>,
}

/// The traces URL for a collector base URL: `/v1/traces` is appended unless the path already
/// ends with it (so both `http://host:4318` and `http://host:4318/v1/traces` work).
pub fn traces_url(base: &str) -> Result<String, OtelError> {
    let bad = |detail: &str| OtelError::BadEndpoint {
        url: base.to_owned(),
        detail: detail.to_owned(),
    };
    let trimmed = base.trim();
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(&format!("scheme {other} is not http or https"))),
        None => return Err(bad("no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    let no_slash = trimmed.trim_end_matches('/');
    if no_slash.ends_with(TRACES_PATH) {
        Ok(no_slash.to_owned())
    } else {
        Ok(format!("{no_slash}{TRACES_PATH}"))
    }
}

/// The export timeout from `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), if set.
pub fn timeout(env: Option<&str>) -> Result<Option<std::time::Duration>, OtelError> {
    env.map(|v| {
        v.trim()
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| OtelError::BadTimeout {
                value: v.to_owned(),
            })
    })
    .transpose()
}

/// Headers from `OTEL_EXPORTER_OTLP_HEADERS` (`k1=v1,k2=v2`, values percent-decoded per the
/// convention) overlaid by `--otlp-header K=V` flags: a flag wins over the environment.
pub fn headers(env: Option<&str>, flags: &[String]) -> Result<BTreeMap<String, String>, OtelError> {
    let mut out = BTreeMap::new();
    if let Some(env) = env {
        for spec in env.split(',').filter(|s| !s.trim().is_empty()) {
            let (k, v) = header(spec, ENV_HEADERS)?;
            out.insert(k, v);
        }
    }
    for spec in flags {
        let (k, v) = header(spec, "--otlp-header")?;
        out.insert(k, v);
    }
    Ok(out)
}

/// One `KEY=VALUE`, checked as an HTTP header name and value.
fn header(spec: &str, origin: &'static str) -> Result<(String, String), OtelError> {
    // The value may be a secret: quote only the key in messages.
    let masked = match spec.split_once('=') {
        Some((k, _)) => format!("{}=…", k.trim()),
        None => spec.chars().take(40).collect(),
    };
    let bad = |detail: &str| OtelError::BadHeader {
        spec: masked.clone(),
        origin,
        detail: detail.to_owned(),
    };
    let (key, value) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
    let key = key.trim();
    let value = percent_decode(value.trim()).ok_or_else(|| bad("bad %-escape in the value"))?;
    if key.is_empty() {
        return Err(bad("empty key"));
    }
    http::HeaderName::from_bytes(key.as_bytes()).map_err(|_| bad("not a valid header name"))?;
    http::HeaderValue::from_str(&value)
        .map_err(|_| bad("the value holds characters a header cannot carry"))?;
    Ok((key.to_ascii_lowercase(), value))
}

/// `%XX` escapes decoded (the OTLP header convention); `None` on a broken escape.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gets_the_traces_path_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:6006").unwrap(),
            "http://127.0.0.1:6006/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:6006/").unwrap(),
            "http://127.0.0.1:6006/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/v1/traces").unwrap(),
            "https://otel.example/v1/traces"
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, why) in [
            ("localhost:6006", "scheme"),
            ("ftp://h/", "not http"),
            ("http://", "http(s)://HOST:PORT"),
            ("not a url", "http(s)://HOST:PORT"),
        ] {
            let e = traces_url(url).unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn flags_win_over_the_environment_and_values_are_decoded() {
        let h = headers(
            Some("Authorization=Bearer%20abc, x-team = a"),
            &["x-team=b".into()],
        )
        .unwrap();
        assert_eq!(h["authorization"], "Bearer abc");
        assert_eq!(h["x-team"], "b");
    }

    #[test]
    fn bad_headers_name_the_origin_and_never_the_value() {
        let e = headers(None, &["api_key secret".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--otlp-header") && e.contains("no '='"), "{e}");
        let e = headers(Some("bad key=sekrit"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_HEADERS) && !e.contains("sekrit"), "{e}");
        let e = headers(None, &["k=%zz".into()]).unwrap_err().to_string();
        assert!(e.contains("%-escape"), "{e}");
    }
}
