//! A real Arize Phoenix server for the OpenTelemetry tests: installed from PyPI into
//! target/phoenix-venv once (`pip install arize-phoenix==PHOENIX_VERSION`; needs PyPI access
//! once), started once per test binary on 127.0.0.1 with free ports and a temporary working
//! directory, and stopped when the test binary exits (the wrapper watches its stdin).
//! Use: `#[path = "common/phoenix.rs"] mod phoenix;` beside `mod sdk_venv;` (whose `root` and
//! `create_venv` it shares).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::sdk_venv::{create_venv, root};

/// The pinned Phoenix release (pip install measured at ~5 min wall, 1m40s CPU on 2 busy cores).
pub const PHOENIX_VERSION: &str = "20.26.1";
/// How long Phoenix may take to answer `/healthz` (its first start migrates a new database).
const READY_LIMIT: Duration = Duration::from_secs(300);

fn phoenix_ready(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            &format!(
                "import importlib.metadata as m, phoenix; assert m.version('arize-phoenix') == '{PHOENIX_VERSION}'"
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The venv's python with Phoenix installed (made on first use).
fn python() -> Result<PathBuf, String> {
    let venv = root().join("target").join("phoenix-venv");
    let python = venv.join("bin").join("python");
    if python.exists() && phoenix_ready(&python) {
        return Ok(python);
    }
    create_venv(
        "phoenix-venv",
        &[&format!("arize-phoenix=={PHOENIX_VERSION}")],
    )?;
    if phoenix_ready(&python) {
        Ok(python)
    } else {
        Err("the Phoenix venv was created but `import phoenix` fails".into())
    }
}

/// A running Phoenix.
pub struct Phoenix {
    /// `http://127.0.0.1:PORT`: the UI, the REST API and OTLP/HTTP on `/v1/traces`.
    pub url: String,
    port: u16,
    _child: Mutex<Child>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One blocking `GET path` on 127.0.0.1:port; the status code, if it answered.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn start() -> Result<Phoenix, String> {
    let python = python()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (port, grpc) = (free_port(), free_port());
    let mut child = Command::new(&python)
        .arg(root().join("tests").join("otel").join("phoenix_serve.py"))
        .env("PHOENIX_HOST", "127.0.0.1")
        .env("PHOENIX_PORT", port.to_string())
        .env("PHOENIX_GRPC_PORT", grpc.to_string())
        .env("PHOENIX_WORKING_DIR", dir.path())
        .env("PHOENIX_TELEMETRY_ENABLED", "false")
        .env("DO_NOT_TRACK", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("phoenix.log")).map_err(|e| e.to_string())?,
        ))
        .spawn()
        .map_err(|e| format!("cannot start phoenix serve: {e}"))?;
    let started = Instant::now();
    // Poll the health endpoint; each poll either answers or fails fast (connection refused).
    while get_status(port, "/healthz") != Some(200) {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("phoenix.log")).unwrap_or_default();
            return Err(format!("phoenix serve exited ({status}):\n{log}"));
        }
        if started.elapsed() > READY_LIMIT {
            let _ = child.kill();
            return Err(format!(
                "phoenix did not answer /healthz within {READY_LIMIT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "phoenix {PHOENIX_VERSION} ready on 127.0.0.1:{port} after {:?}",
        started.elapsed()
    );
    Ok(Phoenix {
        url: format!("http://127.0.0.1:{port}"),
        port,
        _child: Mutex::new(child),
        _dir: dir,
    })
}

/// The shared Phoenix (panics with the reason when it cannot be installed or started).
pub fn phoenix() -> &'static Phoenix {
    static PHOENIX: OnceLock<Result<Phoenix, String>> = OnceLock::new();
    match PHOENIX.get_or_init(start) {
        Ok(p) => p,
        Err(e) => panic!("cannot run Arize Phoenix: {e}"),
    }
}

impl Phoenix {
    /// The spans of `trace_id` in project `project`, via `GET /v1/projects/{project}/spans`,
    /// once `count` of them are there (Phoenix inserts in the background); panics after 60 s.
    pub async fn spans(
        &self,
        project: &str,
        trace_id: &str,
        count: usize,
    ) -> Vec<serde_json::Value> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let url = format!(
                "{}/v1/projects/{project}/spans?trace_id={trace_id}&limit=1000",
                self.url
            );
            let body: serde_json::Value = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.json().await.unwrap(),
                _ => serde_json::Value::Null,
            };
            let spans: Vec<serde_json::Value> = body["data"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|s| s["context"]["trace_id"] == trace_id)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            if spans.len() >= count {
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Phoenix holds {} of {count} spans of trace {trace_id} after 60 s: {body}",
                spans.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
