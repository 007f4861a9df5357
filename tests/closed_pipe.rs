//! A closed stdout (`turnscope … | head`) ends the program quietly with status 0, never a
//! panic: each subcommand writes into a real pipe whose reading end was closed before it started.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `turnscope ARGS` with stdout (or stderr) a pipe nobody reads; returns (status, stderr).
fn closed(args: &[&str], close_stderr: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnscope"));
    cmd.args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("TURNSCOPE_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-turnscope-config-home")
        .stdin(Stdio::null());
    if close_stderr {
        cmd.stdout(Stdio::null()).stderr(writer);
    } else {
        cmd.stdout(writer).stderr(Stdio::piped());
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_printing_subcommand_ends_quietly_on_a_closed_stdout() {
    let tool_loop = fixture("tool_loop.tsjsonl");
    let cases: [&[&str]; 8] = [
        &["stats", &tool_loop, "--json"],
        &["stats", &tool_loop],
        &["themes"],
        &["config"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &[
            "bench",
            "--runs",
            "1",
            "--tool-calls",
            "1",
            "--latency",
            "zero",
            "--json",
        ],
    ];
    for args in cases {
        let (code, stderr) = closed(args, false);
        assert_eq!(code, Some(0), "turnscope {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "turnscope {args:?}: {stderr}");
        assert!(
            !stderr.contains("Broken pipe"),
            "turnscope {args:?}: {stderr}"
        );
    }
}

#[test]
fn a_closed_stderr_does_not_panic_either() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tsjsonl");
    let good = std::fs::read_to_string(fixture("tool_loop.tsjsonl")).unwrap();
    std::fs::write(&bad, format!("{good}not json\n")).unwrap();
    let (code, _) = closed(&["stats", bad.to_str().unwrap()], true);
    assert_eq!(code, Some(0), "a warning on a closed stderr");
}
