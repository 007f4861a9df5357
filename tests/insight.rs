//! The ledger's verdicts on one fixture per cause.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use turnscope::ledger::{
    CacheOutcome, Cause, ConnEvent, Ledger, PROMPT_CACHE_MIN_TOKENS, SendMode, Transport,
};
use turnscope::transcript::read_all;

fn load(name: &str) -> Ledger {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let (_, frames, errors) = read_all(&path).unwrap();
    assert!(errors.is_empty());
    Ledger::from_frames(&frames)
}

#[test]
fn a_healthy_tool_loop_is_incremental_and_under_the_prompt_cache_minimum() {
    let ledger = load("tool_loop.tsjsonl");
    let turns = ledger.turns();
    assert_eq!(turns[0].insight.mode, SendMode::Fresh);
    for t in &turns[1..] {
        assert_eq!(t.insight.mode, SendMode::Incremental, "turn {}", t.index);
        assert!(
            t.insight.causes.is_empty(),
            "turn {}: {:?}",
            t.index,
            t.insight.causes
        );
    }
    // Turn 3's chain is far under the prompt cache's 1024-token minimum: whatever the server
    // reports, hit or miss says nothing (a hit is proven live in tests/insight_live.rs).
    assert!(turns[2].insight.expected_cached_tokens >= 64);
    assert!(turns[2].insight.expected_cached_tokens < PROMPT_CACHE_MIN_TOKENS);
    assert_eq!(turns[2].insight.cache, CacheOutcome::NotApplicable);
}

fn second_turn_miss(name: &str) -> Vec<Cause> {
    let ledger = load(name);
    let t = &ledger.turns()[1];
    assert_eq!(t.insight.mode, SendMode::Incremental);
    assert!(
        t.insight.expected_cached_tokens >= PROMPT_CACHE_MIN_TOKENS,
        "{}",
        t.insight.expected_cached_tokens
    );
    assert_eq!(t.insight.cache, CacheOutcome::Miss);
    t.insight.causes.clone()
}

#[test]
fn reordered_tools_explain_a_miss() {
    let causes = second_turn_miss("cause_tools_reordered.tsjsonl");
    assert_eq!(
        causes,
        [Cause::ToolsReordered {
            from: vec!["read_file".into(), "run_tests".into()],
            to: vec!["run_tests".into(), "read_file".into()],
        }]
    );
}

#[test]
fn changed_instructions_explain_a_miss() {
    assert_eq!(
        second_turn_miss("cause_instructions_changed.tsjsonl"),
        [Cause::InstructionsChanged]
    );
}

#[test]
fn compaction_explains_a_miss() {
    assert_eq!(
        second_turn_miss("cause_compaction.tsjsonl"),
        [Cause::Compaction]
    );
}

#[test]
fn reconnect_with_store_false_then_not_found_then_full_resend() {
    let ledger = load("reconnect_store_false.tsjsonl");
    let turns = ledger.turns();
    let rejected = &turns[1];
    assert_eq!(rejected.insight.causes, [Cause::StoreFalseAfterReconnect]);
    assert_eq!(
        rejected.insight.events,
        [ConnEvent::Reconnect {
            code: Some(1006),
            reason: Some("dropped".into())
        }]
    );
    // Nothing was streamed before the error: safe to retry.
    assert_eq!(rejected.insight.retry_safe, Some(true));
    let resend = &turns[2];
    let SendMode::FullResend {
        known_items,
        known_bytes,
        ..
    } = &resend.insight.mode
    else {
        panic!("expected a full resend, got {:?}", resend.insight.mode)
    };
    // All three items were seen before: the user message, the call, and its output.
    assert_eq!(*known_items, 3);
    let items = [
        r#"{"type":"message","role":"user","content":"hello"}"#,
        r#"{"type":"function_call","call_id":"call_1","name":"read_file","arguments":"{\"path\":\"a\"}"}"#,
        r#"{"type":"function_call_output","call_id":"call_1","output":"A"}"#,
    ];
    assert_eq!(
        *known_bytes,
        items.iter().map(|i| i.len() as u64).sum::<u64>()
    );
    assert_eq!(
        resend.insight.events,
        [ConnEvent::ResendAfterNotFound { after: 2 }]
    );
}

