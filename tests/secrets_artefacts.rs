//! A transcript that turnscope did not write (another tool, an old version, a hand edit) can
//! hold keys; what turnscope makes of it — `stats --json`, the stats table, replay exports —
//! never does. The keys are never given as secrets: the shape rules must find them, also after
//! a JSON escape and inside a JSON document nested in a string.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use turnscope::replay::{Index, IndexOptions};
use turnscope::tui::replay::app::{ExportKind, ReplayAction, ReplayApp, update};
use turnscope::tui::replay::resolve::resolve;
use turnscope::tui::theme::Theme;

const KEY: &str = "sk-proj-ARTEFACTSTESTKEY0123456789abcdef";
const PARTS: [&str; 2] = ["ARTEFACTSTESTKEY", "0123456789abcdef"];

/// A tool loop turn whose request, function arguments and error message all quote the key.
fn leaky_transcript(dir: &std::path::Path) -> std::path::PathBuf {
    let create = serde_json::json!({"type": "response.create", "model": "gpt-5.1",
        "input": [{"type": "message", "role": "user", "content": format!("my key:\n{KEY}")}]});
    let args = serde_json::json!({"token": format!("x\t{KEY}")}).to_string();
    let done = serde_json::json!({"type": "response.function_call_arguments.done",
        "sequence_number": 1, "item_id": "fc_1", "output_index": 0, "arguments": args});
    let error = serde_json::json!({"type": "error", "status": 401, "sequence_number": 2,
        "error": {"type": "invalid_request_error", "code": "invalid_api_key",
            "message": format!("Incorrect API key provided: \"{KEY}\"")}});
    let lines = [
        r#"{"turnscope":1,"created":"2026-01-01T00:00:00Z","source":"proxy","url":"ws://127.0.0.1:1/v1/responses?api-key=QUERYSECRET99","model":null}"#.to_owned(),
        format!(r#"{{"t_us":0,"wall":"2026-01-01T00:00:00Z","conn":0,"dir":"sent","frame":{create}}}"#),
        format!(r#"{{"t_us":10,"wall":"2026-01-01T00:00:00Z","conn":0,"dir":"recv","frame":{done}}}"#),
        format!(r#"{{"t_us":20,"wall":"2026-01-01T00:00:00Z","conn":0,"dir":"recv","frame":{error}}}"#),
    ];
    let path = dir.join("leaky.tsjsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("\\nsk-proj-ARTEFACTS")
    );
    path
}

fn assert_clean(name: &str, text: &str) {
    for part in PARTS.iter().chain(&["QUERYSECRET99"]) {
        assert!(!text.contains(part), "{part} in {name}: {text}");
    }
}

#[test]
fn stats_output_never_quotes_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = leaky_transcript(dir.path());
    for args in [vec!["--json"], vec![]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .arg("stats")
            .arg(&path)
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !args.is_empty() {
            assert!(
                stdout.contains("[REDACTED]"),
                "the JSON keeps the message: {stdout}"
            );
        }
        assert_clean(&format!("stats {args:?}"), &stdout);
        assert_clean("stats stderr", &String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn replay_exports_never_hold_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = leaky_transcript(dir.path());
    let index = Index::open(&path, IndexOptions::default()).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    let mut app = ReplayApp::new(
        "leaky.tsjsonl".into(),
        index.header().clone(),
        Theme::default(),
    );
    update(
        &mut app,
        ReplayAction::Resized {
            width: 80,
            height: 24,
        },
    );
    resolve(&mut app, &index);
    let out = tempfile::tempdir().unwrap();
    app.export_dir = out.path().to_owned();
    for kind in [ExportKind::Frame, ExportKind::Turn] {
        update(&mut app, ReplayAction::Export(kind));
        resolve(&mut app, &index);
    }
    let files: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?} {:?}", app.message);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("[REDACTED]"), "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
        assert_clean(&file.display().to_string(), &text);
    }
}
