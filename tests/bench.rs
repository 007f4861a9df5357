//! A tiny bench (3 tool calls, 1 paired run) against the emulator at latency profile `zero`,
//! over real sockets: through the library, and through the `turnscope bench --json` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use turnscope::bench::{self, BenchConfig, Server};
use turnscope::emulator::{LatencyProfile, Scenario};

fn u(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_f64().map(|f| f as u64))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Checks a `bench --json` document of a 3-call, 1-run bench.
fn check_report(doc: &Value) {
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["scenario"], "coding-agent");
    assert_eq!(doc["server"]["kind"], "emulator");
    assert_eq!(doc["server"]["latency"]["name"], "zero");
    assert_eq!(doc["runs"], 1);
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    let p = &points[0];
    assert_eq!(p["tool_calls"], 3);
    for mode in ["websocket", "http"] {
        let m = &p[mode];
        assert_eq!(m["runs"], 1, "{mode}");
        assert_eq!(m["turns_per_run"], 4.0, "{mode}: 3 calls + the answer");
        assert_eq!(m["tool_calls_per_run"], 3.0, "{mode}");
        assert_eq!(m["errors"], 0, "{mode}");
        assert!(u(&m["e2e_us"]["median"]) > 0, "{mode}");
        assert!(u(&m["input_tokens"]) > 0, "{mode}");
        assert!(u(&m["output_tokens"]) > 0, "{mode}");
        assert_eq!(p["e2e_us"][mode].as_array().unwrap().len(), 1);
    }
    let (ws, http) = (&p["samples"]["websocket"][0], &p["samples"]["http"][0]);
    let ws_turns = ws["turns"].as_array().unwrap();
    let http_turns = http["turns"].as_array().unwrap();
    assert_eq!((ws_turns.len(), http_turns.len()), (4, 4));
    // After the first turn, HTTP resends everything: more bytes on every turn, and its
    // request grows turn by turn while WebSocket sends only the new tool output.
    for k in 1..4 {
        let (w, h) = (
            u(&ws_turns[k]["bytes_sent"]),
            u(&http_turns[k]["bytes_sent"]),
        );
        assert!(h > w, "turn {k}: http {h} bytes <= websocket {w} bytes");
        assert!(
            u(&http_turns[k]["bytes_sent"]) > u(&http_turns[k - 1]["bytes_sent"]),
            "turn {k}: the HTTP body did not grow"
        );
        // cached_tokens is prompt caching in both modes (the connection cache is not
        // reported there): 0, or at least 1024 in 128-token steps.
        for turns in [ws_turns, http_turns] {
            let c = u(&turns[k]["cached_tokens"]);
            assert!(
                c == 0 || (c >= 1024 && c.is_multiple_of(128)),
                "turn {k}: {c}"
            );
        }
    }
    // The scripted outputs of the first three calls are 1400, 9000 and 18000 bytes. The
    // last WebSocket turn carries only the third; the last HTTP body carries all three.
    let (w3, h3) = (
        u(&ws_turns[3]["bytes_sent"]),
        u(&http_turns[3]["bytes_sent"]),
    );
    assert!(
        w3 > 18_000 && w3 < 18_000 + 9_000,
        "websocket last turn {w3} bytes"
    );
    assert!(h3 > 1_400 + 9_000 + 18_000, "http last turn {h3} bytes");
    assert!(h3 - w3 > 1_400 + 9_000, "http {h3} vs websocket {w3}");
    // Over turns 2..4, HTTP resends output 1 twice more and output 2 once more.
    let (wa, ha) = (
        u(&p["websocket"]["bytes_sent_after_first"]),
        u(&p["http"]["bytes_sent_after_first"]),
    );
    assert!(
        ha > wa + 2 * 1_400 + 9_000,
        "after first: http {ha} vs websocket {wa}"
    );
    // Both modes give the model the same context: input tokens agree within 2%.
    let (wi, hi) = (
        u(&p["websocket"]["input_tokens"]),
        u(&p["http"]["input_tokens"]),
    );
    assert!(
        wi.abs_diff(hi) * 50 < hi,
        "input tokens ws {wi} vs http {hi}"
    );
    // One pair: a speed-up but no interval.
    assert_eq!(p["speedup"]["pairs"], 1);
    assert!(p["speedup"]["ci95_pct"].is_null());
    assert!(p["speedup"]["mean_pct"].is_number());
    assert!(p["model"]["websocket"]["modelled_us"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_bench_against_the_emulator_reports_both_modes() {
    let config = BenchConfig {
        scenario: Scenario::builtin("coding-agent").unwrap(),
        tool_calls: vec![3],
        runs: 1,
        parallel: 2,
        server: Server::Emulator {
            latency: LatencyProfile::named("zero").unwrap(),
        },
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = bench::run(&config, tx).await.unwrap();
    let mut turns = 0;
    while rx.try_recv().is_ok() {
        turns += 1;
    }
    assert_eq!(turns, config.expected_turns());
    assert_eq!(turns, 8);
    check_report(&serde_json::to_value(&report).unwrap());
    let table = bench::report::table(&report);
    assert!(
        table.contains("websocket") && table.contains("http"),
        "{table}"
    );
    let svg = bench::svg::svg(&report);
    assert!(svg.starts_with("<svg") && svg.contains("3 calls"), "{svg}");
}

#[test]
fn bench_binary_prints_json_and_writes_the_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("bench.svg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args([
            "bench",
            "--latency",
            "zero",
            "--runs",
            "1",
            "--tool-calls",
            "3",
            "--json",
        ])
        .arg("--svg")
        .arg(&svg)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_report(&doc);
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains("</svg>"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("wrote the chart to {}", svg.display())),
        "{err}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&svg).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a chart is owner-only, like every artefact");
    }
}

