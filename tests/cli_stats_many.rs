//! `turnscope stats` at scale: the streamed JSON report is byte-for-byte the document it always
//! was, batched parallel folding changes no figure, and many files give a row each plus totals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use turnscope::ledger::Ledger;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn stats(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("stats")
        .args(args)
        .output()
        .unwrap()
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsjsonl"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "fixtures missing");
    files
}

#[test]
fn streamed_json_is_the_pretty_printed_document_byte_for_byte() {
    for file in fixture_files() {
        let out = stats(&[&file, Path::new("--json")]);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let whole = format!("{}\n", serde_json::to_string_pretty(&doc).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            whole,
            "{}",
            file.display()
        );
    }
}

#[test]
fn batched_parallel_fold_gives_the_figures_of_a_frame_by_frame_fold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.tsjsonl");
    let mut data = Vec::new();
    // Over two of stats' 4 MB batches, so chains cross batch boundaries.
    turnscope::transcript::synth::write_synthetic(&mut data, 9_000_000, 3).unwrap();
    std::fs::write(&path, &data).unwrap();
    let (header, frames, skipped) = turnscope::transcript::read_all(&path).unwrap();
    let ledger = Ledger::from_frames(&frames);
    let mut expected = Vec::new();
    let name = path.display().to_string();
    let prices = turnscope::ledger::cost::Prices::builtin();
    turnscope::report::write_stats_json(&mut expected, &name, &header, &ledger, &skipped, &prices)
        .unwrap();
    let out = stats(&[&path, Path::new("--json")]);
    assert!(out.status.success());
    assert!(ledger.totals().full_context.tokens > 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn a_directory_gives_a_row_per_file_and_totals_that_add_up() {
    // The fixtures copied into a directory tree (one level nested, to show it is walked).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a transcript").unwrap();
    let mut files = Vec::new();
    for (i, file) in fixture_files().iter().enumerate() {
        let into = if i % 2 == 0 {
            dir.path().to_owned()
        } else {
            dir.path().join("nested")
        };
        let copy = into.join(file.file_name().unwrap());
        std::fs::copy(file, &copy).unwrap();
        files.push(copy);
    }
    files.sort();
    let out = stats(&[dir.path(), Path::new("--json")]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["files"].as_array().unwrap();
    assert_eq!(rows.len(), files.len());
    let mut turns = 0;
    let mut saved_tokens = 0;
    for (row, file) in rows.iter().zip(&files) {
        assert_eq!(row["file"], file.display().to_string());
        let one: Value =
            serde_json::from_slice(&stats(&[file, Path::new("--json")]).stdout).unwrap();
        assert_eq!(row["totals"], one["totals"], "{}", file.display());
        assert_eq!(row["frames"], one["frames"]);
        turns += one["totals"]["turns"].as_u64().unwrap();
        saved_tokens += one["totals"]["saved"]["tokens"].as_i64().unwrap();
    }
    assert_eq!(doc["totals"]["files"], files.len());
    assert_eq!(doc["totals"]["totals"]["turns"], turns);
    assert_eq!(doc["totals"]["totals"]["saved"]["tokens"], saved_tokens);
    // truncated.tsjsonl has a cut last line: reported, counted, not fatal.
    assert_eq!(doc["totals"]["skipped_lines"], 1);
    assert!(out.status.success());
}

#[test]
fn many_files_as_a_table_and_a_bad_one_named_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.tsjsonl");
    std::fs::write(&bad, "hello\n").unwrap();
    let a = fixtures().join("tool_loop.tsjsonl");
    let b = fixtures().join("two_lanes.tsjsonl");
    let out = stats(&[&a, &bad, &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    // Header, two rows, totals, and why the fixtures' cost is n/a (their model has no price).
    assert_eq!(lines.len(), 1 + 2 + 1 + 1, "{text}");
    assert!(
        lines[1].contains("tool_loop") && lines[2].contains("two_lanes"),
        "{text}"
    );
    assert!(lines[3].starts_with("total (2 files)"), "{text}");
    assert!(lines[4].starts_with("cost n/a (no price for "), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("notes.tsjsonl"), "{err}");
    assert_eq!(out.status.code(), Some(1), "a skipped file fails the run");
}
