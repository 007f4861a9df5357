//! mitmproxy (PyPI `mitmproxy==11.0.2`, the last release for Python 3.11; 11.1+ needs 3.12) in a
//! venv under target/mitmproxy-venv, created once per test binary from wheels only (pyperclip
//! 1.9.0, pure Python, ships no wheel and is built from its sdist). `.ci/run` installs it too.
//! Shared as `#[path = "common/mitmproxy.rs"] mod mitmproxy;` beside `sdk_venv`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;

use super::sdk_venv::{create_venv, root};

pub const MITMPROXY_VERSION: &str = "11.0.2";

/// `target/mitmproxy-venv/bin/<tool>` (panics with the reason when the venv cannot be made).
pub fn tool(name: &str) -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = BIN.get_or_init(|| {
        let venv = root().join("target").join("mitmproxy-venv");
        let bin = venv.join("bin");
        let ready = |python: &PathBuf| {
            std::process::Command::new(python)
                .args([
                    "-c",
                    &format!(
                        "import importlib.metadata as m; assert m.version('mitmproxy') == '{MITMPROXY_VERSION}'"
                    ),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let python = bin.join("python");
        if python.exists() && ready(&python) {
            return Ok(bin);
        }
        create_venv(
            "mitmproxy-venv",
            &[
                "--only-binary=:all:",
                "--no-binary=pyperclip",
                &format!("mitmproxy=={MITMPROXY_VERSION}"),
            ],
        )?;
        if ready(&python) {
            Ok(bin)
        } else {
            Err("the mitmproxy venv was created but mitmproxy is not importable".into())
        }
    });
    match result {
        Ok(bin) => bin.join(name),
        Err(e) => panic!("cannot prepare mitmproxy under target/mitmproxy-venv: {e}"),
    }
}
