//! `rerun` against the in-process emulator over real sockets: ids and call ids remapped,
//! reconnects reproduced, the comparison and the new transcript checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::ledger::{Ledger, TurnStatus};
use turnscope::replay::rerun::{self, RerunConfig};
use turnscope::session::{self, SessionCommand, SessionConfig, SessionEvent};
use turnscope::transcript::read_all;

const KEY: &str = "test-key-rerun";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn config(url: String, record: PathBuf) -> RerunConfig {
    RerunConfig {
        url,
        api_key: Some(KEY.into()),
        record: Some(record),
        model: None,
        timeout: Duration::from_secs(20),
    }
}

/// Records a two-turn tool loop with the live session: the persona calls `run_tests`, the
/// client answers with its output.
async fn record_tool_loop(url: String, path: &Path) {
    let handle = session::spawn(
        SessionConfig {
            url,
            api_key: Some(KEY.into()),
            record: Some(path.to_owned()),
            ..SessionConfig::default()
        },
        CancellationToken::new(),
    );
    let mut handle = handle;
    let mut ledger = Ledger::new();
    let tools = json!([{"type":"function","name":"run_tests","parameters":{"type":"object","properties":{}}}]);
    let first = json!({"type":"response.create","model":"gpt-4.1-mini","store":false,"tools":tools,
        "input":[{"type":"message","role":"user","content":"please call run_tests"}]});
    handle.send(SessionCommand::Send(first.to_string()));
    let wait_final = async |handle: &mut session::SessionHandle, ledger: &mut Ledger, n: usize| {
        while ledger.turns().len() < n || !ledger.turns()[n - 1].status.is_final() {
            match tokio::time::timeout(Duration::from_secs(20), handle.events.recv()).await {
                Ok(Some(SessionEvent::Frame(f))) => {
                    ledger.push(&f);
                }
                Ok(Some(_)) => {}
                other => panic!("session ended: {other:?}"),
            }
        }
    };
    wait_final(&mut handle, &mut ledger, 1).await;
    let turn = &ledger.turns()[0];
    assert_eq!(turn.status, TurnStatus::Completed);
    let call = turn
        .tool_calls
        .first()
        .expect("the persona calls run_tests")
        .clone();
    let second = json!({"type":"response.create","model":"gpt-4.1-mini","store":false,"tools":tools,
        "previous_response_id": turn.response_id,
        "input":[{"type":"function_call_output","call_id":call.call_id,"output":"2 passed"}]});
    handle.send(SessionCommand::Send(second.to_string()));
    wait_final(&mut handle, &mut ledger, 2).await;
    assert_eq!(ledger.turns()[1].status, TurnStatus::Completed);
    handle.send(SessionCommand::Close);
    while handle.events.recv().await.is_some() {}
}

fn sent_creates(path: &Path) -> Vec<Value> {
    let (_, frames, _) = read_all(path).unwrap();
    frames
        .iter()
        .filter(|f| f.dir == turnscope::frame::Dir::Sent)
        .filter_map(|f| serde_json::from_str(f.payload.json()?).ok())
        .collect()
}

#[tokio::test]
async fn a_tool_loop_reruns_with_new_response_and_call_ids() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("loop.tsjsonl");
    let first = emulator::start(EmulatorConfig::default()).await.unwrap();
    record_tool_loop(first.ws_url(), &recorded).await;
    first.shutdown().await;

    let second = emulator::start(EmulatorConfig::default()).await.unwrap();
    let out = dir.path().join("loop.rerun.tsjsonl");
    let (_, frames, _) = read_all(&recorded).unwrap();
    let comparison = rerun::rerun(&frames, &config(second.ws_url(), out.clone())).await;
    second.shutdown().await;

    assert_eq!(comparison.stopped, None, "{}", rerun::table(&comparison));
    assert_eq!(comparison.rows.len(), 2);
    for row in &comparison.rows {
        assert_eq!(row.old.status, "done");
        assert_eq!(row.new.as_ref().unwrap().status, "done", "{row:?}");
    }
    assert_eq!(comparison.recorded_to.as_deref(), Some(out.as_path()));

    // The second create continues the new first response and answers its new call.
    let old = sent_creates(&recorded);
    let new = sent_creates(&out);
    assert_eq!(new.len(), 2);
    let new_first_id = comparison.rows[0].new.as_ref().unwrap().response_id.clone();
    let old_first_id = comparison.rows[0].old.response_id.clone();
    assert_ne!(new_first_id, old_first_id);
    assert_eq!(
        new[1]["previous_response_id"].as_str(),
        new_first_id.as_deref()
    );
    assert_ne!(new[1]["input"][0]["call_id"], old[1]["input"][0]["call_id"]);
    assert_eq!(new[1]["input"][0]["output"], "2 passed");
    // Cached tokens are reported for the continued turn: prompt caching's figure, 0 for a
    // prompt this short (under 1024 tokens), whatever the connection cache continued.
    let cached = comparison.rows[1].new.as_ref().unwrap().cached_tokens;
    assert_eq!(cached, Some(0), "{comparison:?}");
    let table = rerun::table(&comparison);
    assert!(
        table.contains("status (old)") && table.contains("done"),
        "{table}"
    );
}

