//! Real clients, real processes, a recognisable fake key: the official Python SDK's tool loop
//! and the Codex CLI run through `turnscope proxy` (a child process with HOME and the XDG
//! directories in a temp dir, logging at trace level), then `stats` and `bench` run on what it
//! recorded. Every file the run produced — the data directory's transcript, the log, the stats
//! JSON, the bench JSON and SVG, each client's home — and every process's output is grepped for
//! the key. The key has no `sk-` shape: only the proxy passing the agent's credentials on as
//! secrets can mask it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/child.rs"]
mod child;
#[path = "support/cli.rs"]
mod cli;
#[path = "common/codex.rs"]
mod codex;
#[path = "common/sdk_venv.rs"]
mod sdk_venv;

use std::path::{Path, PathBuf};
use std::time::Duration;

use child::{Proc, files_under};
use turnscope::emulator::{self, EmulatorConfig};

const KEY: &str = "fake-KEY-realclients-TURNSCOPE-7f3e9a1c5b";
const PARTS: [&str; 3] = [KEY, "realclients-TURNSCOPE", "7f3e9a1c5b"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_and_codex_through_the_proxy_leave_the_key_in_no_file() {
    codex::binary();
    sdk_venv::python();
    // The emulator accepts only this key: the turns completing prove it travelled end to end.
    let emu = emulator::start(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = |name: &str| {
        let p = root.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p.display().to_string()
    };
    let (home, data, config, cache, state) = (
        dir("home"),
        dir("data"),
        dir("config"),
        dir("cache"),
        dir("state"),
    );
    let log = root.path().join("proxy.log").display().to_string();
    let xdg = [
        ("HOME", home.as_str()),
        ("XDG_DATA_HOME", data.as_str()),
        ("XDG_CONFIG_HOME", config.as_str()),
        ("XDG_CACHE_HOME", cache.as_str()),
        ("XDG_STATE_HOME", state.as_str()),
        ("RUST_LOG", "trace"),
    ];
    let upstream = emu.base_url();
    let mut proxy = Proc::headless_proxy(&["--log", &log], &upstream, &[], &xdg);
    let base = proxy.base_url();
    let ws = base.replacen("http://", "ws://", 1);

    // The SDK's tool loop (WebSocket mode, then one HTTP-mode turn).
    let sdk = sdk_venv::run_script(
        "proxy_tool_loop.py",
        &[
            ("OPENAI_BASE_URL", &base),
            ("TURNSCOPE_PROXY_WS", &ws),
            ("OPENAI_API_KEY", KEY),
            ("HOME", &home),
        ],
        Duration::from_secs(120),
    )
    .await;
    let sdk_out = String::from_utf8_lossy(&sdk.stdout).into_owned();
    let sdk_err = String::from_utf8_lossy(&sdk.stderr).into_owned();
    assert!(sdk.status.success(), "SDK: {sdk_out}\n{sdk_err}");

    // Codex in WebSocket mode.
    let codex_home = dir("codex-home");
    let work = dir("work");
    codex::write_config(Path::new(&codex_home), &base, "TURNSCOPE_REAL_KEY");
    let (status, codex_out, codex_err) = codex::exec(
        Path::new(&codex_home),
        Path::new(&work),
        "hello through the proxy",
        &[("TURNSCOPE_REAL_KEY", KEY), ("HOME", &home)],
    )
    .await;
    assert!(status.success(), "codex: {codex_out}\n{codex_err}");
    assert!(codex_out.contains("You said"), "{codex_out}\n{codex_err}");

    proxy.signal_and_wait("INT");
    let sessions = PathBuf::from(&data).join("turnscope").join("sessions");
    let transcripts = files_under(&sessions);
    assert_eq!(
        transcripts.len(),
        1,
        "one recording in the data directory: {transcripts:?}"
    );
    let transcript = transcripts[0].display().to_string();
    let text = std::fs::read_to_string(&transcripts[0]).unwrap();
    assert!(
        text.contains("get_weather") && text.contains("hello through the proxy"),
        "the recording holds both clients' turns"
    );

    // What the user makes of the recording: stats (JSON and table) and a bench with the key.
    let stats_json = root.path().join("stats.json");
    let (json, _) = cli::turnscope_ok(&["stats", &transcript, "--json"], &xdg);
    std::fs::write(&stats_json, &json).unwrap();
    let (table, stats_err) = cli::turnscope_ok(&["stats", &transcript], &xdg);
    let svg = root.path().join("bench.svg").display().to_string();
    let bench_env = [xdg.as_slice(), &[("OPENAI_API_KEY", KEY)]].concat();
    let (bench_json, bench_err) = cli::turnscope_ok(
        &[
            "bench",
            "--runs",
            "1",
            "--tool-calls",
            "1",
            "--url",
            &upstream,
            "--model",
            "gpt-5.1",
            "--yes",
            "--json",
            "--svg",
            &svg,
        ],
        &bench_env,
    );
    std::fs::write(root.path().join("bench.json"), &bench_json).unwrap();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("turnscope started")
    );
    emu.shutdown().await;

    let mut artefacts: Vec<(String, String)> = vec![
        ("proxy stdout".into(), proxy.stdout.join("\n")),
        ("proxy stderr".into(), proxy.stderr.join("\n")),
        ("SDK stdout".into(), sdk_out),
        ("SDK stderr".into(), sdk_err),
        ("codex stdout".into(), codex_out),
        ("codex stderr".into(), codex_err),
        ("stats table".into(), table),
        ("stats stderr".into(), stats_err),
        ("bench stderr".into(), bench_err),
    ];
    let files = files_under(root.path());
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        artefacts.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    for (name, text) in &artefacts {
        for part in PARTS {
            assert!(!text.contains(part), "{part} found in {name}");
        }
    }
}
