//! The ledger reads public captures of the real API (tests/fixtures/real/) correctly: turns,
//! status, TTFT, usage, tool calls and text, in the HTTP form and the WebSocket form.
//!
//! The expected values are read by hand from the captured events (README there). Capture
//! times are synthetic, one millisecond per frame, so a TTFT of 5 ms means "the fifth event
//! after the send": that pins *which* event starts the clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use turnscope::ledger::{Ledger, Turn, TurnStatus};
use turnscope::transcript::read_all;

fn load(name: &str) -> Ledger {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(name);
    let (_, frames, errors) = read_all(&path).unwrap();
    assert!(errors.is_empty(), "{name}: unreadable lines {errors:?}");
    let ledger = Ledger::from_frames(&frames);
    assert_eq!(ledger.unattributed(), 0, "{name}: frames outside any turn");
    // The only notes allowed are the proxy's "upstream answered … with HTTP 400" metas.
    for note in ledger.notes() {
        assert!(
            note.text.contains("with HTTP 4"),
            "{name}: note {:?}",
            note.text
        );
    }
    ledger
}

/// What one turn of a capture must read as.
struct Want {
    /// `Completed`, or an error with this code.
    status: TurnStatus,
    /// Frames from the send to the first token-carrying delta.
    ttft_ms: Option<u64>,
    /// Frames from the send to the first `output_item.added` (or delta).
    first_item_ms: Option<u64>,
    /// input, cached, output, reasoning tokens as the server reported them.
    usage: Option<(u64, u64, u64, u64)>,
    tools: &'static [&'static str],
    text: &'static str,
}

fn done(ttft: u64, item: u64, usage: (u64, u64, u64, u64)) -> Want {
    Want {
        status: TurnStatus::Completed,
        ttft_ms: Some(ttft),
        first_item_ms: Some(item),
        usage: Some(usage),
        tools: &[],
        text: "",
    }
}

fn check(name: &str, wants: &[Want]) {
    for form in ["http", "ws"] {
        let file = format!("{name}.{form}.tsjsonl");
        let ledger = load(&file);
        let turns = ledger.turns();
        assert_eq!(turns.len(), wants.len(), "{file}: turns");
        for (turn, want) in turns.iter().zip(wants) {
            check_turn(&file, turn, want);
        }
        let cached: u64 = wants.iter().filter_map(|w| w.usage).map(|u| u.1).sum();
        assert_eq!(
            ledger.totals().cached_tokens,
            cached,
            "{file}: cached total"
        );
    }
}

fn check_turn(file: &str, turn: &Turn, want: &Want) {
    let at = format!("{file} turn {}", turn.index);
    match (&want.status, &turn.status) {
        (
            TurnStatus::Error { code, message },
            TurnStatus::Error {
                code: c,
                message: m,
            },
        ) => {
            assert_eq!(c, code, "{at}: error code");
            assert!(m.starts_with(message.as_str()), "{at}: message {m:?}");
        }
        (w, got) => assert_eq!(got, w, "{at}: status"),
    }
    assert_eq!(turn.ttft_us(), want.ttft_ms.map(|m| m * 1000), "{at}: ttft");
    assert_eq!(
        turn.first_item_latency_us(),
        want.first_item_ms.map(|m| m * 1000),
        "{at}: first item"
    );
    let usage = turn.usage.as_ref().map(|u| {
        (
            u.input_tokens,
            u.input_tokens_details.cached_tokens,
            u.output_tokens,
            u.output_tokens_details.reasoning_tokens,
        )
    });
    assert_eq!(usage, want.usage, "{at}: usage");
    assert_eq!(
        turn.cached_tokens(),
        want.usage.map(|u| u.1),
        "{at}: cached"
    );
    let tools: Vec<&str> = turn.tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(tools, want.tools, "{at}: tool calls");
    assert!(
        turn.output_text.starts_with(want.text),
        "{at}: text {:?}",
        turn.output_text
    );
}

#[test]
fn plain_text_stream_gpt_4_1() {
    // created, in_progress, output_item.added (3), content_part.added, output_text.delta (5).
    let mut want = done(5, 3, (21, 0, 3, 0));
    want.text = "streamed";
    check("conversation_id_streaming_provider_details", &[want]);
}

