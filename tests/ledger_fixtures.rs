//! The ledger's numbers on hand-written fixtures, worked out by hand from the frames' text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use turnscope::ledger::{Ledger, TurnStatus};
use turnscope::tokens;
use turnscope::transcript::read_all;

fn load(name: &str) -> (Ledger, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let (_, frames, errors) = read_all(&path).unwrap();
    (Ledger::from_frames(&frames), errors.len())
}

/// Bytes HTTP mode saves by not sending `,"previous_response_id":"<id>"`.
fn prev_field(id: &str) -> u64 {
    (",\"previous_response_id\":\"\"".len() + id.len()) as u64
}

// The items of the tool-loop fixture, exactly as on the wire.
const USER: &str = r#"{"type":"message","role":"user","content":"fix the failing test"}"#;
const CALL1: &str = r#"{"type":"function_call","call_id":"call_1","name":"read_file","arguments":"{\"path\":\"src/lib.rs\"}"}"#;
const OUT1: &str = r#"{"type":"function_call_output","call_id":"call_1","output":"pub fn add(a: i32, b: i32) -> i32 { a - b }"}"#;
const CALL2: &str = r#"{"type":"function_call","call_id":"call_2","name":"run_tests","arguments":"{\"filter\":\"add\"}"}"#;

#[test]
fn tool_loop_incremental_full_context_and_savings() {
    let (ledger, skipped) = load("tool_loop.tsjsonl");
    assert_eq!(skipped, 0);
    let turns = ledger.turns();
    assert_eq!(turns.len(), 5);
    assert!(turns.iter().all(|t| t.status == TurnStatus::Completed));

    // Turn 1 has no parent: HTTP mode would send the same request.
    let t1 = &turns[0];
    assert_eq!(t1.incremental.bytes, 135);
    assert_eq!(t1.incremental.items, 1);
    assert_eq!(t1.full_context, t1.incremental);
    assert_eq!(t1.saved_bytes(), 0);

    // Turn 2 sends one function_call_output; HTTP would also resend USER and CALL1
    // (plus two commas) and drop the previous_response_id field.
    let t2 = &turns[1];
    assert_eq!(t2.incremental.bytes, 207);
    let chain_bytes = (USER.len() + CALL1.len() + 2) as u64;
    assert_eq!(
        t2.full_context.bytes,
        207 + chain_bytes - prev_field("resp_1")
    );
    assert_eq!(t2.full_context.bytes, 344);
    assert_eq!(t2.full_context.items, 3);
    let chain_tokens = (tokens::count(USER) + tokens::count(CALL1)) as u64;
    assert_eq!(t2.full_context.tokens, t2.incremental.tokens + chain_tokens);
    assert_eq!(t2.saved_tokens(), chain_tokens as i64);
    // The whole parent chain was on this connection: the ledger expects it cached.
    assert_eq!(t2.cache_estimate_tokens, chain_tokens);
    assert_eq!(t2.context_tokens, chain_tokens + tokens::count(OUT1) as u64);

    // Turn 3 carries turn 2's input and output too.
    let t3 = &turns[2];
    let chain3 = chain_bytes + (OUT1.len() + CALL2.len() + 2) as u64;
    assert_eq!(
        t3.full_context.bytes,
        t3.incremental.bytes + chain3 - prev_field("resp_2")
    );

    // Latencies: sent at +0, created at +20ms, the call announced (output_item.added) at
    // +30ms, completed at +50ms. The fixture streams no argument delta, so no event carried a
    // generated token: no TTFT, only a first item.
    assert_eq!(t2.latency_created_us(), Some(20_000));
    assert_eq!(t2.ttft_us(), None);
    assert_eq!(t2.first_item_latency_us(), Some(30_000));
    assert_eq!(t2.latency_total_us(), Some(50_000));
    // Gap: turn 1 completed at 51_000, turn 2 sent at 161_000.
    assert_eq!(t2.gap_us, Some(110_000));

    // Server-reported cache and the streamed answer.
    assert_eq!(
        turns
            .iter()
            .map(|t| t.cached_tokens().unwrap())
            .collect::<Vec<_>>(),
        [0, 52, 90, 130, 150]
    );
    assert_eq!(turns[4].output_text, "Fixed: add now adds.");
    assert_eq!(turns[0].tool_calls[0].name, "read_file");
    assert_eq!(turns[0].tool_calls[0].call_id, "call_1");

    // Totals are the sums of the turns.
    let totals = ledger.totals();
    assert_eq!(
        totals.incremental.bytes,
        turns.iter().map(|t| t.incremental.bytes).sum::<u64>()
    );
    assert_eq!(
        totals.full_context.bytes,
        turns.iter().map(|t| t.full_context.bytes).sum::<u64>()
    );
    assert_eq!(totals.cached_tokens, 52 + 90 + 130 + 150);
    assert_eq!(totals.tool_calls, 4);

    // One connection, closed normally after 700 ms.
    let conn = &ledger.connections()[0];
    assert_eq!((conn.close_code, conn.age_us(0)), (Some(1000), 700_000));
}

