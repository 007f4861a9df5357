//! One-line errors from the real binary: each cause said once, the thing named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cli.rs"]
mod cli;

/// `turnscope ARGS --ignore-config`: these errors must not depend on a config file.
fn turnscope(args: &[&str]) -> std::process::Output {
    let mut args = args.to_vec();
    args.push("--ignore-config");
    cli::turnscope(&args, &[])
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

/// `--break bogus` and `--break x2y:*` never fired and were accepted silently (issue 16
/// item 11): refused at start, one line naming the spec and listing the valid forms.
#[test]
fn a_breakpoint_that_cannot_fire_is_refused_at_start() {
    for spec in ["bogus", "x2y:*"] {
        let out = turnscope(&[
            "proxy",
            "--no-record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:9/v1",
            "--break",
            spec,
        ]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{spec}: {err}");
        assert!(err.contains(&format!("{spec:?}")), "{err}");
        assert!(err.contains("valid forms") && err.contains("c2s:"), "{err}");
    }
}

#[test]
fn many_corrupt_lines_give_a_few_warnings_and_one_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.tsjsonl");
    let mut text = String::from(
        "{\"turnscope\":1,\"created\":\"2026-11-25T10:00:00Z\",\"source\":\"live\"}\n",
    );
    for i in 0..2000 {
        text.push_str(&format!("not json {i}\n"));
    }
    std::fs::write(&file, text).unwrap();
    for sub in ["stats", "rerun"] {
        let mut args = vec![sub, file.to_str().unwrap()];
        if sub == "rerun" {
            args.push("--json");
        }
        let out = turnscope(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        let warnings: Vec<&str> = err.lines().filter(|l| l.contains("bad.tsjsonl")).collect();
        assert_eq!(warnings.len(), 6, "{sub}: {err}");
        assert!(
            warnings[5].contains("1995 more corrupt lines skipped (2000 in all"),
            "{sub}: {err}"
        );
    }
}