#[test]
fn reasoning_item_then_function_call_gpt_5() {
    // The reasoning item is announced at 3 and done at 4 with no token streamed; the call is
    // announced at 5 and its first argument delta at 6 starts TTFT.
    let mut want = done(6, 3, (53, 0, 469, 448));
    want.tools = &["final_result"];
    check("streaming_usage", &[want]);
}

#[test]
fn reasoning_summary_deltas_count_as_first_tokens_o3_mini() {
    // reasoning_summary_part.added at 4 carries no token; the summary delta at 5 does. The
    // answer's first text delta comes only at 402.
    let mut want = done(5, 3, (13, 0, 1680, 1408));
    want.text = "I'm not a road safety professional";
    check("thinking_part_iter", &[want]);
}

#[test]
fn text_and_function_call_then_answer_gpt_5_5() {
    // Turn 1: reasoning item (3, 4), message added (5), content_part.added (6), text at 7.
    let mut first = done(7, 3, (63, 0, 69, 26));
    first.tools = &["get_capital"];
    first.text = "I’ll check the capital lookup tool";
    let mut second = done(5, 3, (147, 0, 16, 0));
    second.text = "The capital of PotatoLand is **Potato City**.";
    check("phase_streamed_on_part_start", &[first, second]);
}

#[test]
fn early_2025_format_without_sequence_numbers_gpt_4o() {
    // Function call announced at 3, first argument delta at 4.
    let mut call = done(4, 3, (255, 0, 16, 0));
    call.tools = &["get_capital"];
    let mut answer = done(5, 3, (278, 0, 9, 0));
    answer.text = "The capital of France is Paris.";
    check("stream", &[call, answer]);
}

#[test]
fn http_400_error_body_ends_the_turn_as_an_error() {
    check(
        "model_http_error",
        &[Want {
            status: TurnStatus::Error {
                code: Some("decimal_below_min_value".into()),
                message: "Invalid 'temperature': decimal below minimum value.".into(),
            },
            ttft_ms: None,
            first_item_ms: None,
            usage: None,
            tools: &[],
            text: "",
        }],
    );
}

#[test]
fn non_streaming_bodies_and_an_error_without_code() {
    // Non-streaming replies have no events: no TTFT, no first item, usage from the body.
    let body = |usage| Want {
        status: TurnStatus::Completed,
        ttft_ms: None,
        first_item_ms: None,
        usage: Some(usage),
        tools: &[],
        text: "",
    };
    let error = Want {
        status: TurnStatus::Error {
            code: None,
            message: "Item 'rs_68c42de022c881948db7ed1cc2529f2e0202c9ad459e0d23' of type 'reasoning' was provided without its required following item.".into(),
        },
        ttft_ms: None,
        first_item_ms: None,
        usage: None,
        tools: &[],
        text: "",
    };
    check(
        "thinking_with_modified_history",
        &[body((13, 0, 248, 64)), error, body((142, 0, 355, 128))],
    );
}

/// HTTP SSE `error` events are flat (`code`, `message` at the top level), unlike WebSocket's
/// nested form; the ledger must read both.
#[test]
fn flat_sse_error_event_keeps_its_code() {
    use turnscope::frame::{Dir, Frame, Payload};
    let frame = |t_us, dir, text: &str| Frame {
        t_us,
        wall: String::new(),
        conn: 0,
        dir,
        payload: Payload::from_text(text),
    };
    let frames = [
        frame(
            0,
            Dir::Meta,
            r#"{"event":"http_request","path":"/v1/responses"}"#,
        ),
        frame(
            1,
            Dir::Sent,
            r#"{"model":"gpt-5","input":"hi","stream":true}"#,
        ),
        frame(
            2,
            Dir::Recv,
            r#"{"type":"error","code":"server_error","message":"boom","param":null,"sequence_number":0}"#,
        ),
    ];
    let ledger = Ledger::from_frames(&frames);
    assert_eq!(
        ledger.turns()[0].status,
        TurnStatus::Error {
            code: Some("server_error".into()),
            message: "boom".into()
        }
    );
}

/// The one TTFT definition, event type by event type (shared/DESIGN.md).
#[test]
fn which_events_carry_generated_tokens() {
    use turnscope::ledger::carries_generated_tokens as tokens;
    for yes in [
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
    ] {
        assert!(tokens(yes), "{yes}");
    }
    for no in [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_summary_part.added",
        "response.output_text.done",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.done",
        "response.web_search_call.searching",
        "error",
    ] {
        assert!(!tokens(no), "{no}");
    }
}
