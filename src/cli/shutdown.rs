//! Stopping the servers (`emulate`, headless `proxy`) on Ctrl-C or SIGTERM: the first signal
//! drains, the second stops at once.

use std::time::Duration;

use anyhow::Context;

/// How long in-flight responses get after the first Ctrl-C/SIGTERM, unless `--shutdown-grace`
/// says otherwise (Kubernetes' default grace period, so a pod stop is a clean one).
pub const DEFAULT_GRACE: &str = "30s";

/// The exit status when a second signal cuts the drain short (128 + SIGINT, as a shell reports
/// an interrupted command): what was still running is lost.
pub const INTERRUPTED: u8 = 130;

/// The stop signals, registered once for the whole run so none is missed between waits.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening for Ctrl-C (SIGINT) and SIGTERM.
    pub fn new() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// Waits for the next stop signal; returns its name for the message.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "Ctrl-C",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Says what the first signal started (on stderr: stdout may be a report being piped).
pub fn announce(signal: &str, grace: Duration) {
    eprintln!(
        "turnscope: {signal}: no new connections; running responses have up to {} to finish (Ctrl-C again to stop at once)",
        humantime::format_duration(grace)
    );
}

/// Says that the grace period ran out before everything finished.
pub fn cut(grace: Duration) {
    eprintln!(
        "turnscope: responses still running after {} were cut (raise --shutdown-grace to wait longer)",
        humantime::format_duration(grace)
    );
}

/// Runs `drain` unless a second signal comes first; then the process exits at once with
/// [`INTERRUPTED`] (what is still running is lost).
pub async fn drain_or_exit<F: std::future::Future>(
    signals: &mut StopSignals,
    drain: F,
) -> F::Output {
    tokio::select! {
        out = drain => out,
        signal = signals.next() => {
            eprintln!("turnscope: {signal} again: stopping now");
            std::process::exit(i32::from(INTERRUPTED));
        }
    }
}
