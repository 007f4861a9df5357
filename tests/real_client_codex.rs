//! A real agent against the emulator: the Codex CLI (npm `@openai/codex`) in WebSocket mode.
//!
//! `.ci/run` installs the CLI under `target/codex/`; locally the test uses `codex` from PATH
//! or `TURNSCOPE_CODEX`, and says it skipped when there is none (CI fails instead).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use turnscope::emulator::{EmulatorConfig, start};

fn codex_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("TURNSCOPE_CODEX") {
        return Some(PathBuf::from(path));
    }
    let local =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/codex/node_modules/.bin/codex");
    if local.exists() {
        return Some(local);
    }
    let found = Command::new("codex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from("codex"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_chains_turns_over_websocket_against_the_emulator() {
    let Some(codex) = codex_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Codex CLI (see .ci/run)"
        );
        eprintln!("skipped: Codex CLI not installed (npm install -g @openai/codex)");
        return;
    };
    let emulator = start(EmulatorConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            r#"model = "gpt-5.1"
model_provider = "turnscope"

[model_providers.turnscope]
name = "turnscope emulator"
base_url = "{}"
env_key = "TURNSCOPE_TEST_KEY"
wire_api = "responses"
supports_websockets = true
"#,
            emulator.base_url()
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(&codex)
        .args(["exec", "--skip-git-repo-check", "hello from the codex test"])
        .current_dir(work.path())
        .env("CODEX_HOME", home.path())
        .env("TURNSCOPE_TEST_KEY", "sk-test-codex-0000000000000000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read_all = |mut r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut r, &mut s)
            .await
            .unwrap();
        s
    };
    let out = tokio::spawn(read_all(Box::new(stdout)));
    let err = tokio::spawn(read_all(Box::new(stderr)));
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .unwrap()
        .unwrap();
    let (out, err) = (out.await.unwrap(), err.await.unwrap());
    assert!(status.success(), "codex failed: {status}\n{out}\n{err}");
    // The persona echoes the message, and reports the chained id: Codex prewarmed the
    // connection (generate:false) and continued from it by previous_response_id.
    assert!(
        out.contains(r#"You said: "hello from the codex test""#),
        "{out}\n{err}"
    );
    assert!(out.contains("previous_response_id: resp_"), "{out}\n{err}");
    emulator.shutdown().await;
}
