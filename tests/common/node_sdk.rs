//! The official Node SDK (npm `openai@7.55.0`, with `ws`) and TypeScript (`typescript@5.9.3`,
//! for `tsc`) under target/node-sdk, installed once per test binary with npm (`.ci/run` does
//! the same). Shared as `#[path = "common/node_sdk.rs"] mod node_sdk;` beside `sdk_venv`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use super::sdk_venv::root;

pub const NODE_SDK: &str = "7.55.0";
pub const TYPESCRIPT: &str = "5.9.3";

fn has_version(modules: &std::path::Path, package: &str, version: &str) -> bool {
    std::fs::read_to_string(modules.join(package).join("package.json"))
        .unwrap_or_default()
        .contains(&format!("\"version\": \"{version}\""))
}

/// target/node-sdk/node_modules (panics with npm's message when it cannot be installed).
pub fn node_modules() -> &'static PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = DIR.get_or_init(|| {
        let prefix = root().join("target").join("node-sdk");
        let modules = prefix.join("node_modules");
        if has_version(&modules, "openai", NODE_SDK)
            && has_version(&modules, "typescript", TYPESCRIPT)
            && modules.join("ws").exists()
        {
            return Ok(modules);
        }
        let out = std::process::Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("openai@{NODE_SDK}"))
            .arg("ws")
            .arg(format!("typescript@{TYPESCRIPT}"))
            .output()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if out.status.success() {
            Ok(modules)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    match result {
        Ok(p) => p,
        Err(e) => panic!("cannot install the Node SDK and TypeScript under target/node-sdk: {e}"),
    }
}