/// A bad `--svg` path and `--tool-calls 0` are refused at once, before any run: a bench at the
/// default profile takes minutes, so the time limit proves nothing ran.
#[test]
fn bench_checks_svg_path_and_tool_calls_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no/such/dir/chart.svg");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["bench", "--runs", "50", "--svg"])
        .arg(&bad)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--svg") && err.contains("chart.svg"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "failed only after running: {:?}",
        started.elapsed()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["bench", "--tool-calls", "5,0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tool-calls 0"), "{err}");
    // An existing chart is not truncated by the check when the run is refused.
    let old = dir.path().join("old.svg");
    std::fs::write(&old, "<svg>old</svg>").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["bench", "--latency", "nope", "--svg"])
        .arg(&old)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "<svg>old</svg>");
}

#[test]
fn bench_rejects_bad_flags_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["bench", "--latency", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("realistic"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["bench", "--runs", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--runs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_mode_runs_against_a_separate_emulator_and_estimates_cost() {
    let scenario = Scenario::builtin("coding-agent").unwrap();
    let emu = turnscope::emulator::start(turnscope::emulator::EmulatorConfig {
        scenario: Some(scenario.with_tool_calls(2)),
        api_key: Some("test-key".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let config = BenchConfig {
        scenario,
        tool_calls: vec![2],
        runs: 2,
        parallel: 2,
        server: Server::Url {
            base: emu.base_url(),
            api_key: Some("test-key".into()),
            model: "gpt-4.1-mini".into(),
        },
    };
    // The estimate runs the HTTP workload once on its own zero-latency emulator:
    // 3 turns (2 calls + answer) × 2 modes × 2 runs.
    let e = bench::estimate(&config).await.unwrap();
    assert_eq!(e.requests, 12);
    assert!(e.input_tokens > 0 && e.output_tokens > 0);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = bench::run(&config, tx).await.unwrap();
    let doc = serde_json::to_value(&report).unwrap();
    assert_eq!(doc["server"]["kind"], "url");
    assert!(doc["server"]["latency"].is_null());
    let p = &doc["points"][0];
    assert!(p["model"].is_null(), "no latency model for a real endpoint");
    assert_eq!(p["speedup"]["pairs"], 2);
    assert!(p["speedup"]["ci95_pct"].is_array());
    for mode in ["websocket", "http"] {
        assert_eq!(p[mode]["runs"], 2);
        assert_eq!(p[mode]["tool_calls_per_run"], 2.0);
        assert_eq!(p[mode]["errors"], 0);
    }
    // A wrong key fails the bench with a one-line error naming the mode and URL.
    let mut bad = config.clone();
    bad.server = Server::Url {
        base: emu.base_url(),
        api_key: Some("wrong".into()),
        model: "m".into(),
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = bench::run(&bad, tx).await.unwrap_err().to_string();
    assert!(
        err.contains("run against") && err.contains("127.0.0.1"),
        "{err}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_url_asks_before_spending_and_stops_on_no() {
    let emu = turnscope::emulator::start(turnscope::emulator::EmulatorConfig::default())
        .await
        .unwrap();
    let base = emu.base_url();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .args(["bench", "--runs", "1", "--tool-calls", "2", "--url", &base])
            .env("OPENAI_API_KEY", "test-key")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"n\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // 3 turns × 2 modes × 1 run.
    assert!(err.contains("sends 6 requests"), "{err}");
    assert!(
        err.contains("Run it? [y/N]") && err.contains("nothing was sent"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    emu.shutdown().await;
}
