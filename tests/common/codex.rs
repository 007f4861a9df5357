//! The Codex CLI (npm `@openai/codex`, pinned) under target/codex, installed once per test binary
//! the way `.ci/run` does when it is missing; `TURNSCOPE_CODEX` points at another binary.
//! A test that needs it fails with the reason when it cannot be had: never a silent pass.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The version `.ci/run` installs.
pub const CODEX_SPEC: &str = "@openai/codex@0.169.0";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// tests/scenarios/codex-exec-loop.toml: a 14-call tool loop made of Codex's own
/// `exec_command`, prompted by [`EXEC_LOOP_PROMPT`] and ending with [`EXEC_LOOP_DONE`].
pub fn exec_loop_scenario() -> turnscope::emulator::Scenario {
    let path = root().join("tests/scenarios/codex-exec-loop.toml");
    turnscope::emulator::Scenario::resolve(path.to_str().unwrap()).unwrap()
}

/// What the exec-loop scenario is asked.
pub const EXEC_LOOP_PROMPT: &str = "Inspect this machine with shell commands.";

/// What its final answer says.
pub const EXEC_LOOP_DONE: &str = "the machine is inspected";

/// The Codex binary (panics with the reason when it cannot be installed).
pub fn binary() -> &'static PathBuf {
    static CODEX: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = CODEX.get_or_init(|| {
        if let Ok(path) = std::env::var("TURNSCOPE_CODEX") {
            return Ok(PathBuf::from(path));
        }
        let prefix = root().join("target").join("codex");
        let bin = prefix.join("node_modules").join(".bin").join("codex");
        if bin.exists() {
            return Ok(bin);
        }
        eprintln!("installing {CODEX_SPEC} into {} (once)", prefix.display());
        let out = std::process::Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(CODEX_SPEC)
            .output()
            .map_err(|e| format!("cannot run npm (needed to install {CODEX_SPEC}): {e}"))?;
        if !out.status.success() || !bin.exists() {
            return Err(format!(
                "npm install {CODEX_SPEC} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(bin)
    });
    match result {
        Ok(p) => p,
        Err(e) => panic!("the Codex CLI is needed and could not be installed: {e}"),
    }
}

/// A CODEX_HOME config that sends Codex to `base_url` in WebSocket mode with its key in `env_key`.
pub fn write_config(home: &Path, base_url: &str, env_key: &str) {
    write_config_for(home, base_url, env_key, true);
}

/// The same in WebSocket mode (`websockets`) or HTTP mode (one POST per turn, resending the
/// conversation: Codex does not chain HTTP turns by id).
pub fn write_config_for(home: &Path, base_url: &str, env_key: &str, websockets: bool) {
    std::fs::write(
        home.join("config.toml"),
        format!(
            r#"model = "gpt-5.1"
model_provider = "turnscope"

[model_providers.turnscope]
name = "turnscope emulator"
base_url = "{base_url}"
env_key = "{env_key}"
wire_api = "responses"
supports_websockets = {websockets}
"#
        ),
    )
    .unwrap();
}

/// Runs `codex exec PROMPT` in `work` with `env`; returns (success, stdout, stderr).
pub async fn exec(
    home: &Path,
    work: &Path,
    prompt: &str,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String, String) {
    let child = tokio::process::Command::new(binary())
        .args(["exec", "--skip-git-repo-check", prompt])
        .current_dir(work)
        .env("CODEX_HOME", home)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        child.wait_with_output(),
    )
    .await
    .expect("codex ran for more than 120 s")
    .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `codex exec PROMPT` against `base_url` (the emulator or a proxy in front of it) in WebSocket
/// mode, in a fresh CODEX_HOME and working directory, sending `key`; fails the test with both
/// streams unless Codex exits 0. Returns (stdout, stderr).
pub async fn exec_ok(base_url: &str, prompt: &str, key: &str) -> (String, String) {
    exec_ok_in(base_url, prompt, key, true).await
}

/// [`exec_ok`] in WebSocket mode (`websockets`) or HTTP mode.
pub async fn exec_ok_in(
    base_url: &str,
    prompt: &str,
    key: &str,
    websockets: bool,
) -> (String, String) {
    binary();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write_config_for(home.path(), base_url, "TURNSCOPE_TEST_KEY", websockets);
    let (status, out, err) = exec(
        home.path(),
        work.path(),
        prompt,
        &[("TURNSCOPE_TEST_KEY", key)],
    )
    .await;
    assert!(status.success(), "codex failed: {status}\n{out}\n{err}");
    (out, err)
}
