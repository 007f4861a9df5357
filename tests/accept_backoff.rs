//! Out of file descriptors, the proxy's and the emulator's accept loops wait instead of
//! spinning: each runs as a child process under a low open-file limit (`prlimit`), is given
//! more connections than it has descriptors, and its CPU time (from /proc, not wall time)
//! over a window while saturated stays near zero. Before the back-off the proxy retried
//! `accept` at once and burnt a core.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/child.rs"]
mod child;
#[path = "support/procs.rs"]
mod procs;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use child::Proc;

/// Open files each child may have: its runtime, listener and a few agents.
const NOFILE: usize = 48;
/// Connections opened: enough to leave many waiting in the kernel's accept queue.
const CONNECTIONS: usize = 80;
/// How long the saturated loop is watched.
const WINDOW: Duration = Duration::from_secs(2);
/// Most CPU the child may use in the window: a spinning loop uses close to all of it even
/// on a loaded machine; one that waits up to a second between tries uses a few milliseconds.
const MAX_CPU: Duration = Duration::from_millis(150);

/// `turnscope ARGS` under the limit.
fn spawn(args: &[&str]) -> Proc {
    Proc::start_under(
        &["prlimit", &format!("--nofile={NOFILE}:{NOFILE}")],
        args,
        &[],
    )
}

/// `HOST:PORT` from the `  OPENAI_BASE_URL=http://HOST:PORT/v1` line both servers print.
fn address(proc: &mut Proc) -> String {
    let line = proc.line_with("OPENAI_BASE_URL=");
    line.split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned()
}

/// User + system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    procs::cpu_time(pid).expect("/proc/PID/stat gives the child's CPU time")
}

/// Open descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Connects more agents than the child has descriptors for, waits until the child holds all
/// it may, then returns the CPU it used over [`WINDOW`] while the rest wait to be accepted.
fn saturated_cpu(proc: &Proc, addr: &str) -> Duration {
    let pid = proc.child.id();
    let conns: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // The child is saturated once its descriptor table is full (accept now fails with EMFILE).
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_fds(pid) < NOFILE {
        assert!(
            Instant::now() < deadline,
            "the child never filled its {NOFILE} descriptors (has {})",
            open_fds(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = cpu_time(pid);
    std::thread::sleep(WINDOW);
    let used = cpu_time(pid) - before;
    assert!(open_fds(pid) >= NOFILE, "still saturated at the end");
    drop(conns);
    used
}

#[test]
fn the_proxy_backs_off_when_out_of_descriptors() {
    let mut proxy = spawn(&[
        "proxy",
        "--no-tui",
        "--no-record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "http://127.0.0.1:9/v1",
    ]);
    let addr = address(&mut proxy);
    let used = saturated_cpu(&proxy, &addr);
    eprintln!("proxy: {used:?} CPU in {WINDOW:?} while saturated");
    assert!(
        used < MAX_CPU,
        "the proxy used {used:?} CPU in {WINDOW:?} while saturated"
    );
    // It says why it cannot accept, once, and how to fix it.
    let line = proxy.line_with("cannot accept agent connections");
    assert!(line.contains("ulimit -n"), "{line}");
}

#[test]
fn the_emulator_backs_off_when_out_of_descriptors() {
    let mut emulator = spawn(&["emulate", "--listen", "127.0.0.1:0"]);
    let addr = address(&mut emulator);
    let used = saturated_cpu(&emulator, &addr);
    eprintln!("emulator: {used:?} CPU in {WINDOW:?} while saturated");
    assert!(
        used < MAX_CPU,
        "the emulator used {used:?} CPU in {WINDOW:?} while saturated"
    );
}
