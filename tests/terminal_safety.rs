//! Terminal safety under a real pseudo-terminal (util-linux `script`): every way out of the TUI —
//! a normal quit of the real binary, an error, a panic unwinding through the guard, and a panic
//! with the guard leaked (only the panic hook can help) — leaves the terminal in cooked mode,
//! on the main screen, with mouse capture, bracketed paste off and the cursor shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const GUARD: Duration = Duration::from_secs(60);
const ENTER_ALT: &str = "\x1b[?1049h";
const LEAVE_ALT: &str = "\x1b[?1049l";

/// The example binary built by `cargo test` next to this test's executable.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join(name);
    assert!(path.exists(), "build the example first: {}", path.display());
    path
}

/// Runs `shell` in a fresh 80×24 pty, then prints the pty's modes with `stty -a`. When `keys`
/// is given, waits for its first string in the output, then types its bytes.
fn in_pty(shell: &str, keys: Option<(&str, &[u8])>) -> String {
    let line = format!("{shell}; s=$?; echo; echo EXIT=$s; stty -a");
    let mut child = procs::under_pty(80, 24, &line)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs commands under a pty");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + GUARD;
    let mut out = Vec::new();
    let mut stdin = child.stdin.take().unwrap();
    let mut pending = keys;
    loop {
        if let Some((wait, bytes)) = pending
            && String::from_utf8_lossy(&out).contains(wait)
        {
            stdin.write_all(bytes).unwrap();
            stdin.flush().unwrap();
            pending = None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => out.extend(chunk),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!(
                    "timed out; output so far: {:?}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
    drop(stdin);
    child.wait().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The pty's modes after the program ended, from `stty -a`.
fn stty_flags(out: &str) -> Vec<String> {
    let at = out.rfind("speed ").expect("stty -a ran");
    out[at..]
        .split_whitespace()
        .map(|w| w.trim_end_matches(';').to_owned())
        .collect()
}

/// Asserts the terminal is fully restored; returns the text from the first restore after the
/// last entry into the alternate screen.
fn assert_restored(out: &str) -> &str {
    let flags = stty_flags(out);
    for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(
            flags.iter().any(|f| f == mode),
            "{mode} is off after exit: {flags:?}"
        );
    }
    let entered = out
        .rfind(ENTER_ALT)
        .expect("the alternate screen was entered");
    let left = out[entered..]
        .find(LEAVE_ALT)
        .expect("the alternate screen was left after it was entered");
    let tail = &out[entered + left..];
    for (what, seq) in [
        ("bracketed paste off", "\x1b[?2004l"),
        ("mouse capture off", "\x1b[?1000l"),
        ("cursor shown", "\x1b[?25h"),
    ] {
        assert!(out[entered..].contains(seq), "{what} missing");
    }
    tail
}

#[test]
fn the_checker_notices_a_terminal_left_in_raw_mode() {
    let out = in_pty(&format!("printf '{ENTER_ALT}'; stty raw -echo"), None);
    let flags = stty_flags(&out);
    assert!(flags.iter().any(|f| f == "-icanon"), "{flags:?}");
    let result = std::panic::catch_unwind(|| {
        assert_restored(&out);
    });
    assert!(result.is_err(), "a raw terminal must fail the check");
}

#[test]
fn quitting_the_real_tui_restores_the_terminal() {
    let bin = env!("CARGO_BIN_EXE_turnscope");
    // The header names the model once the first frame is drawn; then Ctrl-C quits.
    let out = in_pty(
        &format!("{bin} --no-record --emulator-latency zero --model restore-check-model"),
        Some(("restore-check-model", b"\x03")),
    );
    let tail = assert_restored(&out);
    assert!(tail.contains("EXIT=0"), "{tail:?}");
}

#[test]
fn an_error_out_of_a_tui_path_restores_the_terminal() {
    let out = in_pty(
        &format!("{} error", example("terminal_exit").display()),
        None,
    );
    let tail = assert_restored(&out);
    assert!(tail.contains("a simulated failure"), "{tail:?}");
    assert!(tail.contains("EXIT=1"), "{tail:?}");
}

#[test]
fn a_panic_with_the_guard_alive_restores_the_terminal_before_the_message() {
    let out = in_pty(
        &format!("{} panic", example("terminal_exit").display()),
        None,
    );
    let tail = assert_restored(&out);
    assert!(
        tail.contains("a simulated panic while the guard is alive"),
        "the panic message prints on the restored screen: {tail:?}"
    );
    assert!(tail.contains("EXIT=101"), "{tail:?}");
}

#[test]
fn the_panic_hook_alone_restores_the_terminal() {
    let out = in_pty(
        &format!("{} hook", example("terminal_exit").display()),
        None,
    );
    let tail = assert_restored(&out);
    assert!(
        tail.contains("a simulated panic with the guard leaked"),
        "{tail:?}"
    );
    // The binary's hook prints panic messages redacted.
    assert!(
        tail.contains("quoting [REDACTED]") && !tail.contains("TURNSCOPETESTKEY"),
        "{tail:?}"
    );
    assert!(tail.contains("EXIT=101"), "{tail:?}");
}

#[test]
fn a_normal_exit_through_the_guard_restores_the_terminal() {
    let out = in_pty(&format!("{} ok", example("terminal_exit").display()), None);
    let tail = assert_restored(&out);
    assert!(tail.contains("EXIT=0"), "{tail:?}");
}
