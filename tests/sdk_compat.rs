//! The official Python SDK (openai 3.51.0) against the emulator over real sockets: the
//! scripts in tests/sdk/ must pass unchanged. Creates target/sdk-venv on first use
//! (`python3 -m venv` + `pip install 'openai[realtime]==3.51.0'`; needs PyPI access once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use turnscope::emulator::{self, EmulatorConfig};

const SDK_SPEC: &str = "openai[realtime]==3.51.0";
const SDK_VERSION: &str = "3.51.0";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn sdk_ready(python: &Path) -> bool {
    std::process::Command::new(python)
        .args([
            "-c",
            &format!("import openai, websockets; assert openai.__version__ == '{SDK_VERSION}'"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_checked(cmd: &mut std::process::Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The venv's python, created once per test run (shared by all tests in this binary).
fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = PYTHON.get_or_init(|| {
        let venv = root().join("target").join("sdk-venv");
        let python = venv_python(&venv);
        if python.exists() && sdk_ready(&python) {
            return Ok(python);
        }
        let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run_checked(
            std::process::Command::new(&system)
                .args(["-m", "venv"])
                .arg(&venv),
            "python3 -m venv target/sdk-venv",
        )?;
        run_checked(
            std::process::Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SDK_SPEC,
            ]),
            "pip install openai[realtime]==3.51.0",
        )?;
        if sdk_ready(&python) {
            Ok(python)
        } else {
            Err("the SDK venv was created but `import openai` fails".into())
        }
    });
    match result {
        Ok(p) => p,
        Err(e) => panic!("cannot prepare the Python SDK venv: {e}"),
    }
}

async fn run_script(name: &str) {
    let python = python().clone();
    let emu = emulator::start(EmulatorConfig {
        api_key: Some("dummy".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let script = root().join("tests").join("sdk").join(name);
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("OPENAI_BASE_URL", emu.base_url())
        .env("OPENAI_API_KEY", "dummy")
        .env_remove("OPENAI_ORG_ID")
        .env_remove("OPENAI_PROJECT_ID")
        .env_remove("OPENAI_WEBSOCKET_BASE_URL")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("the SDK script timed out")
        .unwrap();
    emu.shutdown().await;
    assert!(
        out.status.success(),
        "{name} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_tool_loop_store_false() {
    run_script("ws_tool_loop.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_previous_response_not_found_on_fresh_connection() {
    run_script("ws_not_found.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_generate_false_warmup() {
    run_script("ws_warmup.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_http_streaming_tool_loop() {
    run_script("http_tool_loop.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_ws_lanes_via_session_helper() {
    run_script("ws_lanes.py").await;
}
