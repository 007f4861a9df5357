//! The `turnscope` binary run to completion as a user would from a shell, without the
//! developer's own OpenAI, turnscope or OpenTelemetry settings leaking in from the environment
//! (a test gives the ones it means through `env`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

/// Variables a developer may have set that change what turnscope does.
const USER_ENV: [&str; 16] = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "TURNSCOPE_CONFIG",
    "TURNSCOPE_MODEL",
    "TURNSCOPE_THEME",
    "TURNSCOPE_STORE",
    "TURNSCOPE_TOOLS",
    "TURNSCOPE_INSTRUCTIONS",
    "TURNSCOPE_RECORD_DIR",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "RUST_LOG",
    "NO_COLOR",
];

/// `turnscope ARGS` with `env` (and none of [`USER_ENV`] otherwise), stdin closed.
pub fn turnscope<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnscope"));
    cmd.args(args).stdin(Stdio::null());
    for var in USER_ENV {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

/// [`turnscope`] that must succeed (else the test fails with the arguments and stderr);
/// returns (stdout, stderr).
pub fn turnscope_ok<S: AsRef<OsStr> + std::fmt::Debug>(
    args: &[S],
    env: &[(&str, &str)],
) -> (String, String) {
    let out = turnscope(args, env);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "turnscope {args:?} ({}):\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}