#[test]
fn two_lanes_interleaved_are_attributed_per_lane() {
    let (ledger, _) = load("two_lanes.tsjsonl");
    let turns = ledger.turns();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[0].lane.as_deref(), Some("a"));
    assert_eq!(turns[1].lane.as_deref(), Some("b"));
    assert_eq!(turns[0].response_id.as_deref(), Some("resp_a1"));
    assert_eq!(turns[1].response_id.as_deref(), Some("resp_b1"));
    // Lane b's events (sent 1 ms later) never landed on lane a's turn.
    assert_eq!(turns[0].tool_calls[0].name, "ls");
    assert_eq!(turns[1].tool_calls[0].name, "pwd");
    assert_eq!(turns[1].latency_total_us(), Some(50_000));
    // Lane a continues its own chain.
    assert_eq!(turns[2].previous_response_id.as_deref(), Some("resp_a1"));
    assert!(turns[2].full_context.bytes > turns[2].incremental.bytes);
    assert_eq!(turns[2].output_text, "done");
}

#[test]
fn reconnect_with_store_false_loses_the_cache() {
    let (ledger, _) = load("reconnect_store_false.tsjsonl");
    let turns = ledger.turns();
    assert_eq!(ledger.connections().len(), 2);
    assert_eq!(ledger.connections()[0].close_code, Some(1006));
    assert_eq!(
        ledger.connections()[1].reconnect_reason.as_deref(),
        Some("dropped")
    );
    // The continuation on the new connection: not cached there, and rejected.
    let t2 = &turns[1];
    assert_eq!(t2.conn, 1);
    assert_eq!(t2.cache_estimate_tokens, 0);
    assert!(
        matches!(&t2.status, TurnStatus::Error { code: Some(c), .. } if c == "previous_response_not_found")
    );
    // Then a full resend with no previous_response_id: nothing saved.
    let t3 = &turns[2];
    assert_eq!(t3.previous_response_id, None);
    assert_eq!(t3.incremental.items, 3);
    assert_eq!(t3.saved_bytes(), 0);
    assert_eq!(ledger.totals().errors, 1);
}

#[test]
fn truncated_transcript_keeps_every_complete_frame() {
    let (ledger, skipped) = load("truncated.tsjsonl");
    assert_eq!(skipped, 1);
    let turns = ledger.turns();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0].status, TurnStatus::Completed);
    // The second turn was cut before its response.created: still running.
    assert_eq!(turns[1].status, TurnStatus::InFlight);
    assert_eq!(turns[1].incremental.bytes, 207);
}

#[test]
fn a_non_streaming_http_reply_ends_its_turn() {
    use turnscope::frame::{Dir, Frame, Payload};
    let frame = |t_us, dir, text: &str| Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload: Payload::Json(text.into()),
    };
    let frames = [
        frame(
            0,
            Dir::Meta,
            r#"{"event":"http_request","path":"/v1/responses"}"#,
        ),
        frame(10, Dir::Sent, r#"{"model":"m","input":"hi"}"#),
        frame(
            90,
            Dir::Recv,
            r#"{"id":"resp_h","object":"response","status":"completed","output":[],"usage":{"input_tokens":7,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":9}}"#,
        ),
    ];
    let ledger = Ledger::from_frames(&frames);
    let turn = &ledger.turns()[0];
    assert_eq!(turn.status, TurnStatus::Completed);
    assert_eq!(turn.response_id.as_deref(), Some("resp_h"));
    assert_eq!(turn.latency_total_us(), Some(80));
    assert_eq!(turn.usage.as_ref().map(|u| u.input_tokens), Some(7));
}

fn frame(t_us: u64, dir: turnscope::frame::Dir, json: &str) -> turnscope::frame::Frame {
    turnscope::frame::Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload: turnscope::frame::Payload::from_text(json),
    }
}

/// A steered successor counts on its connection (as in the totals); a new chain without tools
/// is not "tools changed" against another chain's turn.
#[test]
fn steered_successors_count_on_their_connection_and_new_chains_have_no_prefix_change() {
    use turnscope::frame::Dir::{Recv, Sent};
    let frames = [
        frame(
            1,
            Sent,
            r#"{"type":"response.create","model":"m","tools":[{"type":"function","name":"read_file"}],"input":"hi"}"#,
        ),
        frame(
            2,
            Recv,
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress"}}"#,
        ),
        frame(
            3,
            Sent,
            r#"{"type":"response.steer","previous_response_id":"resp_1","input":"shorter"}"#,
        ),
        frame(
            4,
            Recv,
            r#"{"type":"response.incomplete","sequence_number":1,"response":{"id":"resp_1","status":"incomplete","incomplete_details":{"reason":"steered"}}}"#,
        ),
        frame(
            5,
            Recv,
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_2","status":"in_progress","previous_response_id":"resp_1","model":"m"}}"#,
        ),
        frame(
            6,
            Recv,
            r#"{"type":"response.completed","sequence_number":1,"response":{"id":"resp_2","status":"completed","output":[]}}"#,
        ),
        // A raw event: a new chain with no tools.
        frame(
            7,
            Sent,
            r#"{"type":"response.create","model":"m","input":"unrelated"}"#,
        ),
        frame(
            8,
            Recv,
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_3","status":"in_progress"}}"#,
        ),
        frame(
            9,
            Recv,
            r#"{"type":"response.completed","sequence_number":1,"response":{"id":"resp_3","status":"completed","output":[]}}"#,
        ),
    ];
    let ledger = Ledger::from_frames(&frames);
    let turns = ledger.turns();
    assert_eq!(turns.len(), 3);
    assert!(turns[1].steered_successor);
    let on_conn: usize = turns.iter().filter(|t| t.conn == 0).count();
    assert_eq!(on_conn, 3);
    assert_eq!(
        ledger.connections()[0].turns,
        on_conn,
        "stats --json reads this"
    );
    assert!(
        turns[2].insight.causes.is_empty(),
        "{:?}",
        turns[2].insight.causes
    );
}
