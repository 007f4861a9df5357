//! `stats` and `stats --json` print, byte for byte, what they printed before issue 18's speed and
//! memory work: tests/fixtures/stats_golden/ holds both outputs of every fixture transcript, made
//! by the build of main at 1ebe7ca (the report redacted line by line then). `leaky.tsjsonl`
//! quotes a key in a lane, a tool call's name and arguments, an error message, a close reason
//! and the URL, so the redaction done as strings are written is held to the old bytes too.
//!
//! An intended change of the report regenerates them: `STATS_GOLDEN_UPDATE=1 cargo test --test
//! cli_stats_golden`, then read the diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = [
        "tests/fixtures",
        "tests/fixtures/real",
        "tests/fixtures/stats_golden",
    ]
    .iter()
    .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
    .map(|e| e.unwrap().path())
    .filter(|p| p.extension().is_some_and(|x| x == "tsjsonl"))
    .map(|p| p.strip_prefix(root).unwrap().to_owned())
    .collect();
    files.sort();
    files
}

/// The golden file's name: the fixture's path under tests/fixtures, `/` as `__`.
fn golden(fixture: &Path, ext: &str) -> PathBuf {
    let rel = fixture.strip_prefix("tests/fixtures").unwrap();
    let stem = rel.to_str().unwrap().replace('/', "__");
    let stem = stem.strip_suffix(".tsjsonl").unwrap();
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stats_golden")
        .join(format!("{stem}.{ext}"))
}

#[test]
fn stats_outputs_are_byte_identical_to_the_golden_files() {
    let update = std::env::var_os("STATS_GOLDEN_UPDATE").is_some();
    // No user config (a price table there would change the costs).
    let home = tempfile::tempdir().unwrap();
    let files = fixtures();
    assert!(files.len() >= 20, "fixtures not found: {files:?}");
    let mut checked = 0;
    for fixture in &files {
        for (args, ext) in [(&["--json"][..], "json"), (&[][..], "txt")] {
            let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("HOME", home.path())
                .env("XDG_CONFIG_HOME", home.path())
                .arg("stats")
                .arg(fixture)
                .args(args)
                .output()
                .unwrap();
            let path = golden(fixture, ext);
            if update {
                std::fs::write(&path, &out.stdout).unwrap();
                continue;
            }
            let expected = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e}; see this file's header", path.display()));
            assert!(
                out.stdout == expected,
                "stats {args:?} {} differs from {}:\n{}",
                fixture.display(),
                path.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            checked += 1;
        }
    }
    assert!(update || checked == files.len() * 2);
}
