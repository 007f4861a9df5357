//! CONTRIBUTING's dependency rules, checked on the source: data flows from sources through the
//! ledger to the screens, so only `tui` and `cli` (and `main`) name `crate::tui` or the terminal
//! crates; `replay` in particular keeps the data work and imports nothing from the screens;
//! and only `protocol` declares serde views of wire events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// Modules allowed to name the screens and the terminal crates.
const SCREEN_SIDE: &[&str] = &["tui", "cli", "main", "lib"];

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top module a file under `src/` belongs to: `replay` for `src/replay.rs` and
/// `src/replay/index/worker.rs`.
fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// Lines of code in `text`: comments (`//`, `//!`, `///`) dropped, so prose may name anything.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
}

/// `file:line: text` for every code line of a data-side module that names a screen-side thing.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in &files {
        let module = top_module(src, file);
        if SCREEN_SIDE.contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            let bad = ["crate::tui", "crate::cli", "ratatui", "crossterm"]
                .iter()
                .find(|name| line.contains(*name));
            if let Some(name) = bad {
                found.push(format!(
                    "{}:{n}: `{module}` names {name}: {}",
                    file.display(),
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn only_the_screens_and_the_cli_import_tui_and_the_terminal_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "data-side modules must not import the screens (CONTRIBUTING, Where code goes):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_replay_file_that_imports_tui() {
    // The rule's own negative control: the same check over a copy with one bad line.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("replay")).unwrap();
    std::fs::create_dir_all(src.join("tui")).unwrap();
    std::fs::write(
        src.join("replay.rs"),
        "//! Mentions crate::tui in prose only.\n",
    )
    .unwrap();
    std::fs::write(src.join("replay/filter.rs"), "use crate::tui::app::App;\n").unwrap();
    std::fs::write(src.join("tui/app.rs"), "use ratatui::Frame;\n").unwrap();
    let found = violations(&src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("replay/filter.rs:1"), "{found:?}");
}

/// Files outside `src/protocol` allowed to declare a serde `type` field, and why.
const NOT_THE_WIRE: &[(&str, &str)] = &[(
    "src/har/read.rs",
    "a HAR `_webSocketMessages` entry's `type` is send/receive, a browser's recording format",
)];

/// The rule of issue 15: what an event's `type` is gets decided in `protocol` (see
/// `protocol::head`), so no other module declares its own serde view of wire JSON.
#[test]
fn only_protocol_declares_serde_views_of_wire_events() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(
        files.len() > 50,
        "src/ was not found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "src/protocol.rs"
            || rel.starts_with("src/protocol/")
            || NOT_THE_WIRE.iter().any(|(f, _)| *f == rel)
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if squeezed.contains(r#"rename="type""#)
                || squeezed.contains(r#"tag="type""#)
                || squeezed.contains("r#type")
            {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "serde views of wire events outside src/protocol; read them through \
         protocol::{{EventHead, RequestHead, ResponseHead, ItemHead}} instead:\n{}",
        found.join("\n")
    );
}
