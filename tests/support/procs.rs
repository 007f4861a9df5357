//! Child processes through /proc (Linux), for the tests and benches that measure or drive one:
//! find turnscope under a `script` pty or a wrapper (the figures must be turnscope's own), read
//! its memory and CPU time, run a command under a pty. Included with `#[path]`.
#![allow(dead_code)]

/// `pid` or its first descendant (depth first) whose command (`/proc/PID/comm`) is `comm`.
/// `None` while it does not exist yet (a pty's shell has not exec'd) or once it has gone.
pub fn descendant(pid: u32, comm: &str) -> Option<u32> {
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if name.trim() == comm {
            return Some(p);
        }
        // Linux lists a task's children here (CONFIG_PROC_CHILDREN); a process gone meanwhile
        // reads as none.
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        todo.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    None
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`, `RssAnon`, …), in kB; `pid` may be
/// `"self"`. `None` where there is no /proc (not Linux) or no such field.
pub fn status_kb(pid: impl std::fmt::Display, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// User + system CPU time of a process so far (`/proc/<pid>/stat`; `pid` may be `"self"`).
pub fn cpu_time(pid: impl std::fmt::Display) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command, which may hold spaces and parentheses, start after the
    // last ')': utime and stime are the 12th and 13th there (14 and 15 of the whole line).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(std::time::Duration::from_micros(
        ticks * 1_000_000 / clock_ticks(),
    ))
}

/// Ticks per second of /proc's times (`getconf CLK_TCK`; USER_HZ is 100 on Linux builds).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// `script` (util-linux) running the shell line `line` under a fresh `cols`×`rows` pty: what a
/// test or bench needs to run a TUI on a real terminal without tmux. The caller sets the rest
/// (environment, stdio).
pub fn under_pty(cols: u16, rows: u16, line: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("script");
    cmd.args([
        "-qfec",
        &format!("stty rows {rows} cols {cols}; {line}"),
        "/dev/null",
    ]);
    cmd
}

/// What a child writes (a pty's screen, or a pipe), collected by a thread as it comes; the
/// thread keeps draining, so a TUI never blocks on a full pty.
pub struct Output {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Everything read so far.
    pub seen: Vec<u8>,
}

impl Output {
    /// Starts reading `from` until it ends.
    pub fn read(mut from: impl std::io::Read + Send + 'static) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        Output {
            rx,
            seen: Vec::new(),
        }
    }

    /// What was read so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads until the output holds `needle`; panics with what it showed after `guard`.
    pub fn until(&mut self, needle: &str, guard: std::time::Duration) {
        let deadline = std::time::Instant::now() + guard;
        while !self.text().contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!("never showed {needle:?}; it showed {:?}", self.text()),
            }
        }
    }

    /// The `HOST:PORT` of the first `OPENAI_BASE_URL=http://HOST:PORT/v1` shown (the proxy
    /// prints it headless and shows it on its TUI's empty turn list).
    pub fn base_addr(&mut self, guard: std::time::Duration) -> String {
        self.until("OPENAI_BASE_URL=http://", guard);
        self.until("/v1", guard);
        let text = self.text();
        let rest = text
            .split("OPENAI_BASE_URL=http://")
            .nth(1)
            .unwrap_or_default();
        rest.split("/v1").next().unwrap_or_default().to_owned()
    }
}