#[tokio::test]
async fn a_recorded_reconnect_is_reproduced_and_its_error_matches() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rc.tsjsonl");
    let (_, frames, _) = read_all(&fixture("reconnect_store_false.tsjsonl")).unwrap();
    // The fixture names a made-up model; `turnscope rerun` lets any recorded model through.
    let emu = emulator::start(EmulatorConfig {
        extra_models: vec!["*".into()],
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let comparison = rerun::rerun(&frames, &config(emu.ws_url(), out.clone())).await;
    emu.shutdown().await;
    assert_eq!(comparison.stopped, None);
    let statuses: Vec<_> = comparison
        .rows
        .iter()
        .map(|r| {
            (
                r.old.status.as_str(),
                r.new.as_ref().unwrap().status.clone(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("done", "done".to_owned()),
            ("error", "error".to_owned()),
            ("done", "done".to_owned())
        ]
    );
    assert_eq!(
        comparison.rows[1].new.as_ref().unwrap().error.as_deref(),
        Some("previous_response_not_found")
    );
    let (_, new_frames, _) = read_all(&out).unwrap();
    let ledger = Ledger::from_frames(&new_frames);
    assert_eq!(ledger.connections().len(), 2, "the rerun reconnected too");
}

#[tokio::test]
async fn an_unreachable_server_stops_with_a_clear_message() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/v1/responses", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let (_, frames, _) = read_all(&fixture("tool_loop.tsjsonl")).unwrap();
    let comparison = rerun::rerun(&frames, &config(url, dir.path().join("x.tsjsonl"))).await;
    let why = comparison.stopped.clone().unwrap();
    assert!(why.contains("connection refused"), "{why}");
    assert!(comparison.rows.iter().all(|r| r.new.is_none()));
    assert!(rerun::table(&comparison).contains("not sent"));
}

#[test]
fn the_cli_reruns_a_fixture_against_the_built_in_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two.rerun.tsjsonl");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("rerun")
        .arg(fixture("two_lanes.tsjsonl"))
        .arg("--record")
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    // The persona makes no tool call, so the recorded call_10 output has nothing to answer:
    // that turn ends differently, and a rerun that differs in status fails by default.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--allow-status-changes"),
        "{output:?}"
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["rows"].as_array().unwrap().len(), 3);
    assert_eq!(doc["rows"][0]["new"]["status"], "done");
    assert_eq!(doc["rows"][2]["new"]["error"], "invalid_value");
    assert_eq!(doc["status_changes"], json!([3]));
    assert!(out.exists());
    let allowed = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("rerun")
        .arg(fixture("two_lanes.tsjsonl"))
        .arg("--record")
        .arg(&out)
        .arg("--allow-status-changes")
        .output()
        .unwrap();
    assert!(allowed.status.success(), "{allowed:?}");

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("rerun")
        .arg(fixture("two_lanes.tsjsonl"))
        .arg("--record")
        .arg(fixture("two_lanes.tsjsonl"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("would overwrite"));
}

#[tokio::test]
async fn a_live_recording_replays_with_its_diff_and_export() {
    use turnscope::replay::{Index, IndexOptions};
    use turnscope::tui::replay::app::{ReplayAction, ReplayApp, update};
    use turnscope::tui::replay::resolve::resolve;

    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("live.tsjsonl");
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    record_tool_loop(emu.ws_url(), &recorded).await;
    emu.shutdown().await;

    let index = Index::open(&recorded, IndexOptions::default()).unwrap();
    assert!(index.wait_complete(Duration::from_secs(20)).complete());
    let mut app = ReplayApp::new(
        "live.tsjsonl".into(),
        index.header().clone(),
        turnscope::tui::theme::Theme::default(),
    );
    app.export_dir = dir.path().to_owned();
    for action in [
        ReplayAction::StepTurn(1),
        ReplayAction::StepTurn(1),
        ReplayAction::ShowDiff { http: true },
    ] {
        update(&mut app, action);
        resolve(&mut app, &index);
    }
    let (turn, _) = app.selection.clone().unwrap().turn.unwrap();
    assert_eq!(turn, 1);
    let diff = app.diff.clone().expect("turn 2 has a request to compare");
    // HTTP mode resends the first turn's user message and function call.
    assert!(diff.added > 0 && diff.removed > 0, "{diff:?}");
    update(
        &mut app,
        ReplayAction::Export(turnscope::tui::replay::app::ExportKind::Turn),
    );
    resolve(&mut app, &index);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("live.turn2.json")).unwrap())
            .unwrap();
    assert_eq!(doc["turn"]["status"], "completed");
    assert_eq!(doc["request"]["input"][0]["output"], "2 passed");
}

