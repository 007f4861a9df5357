//! Enters the TUI terminal modes, then leaves by the path named on the command line, so the
//! terminal-safety test can check each path restores the terminal: `ok` (the guard drops),
//! `error` (an error propagates out of `main`), `hook` (a panic with the guard leaked, so only
//! the panic hook can restore) and `panic` (a panic that unwinds through the guard).

use std::io;

use ratatui::widgets::Paragraph;
use turnscope::tui::terminal::TerminalGuard;

fn main() -> io::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    // The binary's own hook, as `main` installs it: panic messages are printed redacted.
    turnscope::cli::panic::install(turnscope::secrets::Secrets::default());
    let mut guard = TerminalGuard::enter()?;
    guard
        .terminal()
        .draw(|f| f.render_widget(Paragraph::new("turnscope terminal test"), f.area()))?;
    match mode.as_str() {
        "ok" => Ok(()),
        "error" => Err(io::Error::other("a simulated failure on a TUI path")),
        "hook" => {
            std::mem::forget(guard);
            // The key-shaped text must come out masked.
            panic!(
                "a simulated panic with the guard leaked, quoting sk-proj-TURNSCOPETESTKEY0123456789abcdef"
            );
        }
        _ => panic!("a simulated panic while the guard is alive"),
    }
}
