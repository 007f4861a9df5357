//! `turnscope stats` as a user runs it: the JSON report and one-line errors on bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn stats(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("stats")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn json_report_of_the_tool_loop() {
    let file = fixture("tool_loop.tsjsonl");
    let out = stats(&[file.as_os_str(), "--json".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    let t2 = &doc["turns"][1];
    assert_eq!(t2["index"], 2);
    assert_eq!(t2["status"], "done");
    assert_eq!(t2["previous_response_id"], "resp_1");
    assert_eq!(t2["incremental"]["bytes"], 207);
    assert_eq!(t2["full_context"]["bytes"], 344);
    assert_eq!(t2["saved"]["bytes"], 344 - 207);
    assert_eq!(t2["saved"]["pct_bytes"], 39.83); // 137 / 344
    assert_eq!(t2["cached_tokens"], 52);
    assert_eq!(t2["latency_us"]["created"], 20_000);
    // The fixture's call is announced at +30ms but no argument delta streams: no TTFT.
    assert_eq!(t2["latency_us"]["ttft"], Value::Null);
    assert_eq!(t2["latency_us"]["first_item"], 30_000);
    assert_eq!(doc["turns"][4]["latency_us"]["ttft"], 31_000);
    assert_eq!(t2["latency_us"]["total"], 50_000);
    assert_eq!(t2["gap_us"], 110_000);
    assert_eq!(t2["tool_calls"][0]["name"], "run_tests");
    assert_eq!(doc["totals"]["turns"], 5);
    assert_eq!(doc["totals"]["cached_tokens"], 422);
    assert_eq!(doc["connections"][0]["close_code"], 1000);
}

#[test]
fn table_report_has_a_row_per_turn_and_totals() {
    let file = fixture("tool_loop.tsjsonl");
    let out = stats(&[file.as_os_str()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1 + 5 + 1, "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("total: 5 turns on 1 connection")
    );
}

#[test]
fn truncated_file_reports_the_line_and_goes_on() {
    let file = fixture("truncated.tsjsonl");
    let out = stats(&[file.as_os_str(), "--json".as_ref()]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("truncated.tsjsonl: line 9: truncated last line"),
        "{err}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["skipped_lines"][0]["line"], 9);
    assert_eq!(doc["turns"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_files_get_one_line_errors_and_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    let not_transcript = dir.path().join("notes.txt");
    std::fs::write(&not_transcript, "hello\n").unwrap();
    let empty = dir.path().join("empty.tsjsonl");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.tsjsonl");
    for (path, expect) in [
        (&not_transcript, "not a turnscope transcript"),
        (&empty, "empty file"),
        (&missing, "No such file"),
    ] {
        let out = stats(&[path.as_os_str()]);
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("turnscope: ") && err.contains(expect),
            "{err}"
        );
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}

#[test]
fn bad_flags_are_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["stats", "--jsno", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jsno"));
}

#[test]
fn fail_on_exits_non_zero_with_a_summary() {
    let ok = stats(&[
        fixture("tool_loop.tsjsonl").as_os_str(),
        "--fail-on".as_ref(),
        "full-resend,cache-miss".as_ref(),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = stats(&[
        fixture("cause_tools_reordered.tsjsonl").as_os_str(),
        "--fail-on".as_ref(),
        "full-resend,cache-miss".as_ref(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8(bad.stderr).unwrap();
    assert!(err.contains("1 --fail-on violation(s): turn 2 cache-miss (tools reordered (now run_tests, read_file))"), "{err}");
    let resend = stats(&[
        fixture("reconnect_store_false.tsjsonl").as_os_str(),
        "--fail-on=full-resend".as_ref(),
    ]);
    assert_eq!(resend.status.code(), Some(1));
    assert!(
        String::from_utf8(resend.stderr)
            .unwrap()
            .contains("turn 3 full-resend")
    );
}

/// `--json` names the remedy of each verdict when the transcript says which client sent it
/// (the table prints none, so `stats` takes remedies only for `--json`).
#[test]
fn json_report_names_the_clients_remedies() {
    let fixture = std::fs::read_to_string(fixture("cause_tools_reordered.tsjsonl")).unwrap();
    let mut lines: Vec<&str> = fixture.lines().collect();
    let client = r#"{"t_us":0,"wall":"2026-11-25T10:00:00.000000Z","conn":0,"dir":"meta","frame":{"event":"client","headers":{"user-agent":"OpenAI/Python 3.51.0"}}}"#;
    lines.insert(2, client);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("python_client.tsjsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = stats(&[file.as_os_str(), "--json".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["turns"][0]["remedies"], serde_json::json!([]));
    let remedies = &doc["turns"][1]["remedies"];
    assert_eq!(remedies[0]["verdict"], "tools_reordered", "{doc:#}");
    assert!(
        remedies[0]["text"]
            .as_str()
            .unwrap()
            .contains("tools=[...]"),
        "{remedies}"
    );
    let table = stats(&[file.as_os_str()]);
    assert!(table.status.success());
    assert!(String::from_utf8(table.stdout).unwrap().contains("total:"));
}
