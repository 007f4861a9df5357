//! The real `turnscope` binary on a real terminal: a detached tmux session of a fixed size whose
//! screen the test reads (`capture-pane`) and types into (`send-keys`), killed on drop.
//! tmux is required: without it the test fails with the reason (`.ci/run` installs it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A guard against a hung test, never a synchronisation point.
pub const GUARD: Duration = Duration::from_secs(60);

/// One tmux session running one command.
pub struct Tmux {
    name: String,
}

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().unwrap_or_else(|e| {
        panic!("tmux is needed to drive the TUI on a real terminal ({e}); install it (apt-get install tmux; .ci/run does)")
    })
}

impl Tmux {
    /// Starts `argv` (the turnscope binary's arguments) at `width`×`height`, with OPENAI_* unset
    /// and `env` set. `tag` makes the session name unique beside other tests and developers.
    pub fn start(tag: &str, width: u16, height: u16, args: &[&str], env: &[(&str, &str)]) -> Self {
        let name = format!("turnscope-test-{tag}-{}", std::process::id());
        let mut command = vec![
            "env".to_owned(),
            "-u".into(),
            "OPENAI_API_KEY".into(),
            "-u".into(),
            "OPENAI_BASE_URL".into(),
        ];
        command.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        command.push(env!("CARGO_BIN_EXE_turnscope").to_owned());
        command.extend(args.iter().map(|a| (*a).to_owned()));
        let (w, h) = (width.to_string(), height.to_string());
        let mut argv = vec![
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            &w,
            "-y",
            &h,
            // The pane stays after the program exits, so a crash can still be read.
            "-e",
            "TERM=xterm-256color",
        ];
        argv.push("--");
        let command_refs: Vec<&str> = command.iter().map(String::as_str).collect();
        argv.extend(command_refs);
        let out = tmux(&argv);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = tmux(&["set-option", "-t", &name, "remain-on-exit", "on"]);
        Tmux { name }
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        let out = tmux(&["capture-pane", "-p", "-t", &self.name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `done` holds for the screen and returns that screen. tmux has no change
    /// notification, so the pane is read again every 50 ms until then (the guard only ends a
    /// hung test).
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `keys` (tmux key names, e.g. `"6"`, `"Enter"`, `"Escape"`); literal text with `-l`.
    pub fn keys(&self, keys: &[&str]) {
        let mut argv = vec!["send-keys", "-t", &self.name];
        argv.extend(keys);
        assert!(tmux(&argv).status.success());
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        assert!(
            tmux(&["send-keys", "-t", &self.name, "-l", text])
                .status
                .success()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.name]);
    }
}
