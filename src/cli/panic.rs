//! The process-wide panic hook: a write to a closed pipe ends quietly with status 0, and any
//! other panic message is printed with secrets masked.

use std::any::Any;
use std::io::Write;
use std::panic::PanicHookInfo;

use crate::secrets::Secrets;

/// Installs the hook; the TUI's terminal guard chains its own restore in front of it.
pub fn install(secrets: Secrets) {
    std::panic::set_hook(Box::new(move |info| {
        let message = message_of(info.payload());
        if is_closed_pipe(&message) {
            // `println!` panics on EPIPE because Rust ignores SIGPIPE; `| head` is not an error.
            std::process::exit(0);
        }
        let text = report(info, &message, &secrets);
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }));
}

/// True for the standard library's "failed printing to stdout: Broken pipe" panics.
pub fn is_closed_pipe(message: &str) -> bool {
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// True when `err` (or anything in its chain) is a write to a closed pipe.
pub fn is_closed_pipe_error(err: &anyhow::Error) -> bool {
    err.chain().any(is_closed_pipe_cause)
}

/// A broken-pipe I/O error, also when wrapped (`io::Error::other(serde_json::Error(io))`).
fn is_closed_pipe_cause(cause: &(dyn std::error::Error + 'static)) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    if let Some(e) = cause.downcast_ref::<serde_json::Error>() {
        return e.io_error_kind() == pipe;
    }
    let Some(e) = cause.downcast_ref::<std::io::Error>() else {
        return false;
    };
    Some(e.kind()) == pipe || e.get_ref().is_some_and(|inner| is_closed_pipe_cause(inner))
}

fn message_of(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_owned())
}

/// The text the default hook would print, redacted.
fn report(info: &PanicHookInfo<'_>, message: &str, secrets: &Secrets) -> String {
    let thread = std::thread::current();
    let location = info
        .location()
        .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let backtrace = std::backtrace::Backtrace::capture();
    let trace = match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => format!("{backtrace}"),
        _ => "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
            .to_owned(),
    };
    let text = format!(
        "\nthread '{}' panicked{location}:\n{message}\n{trace}",
        thread.name().unwrap_or("<unnamed>")
    );
    secrets.redact_json(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_pipe_panics_are_recognised() {
        assert!(is_closed_pipe(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_pipe("index out of bounds"));
        let err = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("cannot write");
        assert!(is_closed_pipe_error(&err));
    }

    /// The hook's text for a panic that quotes a key (never given as a secret) and an explicit
    /// secret: neither reaches stderr. The hook is process-wide, so it is restored at once.
    #[test]
    fn a_panic_message_shows_no_key() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&seen);
        let secrets = Secrets::new(["hunter2-explicit-secret"]);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = report(info, &message_of(info.payload()), &secrets);
            if let Ok(mut s) = sink.lock() {
                s.push_str(&text);
            }
        }));
        let key = "sk-proj-PANICTESTKEY0123456789abcdefgh";
        let result = std::panic::catch_unwind(|| {
            panic!("bad frame {{\"input\":\"x\\n{key}\"}} with hunter2-explicit-secret")
        });
        std::panic::set_hook(previous);
        assert!(result.is_err());
        let text = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert!(text.contains("bad frame"), "{text}");
        assert!(!text.contains("PANICTESTKEY"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
