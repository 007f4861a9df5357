//! From a run's recorded frames to its [`RunSample`], through the ledger: bytes, tokens,
//! latencies and cached tokens are the ledger's, never counted a second way.

use crate::frame::{Frame, Payload};
use crate::latency;
use crate::ledger::{Ledger, TurnStatus};

use super::client::Recording;
use super::stats::{RunSample, TurnSample};

/// Folds a recording into a ledger (all frames on connection 0).
pub fn fold(rec: &Recording) -> Ledger {
    let mut ledger = Ledger::new();
    for r in &rec.frames {
        ledger.push(&Frame {
            t_us: r.t_us,
            wall: String::new(),
            conn: 0,
            dir: r.dir,
            payload: Payload::from_text(r.text.as_str()),
        });
    }
    ledger
}

/// The sample of run `run` from its recording.
pub fn run_sample(run: usize, rec: &Recording) -> RunSample {
    let ledger = fold(rec);
    let turns = ledger
        .turns()
        .iter()
        .map(|t| TurnSample {
            loaded_tokens: latency::loaded_tokens(t),
            generates: t.generate,
            latency_us: t.latency_total_us().unwrap_or(0),
            ttft_us: t.ttft_us(),
            bytes_sent: t.incremental.bytes,
            tokens_sent: t.incremental.tokens,
            input_tokens: t.usage.as_ref().map_or(0, |u| u.input_tokens),
            cached_tokens: t.cached_tokens().unwrap_or(0),
            output_tokens: t.usage.as_ref().map_or(0, |u| u.output_tokens),
        })
        .collect();
    RunSample {
        run,
        e2e_us: rec.e2e_us,
        turns,
        tool_calls: ledger.totals().tool_calls,
        errors: ledger
            .turns()
            .iter()
            .filter(|t| t.status != TurnStatus::Completed)
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::client::Recorded;
    use crate::frame::Dir;

    fn rec(frames: &[(u64, Dir, &str)], e2e_us: u64) -> Recording {
        Recording {
            frames: frames
                .iter()
                .map(|(t, d, s)| Recorded {
                    t_us: *t,
                    dir: *d,
                    text: (*s).to_owned(),
                })
                .collect(),
            e2e_us,
        }
    }

    const CALL: &str = r#"{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}"#;

    fn completed(id: &str, output: &str, input: u64, cached: u64) -> String {
        format!(
            r#"{{"type":"response.completed","response":{{"id":"{id}","output":[{output}],"usage":{{"input_tokens":{input},"input_tokens_details":{{"cached_tokens":{cached}}},"output_tokens":5,"total_tokens":{}}}}}}}"#,
            input + 5
        )
    }

    /// A two-turn WebSocket run on a fixed clock: sends at 0 and 1000 µs, items announced at
    /// 200, first token-carrying deltas at 300 and 1400, terminal events at 500 and 1900.
    /// TTFT is the ledger's: the announcement at 200 carries no token and does not count.
    #[test]
    fn websocket_run_sample_from_fixed_times() {
        let first = r#"{"type":"response.create","model":"m","input":[{"type":"message","role":"user","content":"hi"}]}"#;
        let second = r#"{"type":"response.create","model":"m","previous_response_id":"r1","input":[{"type":"function_call_output","call_id":"c1","output":"x"}]}"#;
        let added =
            format!(r#"{{"type":"response.output_item.added","output_index":0,"item":{CALL}}}"#);
        let args =
            r#"{"type":"response.function_call_arguments.delta","output_index":0,"delta":"{}"}"#;
        let done1 = completed("r1", CALL, 40, 0);
        let done2 = completed(
            "r2",
            r#"{"type":"message","role":"assistant","content":[]}"#,
            60,
            40,
        );
        let r = rec(
            &[
                (0, Dir::Sent, first),
                (
                    100,
                    Dir::Recv,
                    r#"{"type":"response.created","response":{"id":"r1"}}"#,
                ),
                (200, Dir::Recv, &added),
                (300, Dir::Recv, args),
                (500, Dir::Recv, &done1),
                (1_000, Dir::Sent, second),
                (
                    1_100,
                    Dir::Recv,
                    r#"{"type":"response.created","response":{"id":"r2"}}"#,
                ),
                (
                    1_400,
                    Dir::Recv,
                    r#"{"type":"response.output_text.delta","delta":"ok"}"#,
                ),
                (1_900, Dir::Recv, &done2),
            ],
            1_900,
        );
        let s = run_sample(3, &r);
        assert_eq!(s.run, 3);
        assert_eq!(s.e2e_us, 1_900);
        assert_eq!(s.errors, 0);
        assert_eq!(s.tool_calls, 1);
        assert_eq!(s.turns.len(), 2);
        assert_eq!(s.turns[0].latency_us, 500);
        assert_eq!(s.turns[0].ttft_us, Some(300));
        assert_eq!(s.turns[1].latency_us, 900);
        assert_eq!(s.turns[1].ttft_us, Some(400));
        assert_eq!(s.turns[0].bytes_sent, first.len() as u64);
        assert_eq!(s.turns[1].bytes_sent, second.len() as u64);
        assert_eq!(s.bytes_sent(), (first.len() + second.len()) as u64);
        assert_eq!((s.input_tokens(), s.cached_tokens()), (100, 40));
        assert_eq!(s.output_tokens(), 10);
        assert!(s.turns[1].tokens_sent > 0);
    }

    /// The same exchange in HTTP mode: the second body carries the whole conversation.
    #[test]
    fn http_run_sample_counts_the_full_body() {
        let meta = r#"{"event":"http_request","path":"/v1/responses"}"#;
        let first = r#"{"model":"m","stream":true,"input":[{"type":"message","role":"user","content":"hi"}]}"#;
        let second = format!(
            r#"{{"model":"m","stream":true,"input":[{{"type":"message","role":"user","content":"hi"}},{CALL},{{"type":"function_call_output","call_id":"c1","output":"x"}}]}}"#
        );
        let done1 = completed("r1", CALL, 40, 0);
        let done2 = completed(
            "r2",
            r#"{"type":"message","role":"assistant","content":[]}"#,
            60,
            0,
        );
        let r = rec(
            &[
                (0, Dir::Meta, meta),
                (0, Dir::Sent, first),
                (
                    100,
                    Dir::Recv,
                    r#"{"type":"response.created","response":{"id":"r1"}}"#,
                ),
                (600, Dir::Recv, &done1),
                (1_000, Dir::Meta, meta),
                (1_000, Dir::Sent, &second),
                (
                    1_100,
                    Dir::Recv,
                    r#"{"type":"response.created","response":{"id":"r2"}}"#,
                ),
                (2_000, Dir::Recv, &done2),
            ],
            2_000,
        );
        let s = run_sample(0, &r);
        assert_eq!(s.turns.len(), 2);
        assert_eq!(s.turns[0].latency_us, 600);
        // No output delta in the first turn: no TTFT.
        assert_eq!(s.turns[0].ttft_us, None);
        assert_eq!(s.turns[1].latency_us, 1_000);
        assert_eq!(s.bytes_sent_after_first(), second.len() as u64);
        assert_eq!(s.cached_tokens(), 0);
    }
}
