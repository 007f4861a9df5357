//! Finding a process by name under a child we started: `script` (a pty) or a wrapper such as
//! heaptrack runs turnscope as a descendant, and the figures (RSS, CPU) must be turnscope's own.
//! Shared by `tests/proxy_memory.rs` and `benches/relay.rs` (through `#[path]`).
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