/// Sends `event` and pumps frames into `ledger` until `done` holds.
async fn send_until(
    handle: &mut session::SessionHandle,
    ledger: &mut Ledger,
    event: &Value,
    done: impl Fn(&Ledger) -> bool,
) {
    handle.send(SessionCommand::Send(event.to_string()));
    while !done(ledger) {
        match tokio::time::timeout(Duration::from_secs(20), handle.events.recv()).await {
            Ok(Some(SessionEvent::Frame(f))) => {
                ledger.push(&f);
            }
            Ok(Some(_)) => {}
            other => panic!("session ended: {other:?}"),
        }
    }
}

/// A recording with a warm-up, a steer (and its successor), a raw event the server refuses and
/// a later turn: every id is mapped, rows pair by request, and the statuses match.
#[tokio::test]
async fn steers_warm_ups_and_refused_events_rerun_with_every_id_mapped() {
    let slow = EmulatorConfig {
        latency: turnscope::emulator::LatencyProfile {
            name: "test-slow".into(),
            ttft_ms: 300.0,
            ..turnscope::emulator::LatencyProfile::zero()
        },
        ..EmulatorConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("steer.tsjsonl");
    let emu = emulator::start(slow.clone()).await.unwrap();
    let mut handle = session::spawn(
        SessionConfig {
            url: emu.ws_url(),
            api_key: Some(KEY.into()),
            record: Some(recorded.clone()),
            ..SessionConfig::default()
        },
        CancellationToken::new(),
    );
    let mut ledger = Ledger::new();
    let ended =
        |n: usize| move |l: &Ledger| l.turns().len() >= n && l.turns()[n - 1].status.is_final();
    let warm = json!({"type":"response.create","model":"gpt-4.1-mini","store":false,"generate":false,
        "input":[{"type":"message","role":"user","content":"you are terse"}]});
    send_until(&mut handle, &mut ledger, &warm, ended(1)).await;
    let warm_id = ledger.turns()[0].response_id.clone().unwrap();
    let essay = json!({"type":"response.create","model":"gpt-4.1-mini","store":false,
        "previous_response_id": warm_id, "input":[{"type":"message","role":"user","content":"write a long essay"}]});
    send_until(&mut handle, &mut ledger, &essay, |l| {
        l.turns().len() >= 2 && l.turns()[1].response_id.is_some()
    })
    .await;
    let essay_id = ledger.turns()[1].response_id.clone().unwrap();
    let steer =
        json!({"type":"response.steer","previous_response_id": essay_id, "input":"just say hi"});
    send_until(&mut handle, &mut ledger, &steer, ended(3)).await;
    assert!(
        ledger.turns()[2].steered_successor,
        "the steer was accepted"
    );
    let successor_id = ledger.turns()[2].response_id.clone().unwrap();
    let frames_before = ledger.frame_count();
    let raw = json!({"type":"response.bogus"});
    send_until(&mut handle, &mut ledger, &raw, |l| {
        l.frame_count() >= frames_before + 2
    })
    .await;
    let last = json!({"type":"response.create","model":"gpt-4.1-mini","store":false,
        "previous_response_id": successor_id, "input":[{"type":"message","role":"user","content":"thanks"}]});
    let turns = ledger.turns().len();
    send_until(&mut handle, &mut ledger, &last, ended(turns + 1)).await;
    handle.send(SessionCommand::Close);
    while handle.events.recv().await.is_some() {}
    emu.shutdown().await;
    let old_ids: Vec<String> = ledger
        .turns()
        .iter()
        .filter_map(|t| t.response_id.clone())
        .collect();

    let emu = emulator::start(slow).await.unwrap();
    let out = dir.path().join("steer.rerun.tsjsonl");
    let (_, frames, _) = read_all(&recorded).unwrap();
    let comparison = rerun::rerun(&frames, &config(emu.ws_url(), out.clone())).await;
    emu.shutdown().await;
    let table = rerun::table(&comparison);
    assert_eq!(comparison.stopped, None, "{table}");
    assert_eq!(comparison.rows.len(), ledger.turns().len(), "{table}");
    for (row, turn) in comparison.rows.iter().zip(ledger.turns()) {
        assert_eq!(row.turn, turn.index, "{table}");
        assert_eq!(row.old.response_id, turn.response_id, "{table}");
    }
    assert_eq!(comparison.status_changes, Vec::<usize>::new(), "{table}");
    // No event of the rerun names a recorded id: the steer and the warm-up's child included.
    let (_, new_frames, _) = read_all(&out).unwrap();
    for f in new_frames
        .iter()
        .filter(|f| f.dir == turnscope::frame::Dir::Sent)
    {
        let text = String::from_utf8_lossy(f.payload.as_bytes());
        for id in &old_ids {
            assert!(
                !text.contains(id.as_str()),
                "{text} still names {id}\n{table}"
            );
        }
    }
}