#[test]
fn http_turn_after_websocket_turns_is_a_fallback() {
    let ledger = load("http_fallback.tsjsonl");
    let turns = ledger.turns();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0].transport, Transport::WebSocket);
    assert_eq!(turns[1].transport, Transport::Http);
    assert_eq!(turns[1].insight.events, [ConnEvent::HttpFallback]);
    assert!(matches!(
        turns[1].insight.mode,
        SendMode::FullResend { known_items: 2, .. }
    ));
}

/// One run of a scripted agent on connection `conn`: a fresh turn that calls `call_same`, then
/// the call's output continuing it (`resp_{conn}a`). Scripted models (the emulator's scenarios)
/// give every run the same call ids.
fn scripted_run(conn: u32, t0: u64) -> Vec<turnscope::frame::Frame> {
    use turnscope::frame::Dir::{Recv, Sent};
    let frame = |t_us: u64, dir, json: String| turnscope::frame::Frame {
        t_us: t0 + t_us,
        wall: String::new(),
        conn,
        dir,
        payload: turnscope::frame::Payload::from_text(&json),
    };
    let call = r#"{"type":"function_call","call_id":"call_same","name":"run","arguments":"{}"}"#;
    let usage = r#"{"input_tokens":9,"input_tokens_details":{"cached_tokens":0},"output_tokens":1,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":10}"#;
    vec![
        frame(
            1,
            Sent,
            r#"{"type":"response.create","model":"m","input":[{"type":"message","role":"user","content":"go"}]}"#.into(),
        ),
        frame(
            2,
            Recv,
            format!(r#"{{"type":"response.created","response":{{"id":"resp_{conn}a","status":"in_progress"}}}}"#),
        ),
        frame(
            3,
            Recv,
            format!(r#"{{"type":"response.completed","response":{{"id":"resp_{conn}a","status":"completed","output":[{call}],"usage":{usage}}}}}"#),
        ),
        frame(
            4,
            Sent,
            format!(r#"{{"type":"response.create","model":"m","previous_response_id":"resp_{conn}a","input":[{{"type":"function_call_output","call_id":"call_same","output":"ok"}}]}}"#),
        ),
        frame(
            5,
            Recv,
            format!(r#"{{"type":"response.completed","response":{{"id":"resp_{conn}b","status":"completed","output":[],"usage":{usage}}}}}"#),
        ),
    ]
}

/// A second run of the same scripted agent repeats the first run's call ids on another chain:
/// its continuations are incremental, as the first run's are; only items of the chain a turn
/// continues make it a resend.
#[test]
fn call_ids_another_chain_used_are_not_a_resend() {
    let mut frames = scripted_run(0, 0);
    frames.extend(scripted_run(1, 100));
    let ledger = Ledger::from_frames(&frames);
    let turns = ledger.turns();
    assert_eq!(turns.len(), 4);
    for t in [&turns[1], &turns[3]] {
        assert_eq!(t.insight.mode, SendMode::Incremental, "turn {}", t.index);
    }
    // A resend on the second chain is still one: its call, sent again with the chain's id.
    let mut resend = frames.clone();
    resend.push(turnscope::frame::Frame {
        t_us: 300,
        wall: String::new(),
        conn: 1,
        dir: turnscope::frame::Dir::Sent,
        payload: turnscope::frame::Payload::from_text(
            r#"{"type":"response.create","model":"m","previous_response_id":"resp_1b","input":[{"type":"function_call","call_id":"call_same","name":"run","arguments":"{}"}]}"#,
        ),
    });
    let ledger = Ledger::from_frames(&resend);
    assert!(
        matches!(
            ledger.turns()[4].insight.mode,
            SendMode::FullResend { known_items: 1, .. }
        ),
        "{:?}",
        ledger.turns()[4].insight.mode
    );
}
