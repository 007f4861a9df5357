//! One-line errors from the real binary: each cause said once, the thing named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn turnscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(args)
        .env("TURNSCOPE_CONFIG", "")
        .arg("--ignore-config")
        .output()
        .unwrap()
}

#[test]
fn a_missing_or_directory_transcript_says_the_os_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tsjsonl");
    for args in [
        ["stats", missing.to_str().unwrap()],
        ["rerun", dir.path().to_str().unwrap()],
    ] {
        let out = turnscope(&args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches("os error").count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_busy_port_says_so_once_and_names_the_flag() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = turnscope(&["proxy", "--no-tui", "--no-record", "--listen", &addr]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().last().unwrap_or_default();
    assert_eq!(line.matches("os error").count(), 1, "{err}");
    assert!(line.contains("--listen") && line.contains(&addr), "{err}");
}
