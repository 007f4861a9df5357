//! Property tests: the protocol parser, transcript reader and ledger never panic, whatever
//! they are fed (arbitrary JSON, mutated real frames, arbitrary bytes), and stay bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::ledger::Ledger;
use turnscope::protocol::{ClientEvent, ServerEvent};
use turnscope::transcript::from_reader;

/// Every line of every fixture: real frames to mutate.
fn fixture_lines() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tsjsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            lines.extend(text.lines().skip(1).map(str::to_owned));
        }
    }
    lines
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("response.create"),
            Just("response.created"),
            Just("response.completed"),
            Just("response.output_text.delta"),
            Just("error"),
            Just("response.steer"),
            Just("resp_1"),
            Just("call_1"),
            Just("function_call")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("response".to_string()),
                    Just("input".to_string()),
                    Just("previous_response_id".to_string()),
                    Just("output".to_string()),
                    Just("usage".to_string()),
                    Just("stream_id".to_string()),
                    Just("item".to_string()),
                    Just("delta".to_string()),
                    Just("error".to_string()),
                    Just("id".to_string()),
                    Just("tools".to_string()),
                    Just("call_id".to_string()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A mutation of a real line: a byte flipped, a slice cut, or a chunk duplicated.
fn mutate(line: &str, op: u8, at: usize, len: usize) -> Vec<u8> {
    let mut bytes = line.as_bytes().to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    let at = at % bytes.len();
    match op % 4 {
        0 => bytes[at] = bytes[at].wrapping_add(1 + (len % 250) as u8),
        1 => {
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
        2 => {
            let end = (at + len).min(bytes.len());
            let chunk = bytes[at..end].to_vec();
            bytes.splice(at..at, chunk);
        }
        _ => bytes.truncate(at),
    }
    bytes
}

fn frame(dir: Dir, t_us: u64, conn: u32, text: String) -> Frame {
    Frame {
        t_us,
        wall: String::new(),
        conn,
        dir,
        payload: Payload::from_text(text),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    /// Arbitrary JSON events in any direction, order and connection: no panic, sane totals.
    #[test]
    fn ledger_survives_arbitrary_events(
        events in prop::collection::vec((arb_json(), 0u8..3, 0u32..3, 0u64..1_000_000), 0..40)
    ) {
        let mut ledger = Ledger::new();
        for (value, dir, conn, t) in events {
            let dir = [Dir::Sent, Dir::Recv, Dir::Meta][dir as usize];
            let text = value.to_string();
            let _ = ClientEvent::parse(&text);
            let _ = ServerEvent::parse(&text);
            ledger.push(&frame(dir, t, conn, text));
        }
        let totals = ledger.totals();
        prop_assert_eq!(totals.turns, ledger.turns().len());
        prop_assert!(ledger.turns().iter().all(|t| t.full_context.bytes + 64 >= t.incremental.bytes / 2));
    }

    /// The same arbitrary events through a ledger that retires finished turns after every frame
    /// (as `stats` and the headless proxy do): no panic, and every turn is handed over once.
    #[test]
    fn a_retiring_ledger_survives_arbitrary_events(
        events in prop::collection::vec((arb_json(), 0u8..3, 0u32..3, 0u64..1_000_000), 0..40)
    ) {
        let mut ledger = Ledger::summary_only();
        let mut handed = 0;
        for (value, dir, conn, t) in events {
            let dir = [Dir::Sent, Dir::Recv, Dir::Meta][dir as usize];
            ledger.push(&frame(dir, t, conn, value.to_string()));
            handed += ledger.retire_finished().len();
        }
        handed += ledger.retire_all().len();
        prop_assert_eq!(handed, ledger.totals().turns);
        prop_assert_eq!(ledger.retired(), handed);
        prop_assert!(ledger.turns().is_empty());
    }

    /// Real frames, mutated, through the transcript reader and the ledger: no panic, every
    /// line is either a frame or a reported error.
    #[test]
    fn reader_and_ledger_survive_mutated_real_frames(
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<usize>(), 1usize..64), 1..60)
    ) {
        let lines = fixture_lines();
        let mut data = b"{\"turnscope\":1,\"created\":\"x\",\"source\":\"live\"}\n".to_vec();
        for (pick, op, at, len) in &picks {
            let line = pick.get(&lines);
            data.extend(mutate(line, *op, *at, *len));
            data.push(b'\n');
        }
        let reader = from_reader(&data[..], "fuzz").unwrap();
        let mut ledger = Ledger::new();
        // Beside it, a ledger that retires finished turns as `stats` does.
        let mut retiring = Ledger::summary_only();
        let (mut ok, mut bad) = (0, 0);
        for entry in reader {
            match entry {
                Ok(e) => {
                    ok += 1;
                    ledger.push(&e.frame);
                    retiring.push(&e.frame);
                    retiring.retire_finished();
                }
                Err(e) => { bad += 1; prop_assert!(e.line >= 2); }
            }
        }
        retiring.retire_all();
        prop_assert_eq!(retiring.totals().turns, ledger.totals().turns);
        // Blank lines are skipped; every other line is accounted for (a mutation may add lines).
        let lines_after_header = data.iter().filter(|&&b| b == b'\n').count() - 1;
        prop_assert!(ok + bad <= lines_after_header);
        prop_assert_eq!(ledger.frame_count(), ok as u64);
    }

    /// Arbitrary bytes as a transcript: a clean error or a stream of line results.
    #[test]
    fn reader_survives_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(reader) = from_reader(&data[..], "fuzz") {
            for entry in reader.take(10_000) {
                let _ = entry;
            }
        }
    }
}
