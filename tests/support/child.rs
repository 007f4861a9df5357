//! Child `turnscope` processes for the reliability tests: start one, read its output lines as
//! they come, wait for a line or a file's contents with a deadline, stop it with a signal, list
//! the files it left.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A guard against a hung test, never a synchronisation point.
pub const GUARD: Duration = Duration::from_secs(30);

/// A running `turnscope` child whose stdout and stderr lines are collected.
pub struct Proc {
    pub child: Child,
    lines: mpsc::Receiver<(bool, String)>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Proc {
    /// Starts `turnscope ARGS` with `env` set (and OPENAI_* cleared unless given).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_under(&[], args, env)
    }

    /// [`Proc::start`] under a wrapper command, e.g. `["prlimit", "--nofile=48:48"]`, which
    /// execs the binary (so the child's pid is turnscope's).
    pub fn start_under(wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Self {
        // `TURNSCOPE_BIN` lets scripts/load.sh measure a release build; tests use this build's.
        let bin = std::env::var("TURNSCOPE_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_turnscope").to_owned());
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(bin);
                cmd
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        for (is_err, pipe) in [
            (
                false,
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            ),
            (true, Box::new(child.stderr.take().unwrap())),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    if tx.send((is_err, line)).is_err() {
                        return;
                    }
                }
            });
        }
        Proc {
            child,
            lines,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    fn take(&mut self, timeout: Duration) -> Option<(bool, String)> {
        let got = self.lines.recv_timeout(timeout).ok()?;
        if got.0 {
            self.stderr.push(got.1.clone());
        } else {
            self.stdout.push(got.1.clone());
        }
        Some(got)
    }

    /// `turnscope [GLOBAL…] proxy --no-tui --listen 127.0.0.1:0 --upstream UPSTREAM [MORE…]`
    /// with `env`: the headless proxy on a port of its choosing (read it with
    /// [`Proc::base_url`]).
    pub fn headless_proxy(
        global: &[&str],
        upstream: &str,
        more: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut args = global.to_vec();
        args.extend([
            "proxy",
            "--no-tui",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
        ]);
        args.extend(more);
        Self::start(&args, env)
    }

    /// The `http://127.0.0.1:PORT/v1` a proxy or emulator child says to point clients at (its
    /// `OPENAI_BASE_URL=` line), once it says so.
    pub fn base_url(&mut self) -> String {
        let line = self.line_with("OPENAI_BASE_URL=");
        let url = line.split("OPENAI_BASE_URL=").nth(1).unwrap_or_default();
        url.split_whitespace().next().unwrap_or_default().to_owned()
    }

    /// Waits for an output line containing `needle`; returns it.
    pub fn line_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.take(left) {
                Some((_, line)) if line.contains(needle) => return line,
                Some(_) => {}
                None => panic!(
                    "no line with {needle:?}; stdout {:?} stderr {:?}",
                    self.stdout, self.stderr
                ),
            }
        }
    }

    /// Sends `signal` (e.g. "INT", "KILL") and waits for the exit; collects remaining output.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        self.signal_and_wait_for(signal, GUARD)
    }

    /// [`Proc::signal_and_wait`] with its own deadline.
    pub fn signal_and_wait_for(
        &mut self,
        signal: &str,
        guard: Duration,
    ) -> std::process::ExitStatus {
        self.signal(signal);
        self.wait_exit_for(guard)
    }

    /// Sends `signal` (e.g. "TERM", "INT") without waiting.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits for the exit (at most [`GUARD`]); collects remaining output.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.wait_exit_for(GUARD)
    }

    fn wait_exit_for(&mut self, guard: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + guard;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Drain what the pipes still hold.
                while self.take(Duration::from_millis(200)).is_some() {}
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the child did not exit; stderr {:?}",
                self.stderr
            );
            let _ = self.take(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, recursively: what a child left behind, for the tests that look for
/// a key in any of them.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Waits until the file at `path` satisfies `pred`.
pub fn file_until(path: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + GUARD;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if pred(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10)); // polling a file, not synchronising threads
    }
}
