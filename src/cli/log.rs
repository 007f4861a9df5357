//! `--log FILE`: tracing events go to that file only, filtered like `RUST_LOG`; never to the
//! terminal, which the TUI owns.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::secrets::Secrets;

/// The filter used when `RUST_LOG` is unset: our own debug events, others' warnings.
pub const DEFAULT_FILTER: &str = "warn,turnscope=debug";

/// The filter from a `RUST_LOG` value (or the default), with an error that names the variable.
pub fn filter(rust_log: Option<&str>) -> anyhow::Result<EnvFilter> {
    match rust_log.filter(|v| !v.trim().is_empty()) {
        Some(spec) => EnvFilter::try_new(spec).with_context(|| {
            format!("RUST_LOG={spec:?} is not a valid filter; try e.g. RUST_LOG=turnscope=debug")
        }),
        None => Ok(EnvFilter::new(DEFAULT_FILTER)),
    }
}

/// The log file, with every line redacted before it is written: a `Debug` of the command line or
/// of an error may carry a key.
struct RedactingFile {
    file: Mutex<File>,
    secrets: Secrets,
}

impl io::Write for &RedactingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = self.secrets.redact_json(&text);
        let mut file = self
            .file
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        file.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?
            .flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingFile {
    type Writer = &'a RedactingFile;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Installs the file logger; without `--log` nothing is installed and events cost nothing.
/// `secrets` (the keys this run knows) are masked in every line, as are key-shaped strings.
pub fn init(path: Option<&Path>, secrets: Secrets) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref())?;
    let file = crate::secrets::append_private(path)
        .with_context(|| format!("cannot open --log file {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingFile {
            file: Mutex::new(file),
            secrets,
        })
        .with_target(true)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "turnscope started");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_filter_names_rust_log() {
        let err = filter(Some("turnscope=loud")).unwrap_err().to_string();
        assert!(err.contains("RUST_LOG"), "{err}");
        assert!(filter(Some("turnscope=trace,tokio=warn")).is_ok());
        assert!(
            filter(None)
                .unwrap()
                .to_string()
                .contains("turnscope=debug")
        );
    }
}
