//! The official Python SDK in a venv under target/sdk-venv, created once per test binary
//! (`python3 -m venv` + `pip install 'openai[realtime]==3.51.0'`; needs PyPI access once).
//! Shared by the SDK tests: `#[path = "common/sdk_venv.rs"] mod sdk_venv;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

pub const SDK_SPEC: &str = "openai[realtime]==3.51.0";
pub const SDK_VERSION: &str = "3.51.0";

/// The repository root.
pub fn root() -> &'static Path {
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

/// Runs `cmd`; on failure, the error names `what` and carries its output.
pub fn run_checked(cmd: &mut std::process::Command, what: &str) -> Result<(), String> {
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

/// Makes `target/<name>` a venv with the system python (`$PYTHON`, else `python3`) and
/// pip-installs `pip_args` into it; returns the venv's python.
pub fn create_venv(name: &str, pip_args: &[&str]) -> Result<PathBuf, String> {
    let venv = root().join("target").join(name);
    let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run_checked(
        std::process::Command::new(&system)
            .args(["-m", "venv"])
            .arg(&venv),
        &format!("python3 -m venv target/{name}"),
    )?;
    let python = venv_python(&venv);
    run_checked(
        std::process::Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(pip_args),
        &format!("pip install {}", pip_args.join(" ")),
    )?;
    Ok(python)
}

/// The venv's python (panics with the reason when the venv cannot be made).
pub fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = PYTHON.get_or_init(|| {
        let venv = root().join("target").join("sdk-venv");
        let python = venv_python(&venv);
        if python.exists() && sdk_ready(&python) {
            return Ok(python);
        }
        create_venv("sdk-venv", &[SDK_SPEC])?;
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

/// Runs `tests/sdk/<name>` with the venv's python and `env`, without the developer's own
/// OpenAI organisation/project/WebSocket settings; panics if it runs longer than `limit`.
pub async fn run_script(
    name: &str,
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> std::process::Output {
    let mut command = tokio::process::Command::new(python());
    command
        .arg(root().join("tests").join("sdk").join(name))
        .envs(env.iter().copied())
        .env_remove("OPENAI_ORG_ID")
        .env_remove("OPENAI_PROJECT_ID")
        .env_remove("OPENAI_WEBSOCKET_BASE_URL")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("the SDK script timed out")
        .unwrap()
}

/// [`run_script`], and fails the test with its status, stdout and stderr unless it exits 0;
/// returns its stdout.
pub async fn run_ok(name: &str, env: &[(&str, &str)], limit: std::time::Duration) -> String {
    let out = run_script(name, env, limit).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// [`run_ok`] for a script that goes through a relay (turnscope's proxy, mitmdump): HTTP-mode
/// requests to `base_url`, WebSocket mode to `ws_url` (the scripts read `TURNSCOPE_PROXY_WS`),
/// sending `key`. The 180 s limit is a guard against a hung run, not a timing.
pub async fn run_through(name: &str, base_url: &str, ws_url: &str, key: &str) -> String {
    run_ok(
        name,
        &[
            ("OPENAI_BASE_URL", base_url),
            ("TURNSCOPE_PROXY_WS", ws_url),
            ("OPENAI_API_KEY", key),
        ],
        std::time::Duration::from_secs(180),
    )
    .await
}
