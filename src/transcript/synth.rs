//! Synthetic transcripts of any size with a realistic event mix, for benchmarks.
//!
//! Each turn is a tool loop step: a `response.create` carrying a 1–20 KB
//! `function_call_output`, then `created`, `in_progress`, an output item announced,
//! streamed as ~40 deltas, done, and `response.completed` with usage.

use std::io::{self, Write};

use serde_json::json;

use super::Header;
use super::writer::encode_line;
use crate::frame::{Dir, Frame, Payload};

/// Words for tool output and model text: code, prose, paths, numbers.
const WORDS: &[&str] = &[
    "fn",
    "let",
    "mut",
    "self",
    "impl",
    "pub",
    "struct",
    "return",
    "Ok(())",
    "Err(e)",
    "match",
    "the",
    "test",
    "failed",
    "passed",
    "src/lib.rs",
    "error[E0308]:",
    "expected",
    "found",
    "value",
    "=>",
    "{",
    "}",
    "(",
    ");",
    "42",
    "1024",
    "assert_eq!",
    "cargo",
    "warning:",
    "unused",
    "variable",
    "config",
    "parse",
    "frame",
    "turn",
    "ledger",
    "tokens",
    "bytes",
];

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn text(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes + 16);
        while s.len() < bytes {
            let i = usize::try_from(self.below(WORDS.len() as u64)).unwrap_or(0);
            s.push_str(WORDS[i]);
            s.push(if self.below(12) == 0 { '\n' } else { ' ' });
        }
        s
    }
}

/// Writes a synthetic transcript of about `target_bytes`; returns the bytes written.
pub fn write_synthetic(out: &mut impl Write, target_bytes: u64, seed: u64) -> io::Result<u64> {
    let mut rng = Rng(seed | 1);
    let header = Header {
        turnscope: super::FORMAT_VERSION,
        created: "2026-11-25T00:00:00Z".into(),
        source: "synthetic".into(),
        url: Some("ws://127.0.0.1:0/v1/responses".into()),
        model: Some("gpt-synth".into()),
    };
    let mut written = 0u64;
    let emit = |out: &mut dyn Write, written: &mut u64, line: String| -> io::Result<()> {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        *written += line.len() as u64 + 1;
        Ok(())
    };
    emit(
        out,
        &mut written,
        serde_json::to_string(&header).map_err(io::Error::other)?,
    )?;
    let mut t = 0u64;
    let mut turn = 0u64;
    let frame = |t: u64, dir: Dir, body: serde_json::Value| {
        encode_line(&Frame {
            t_us: t,
            wall: "2026-11-25T00:00:00Z".into(),
            conn: 0,
            dir,
            payload: Payload::Json(body.to_string()),
        })
    };
    emit(
        out,
        &mut written,
        frame(
            0,
            Dir::Meta,
            json!({"event":"connect","url":"ws://127.0.0.1:0/v1/responses"}),
        ),
    )?;
    while written < target_bytes {
        turn += 1;
        let id = format!("resp_{turn:08}");
        let input = if turn == 1 {
            json!([{"type":"message","role":"user","content":"fix the failing tests"}])
        } else {
            let size = usize::try_from(1024 + rng.below(19 * 1024)).unwrap_or(1024);
            json!([{"type":"function_call_output","call_id":format!("call_{}", turn - 1),"output":rng.text(size)}])
        };
        let mut request = json!({"type":"response.create","model":"gpt-synth","store":false,"input":input,
            "tools":[{"type":"function","name":"run","parameters":{"type":"object"}}]});
        if turn > 1 {
            request["previous_response_id"] = json!(format!("resp_{:08}", turn - 1));
        }
        t += 200_000 + rng.below(2_000_000);
        emit(out, &mut written, frame(t, Dir::Sent, request))?;
        let mut seq = 0u64;
        let mut next_seq = || {
            seq += 1;
            seq
        };
        let response = |status: &str| json!({"id":id,"object":"response","status":status,"model":"gpt-synth","output":[]});
        t += 20_000;
        emit(
            out,
            &mut written,
            frame(
                t,
                Dir::Recv,
                json!({"type":"response.created","sequence_number":next_seq(),"response":response("in_progress")}),
            ),
        )?;
        emit(
            out,
            &mut written,
            frame(
                t,
                Dir::Recv,
                json!({"type":"response.in_progress","sequence_number":next_seq(),"response":response("in_progress")}),
            ),
        )?;
        let args = json!({"cmd": rng.text(80)}).to_string();
        let item_id = format!("fc_{turn}");
        let added = json!({"type":"function_call","id":item_id,"call_id":format!("call_{turn}"),"name":"run","arguments":"","status":"in_progress"});
        emit(
            out,
            &mut written,
            frame(
                t,
                Dir::Recv,
                json!({"type":"response.output_item.added","sequence_number":next_seq(),"output_index":0,"item":added}),
            ),
        )?;
        let chars: Vec<char> = args.chars().collect();
        for chunk in chars.chunks(3) {
            t += 1_000;
            let delta: String = chunk.iter().collect();
            emit(
                out,
                &mut written,
                frame(
                    t,
                    Dir::Recv,
                    json!({"type":"response.function_call_arguments.delta","sequence_number":next_seq(),"item_id":item_id,"output_index":0,"delta":delta}),
                ),
            )?;
        }
        let item = json!({"type":"function_call","id":item_id,"call_id":format!("call_{turn}"),"name":"run","arguments":args,"status":"completed"});
        emit(
            out,
            &mut written,
            frame(
                t,
                Dir::Recv,
                json!({"type":"response.function_call_arguments.done","sequence_number":next_seq(),"item_id":item_id,"output_index":0,"arguments":args}),
            ),
        )?;
        emit(
            out,
            &mut written,
            frame(
                t,
                Dir::Recv,
                json!({"type":"response.output_item.done","sequence_number":next_seq(),"output_index":0,"item":item}),
            ),
        )?;
        let mut done = response("completed");
        done["output"] = json!([item]);
        done["usage"] = json!({"input_tokens":1000*turn,"input_tokens_details":{"cached_tokens":900*turn},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":1000*turn+30});
        t += 5_000;
        emit(
            out,
            &mut written,
            frame(
                t,
                Dir::Recv,
                json!({"type":"response.completed","sequence_number":next_seq(),"response":done}),
            ),
        )?;
    }
    Ok(written)
}
