//! A closed stdout (`turnscope … | head`) ends the program quietly with status 0, never a
//! panic: each subcommand writes into a real pipe whose reading end was closed before it started.
//! The servers (emulate, proxy) end at their first line into it, the proxy's turn lines too; the
//! screens (live, replay, proxy) end quietly on a real terminal whose stdout is such a pipe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A guard against a hung child, never a synchronisation point.
const GUARD: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `turnscope ARGS` with stdout (or stderr) a pipe nobody reads; returns (status, stderr).
fn closed(args: &[&str], close_stderr: bool) -> (Option<i32>, String) {
    let mut child = spawn_closed(args, close_stderr, Stdio::piped());
    let status = exit_within_guard(&mut child, args);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    (status.code(), stderr)
}

/// `turnscope ARGS` with stdout (or stderr) a pipe whose reader is gone; the other stream is
/// `other`.
fn spawn_closed(args: &[&str], close_stderr: bool, other: Stdio) -> Child {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnscope"));
    cmd.args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("TURNSCOPE_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-turnscope-config-home")
        .stdin(Stdio::null());
    if close_stderr {
        cmd.stdout(other).stderr(writer);
    } else {
        cmd.stdout(writer).stderr(other);
    }
    cmd.spawn().unwrap()
}

/// Waits for the child's exit; a child still running after [`GUARD`] is killed and fails.
fn exit_within_guard(child: &mut Child, args: &[&str]) -> ExitStatus {
    let deadline = Instant::now() + GUARD;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("turnscope {args:?} still runs with its output closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_quiet(args: &[&str], code: Option<i32>, stderr: &str) {
    assert_eq!(code, Some(0), "turnscope {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "turnscope {args:?}: {stderr}");
    assert!(
        !stderr.contains("Broken pipe"),
        "turnscope {args:?}: {stderr}"
    );
}

#[test]
fn every_printing_subcommand_ends_quietly_on_a_closed_stdout() {
    let tool_loop = fixture("tool_loop.tsjsonl");
    let cases: [&[&str]; 8] = [
        &["stats", &tool_loop, "--json"],
        &["stats", &tool_loop],
        &["themes"],
        &["config"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &[
            "bench",
            "--runs",
            "1",
            "--tool-calls",
            "1",
            "--latency",
            "zero",
            "--json",
        ],
    ];
    for args in cases {
        let (code, stderr) = closed(args, false);
        assert_quiet(args, code, &stderr);
    }
}

#[test]
fn a_closed_stderr_does_not_panic_either() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tsjsonl");
    let good = std::fs::read_to_string(fixture("tool_loop.tsjsonl")).unwrap();
    std::fs::write(&bad, format!("{good}not json\n")).unwrap();
    let (code, _) = closed(&["stats", bad.to_str().unwrap()], true);
    assert_eq!(code, Some(0), "a warning on a closed stderr");
}

#[test]
fn rerun_export_and_replay_end_quietly_on_a_closed_stdout_or_stderr() {
    // A copy: rerun records next to its input (FILE.rerun.tsjsonl).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("tool_loop.tsjsonl");
    std::fs::copy(fixture("tool_loop.tsjsonl"), &copy).unwrap();
    let tool_loop = copy.to_str().unwrap().to_owned();
    let har = dir.path().join("t.har");
    let har = har.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["export", "--har", har, &tool_loop])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let again = dir.path().join("again.har");
    let cases: [(&[&str], bool); 6] = [
        (&["rerun", &tool_loop], false),
        (&["rerun", &tool_loop, "--json"], false),
        (&["rerun", &tool_loop], true),
        (
            &["export", "--har", again.to_str().unwrap(), &tool_loop],
            true,
        ),
        (&["export", "--har", again.to_str().unwrap(), har], false),
        // Replay's one non-screen output: the HAR's summary, on stderr before the screen.
        (&["replay", har], true),
    ];
    for (args, close_stderr) in cases {
        let (code, stderr) = closed(args, close_stderr);
        assert_quiet(args, code, &stderr);
    }
}

#[test]
fn the_servers_end_quietly_at_their_first_line_into_a_closed_pipe() {
    let cases: [(&[&str], bool); 3] = [
        // emulate prints its address on stdout, the proxy on stderr.
        (&["emulate", "--listen", "127.0.0.1:0"], false),
        (
            &[
                "proxy",
                "--no-tui",
                "--no-record",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "http://127.0.0.1:9/v1",
            ],
            true,
        ),
        (
            &[
                "proxy",
                "--no-record",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "http://127.0.0.1:9/v1",
            ],
            true,
        ),
    ];
    for (args, close_stderr) in cases {
        let (code, stderr) = closed(args, close_stderr);
        assert_quiet(args, code, &stderr);
    }
}

/// The headless proxy prints one line per finished turn on stdout: with nobody reading, the
/// first turn ends it quietly (and the agent got its whole reply first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_proxy_ends_quietly_when_its_turn_line_meets_a_closed_stdout() {
    use std::io::BufRead;
    let emu = turnscope::emulator::start(turnscope::emulator::EmulatorConfig::default())
        .await
        .unwrap();
    let upstream = emu.base_url();
    let args = [
        "proxy",
        "--no-tui",
        "--no-record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
    ];
    let mut child = spawn_closed(&args, false, Stdio::piped());
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let base = loop {
        let line = rx
            .recv_timeout(GUARD)
            .expect("the proxy printed no address");
        if let Some((_, url)) = line.split_once("OPENAI_BASE_URL=") {
            break url.trim().to_owned();
        }
    };
    let url = format!("{}/responses", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        "Bearer sk-closed-pipe-test".parse().unwrap(),
    );
    let (mut agent, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let create = r#"{"type":"response.create","model":"gpt-5","input":"hello"}"#;
    agent.send(Message::text(create)).await.unwrap();
    loop {
        let m = tokio::time::timeout(GUARD, agent.next())
            .await
            .expect("no reply")
            .expect("closed early")
            .unwrap();
        if m.to_text().unwrap().contains("\"response.completed\"") {
            break;
        }
    }
    let status = tokio::task::spawn_blocking(move || exit_within_guard(&mut child, &[]))
        .await
        .unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        !rest
            .iter()
            .any(|l| l.contains("panicked") || l.contains("Broken pipe")),
        "{rest:?}"
    );
    emu.shutdown().await;
}

/// Each screen on a real terminal (util-linux `script`) with stdout piped into a reader that
/// is gone: the exit status is 0 and nothing is printed.
#[test]
fn the_screens_end_quietly_on_a_terminal_whose_stdout_is_closed() {
    let bin = env!("CARGO_BIN_EXE_turnscope");
    let tool_loop = fixture("tool_loop.tsjsonl");
    for args in [
        "--no-record".to_owned(),
        format!("replay {tool_loop}"),
        "proxy --no-record --listen 127.0.0.1:0 --upstream http://127.0.0.1:9/v1".to_owned(),
    ] {
        // `true` exits at once; bash reports turnscope's own status.
        let shell = format!("{bin} {args} | true; echo status=${{PIPESTATUS[0]}}");
        let mut child = Command::new("script")
            .args(["-qec", &format!("bash -c '{shell}'"), "/dev/null"])
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env("XDG_CONFIG_HOME", "/nonexistent-turnscope-config-home")
            .env("XDG_DATA_HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs the screens on a pseudo-terminal");
        exit_within_guard(&mut child, &[&args]);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        let out = out.trim();
        assert_eq!(out, "status=0", "turnscope {args}: {out:?}");
    }
}
