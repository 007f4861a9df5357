//! `turnscope whatif` on recordings: the other mode's bytes are the ledger's full context, the
//! cost is the same in both modes, the profile used is named, and recordings it cannot
//! predict (empty, one turn, no turn with usage) get one clear line and exit status 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const FIXTURE: &str = "tests/fixtures/tool_loop.tsjsonl";

fn whatif(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("whatif")
        .arg("--ignore-config")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_websocket_recording_as_http_resends_the_full_context() {
    let (_, frames, _) = turnscope::transcript::read_all(Path::new(FIXTURE)).unwrap();
    let ledger = turnscope::ledger::Ledger::from_frames(&frames);
    let out = whatif(&["--json", "--profile", "realistic", FIXTURE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["turns"].as_array().unwrap().len(), 5);
    for (t, l) in doc["turns"].as_array().unwrap().iter().zip(ledger.turns()) {
        assert_eq!(t["mode"], "web_socket");
        assert_eq!(t["measured"]["bytes"], l.incremental.bytes);
        assert_eq!(t["predicted"]["bytes"], l.full_context.bytes);
        assert_eq!(
            t["predicted"]["uncached_tokens"],
            t["measured"]["uncached_tokens"]
        );
    }
    assert_eq!(
        doc["predicted"]["bytes"],
        ledger.totals().full_context.bytes
    );
    assert_eq!(doc["profile"]["name"], "realistic");
    assert_eq!(doc["http_style"], "resend");
    assert!(
        doc["cost_note"]
            .as_str()
            .unwrap()
            .starts_with("The price per token is the same")
    );

    let out = whatif(&[FIXTURE]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("websocket → http; profile realistic (the default;"),
        "{text}"
    );
    assert!(text.contains("sent 890B → 2.6K"), "{text}");
    assert!(text.contains("cost n/a (no price for gpt-test;"), "{text}");
}

#[test]
fn recordings_it_cannot_predict_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<&str> = include_str!("fixtures/tool_loop.tsjsonl").lines().collect();
    let header = lines[0];
    let write = |name: &str, body: &[&str]| {
        let path = dir.path().join(name);
        let mut text = String::from(header);
        text.push('\n');
        for l in body {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let empty = write("empty.tsjsonl", &[]);
    // The first turn: connect, create, … its response.completed (line 7 of the fixture).
    let one = write("one.tsjsonl", &lines[1..7]);
    let create = r#"{"t_us":1000,"wall":"2026-11-25T10:00:00.001000Z","conn":0,"dir":"sent","frame":{"type":"response.create","model":"gpt-test","input":"hi"}}"#;
    let error = r#"{"t_us":2000,"wall":"2026-11-25T10:00:00.002000Z","conn":0,"dir":"recv","frame":{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"previous_response_not_found","message":"gone","param":null}}}"#;
    let errored = write("errored.tsjsonl", &[lines[1], create, error, create, error]);
    for (path, want) in [
        (&empty, "has no turns; record an agent session"),
        (
            &one,
            "has one turn; the modes differ only on continued turns",
        ),
        (
            &errored,
            "none of its 2 turns finished with usage (2 error)",
        ),
    ] {
        let out = whatif(&[path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(want), "{}: {err}", path.display());
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let out = whatif(&["--profile", "nope", FIXTURE]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("nope") && err.contains("realistic"), "{err}");
}
