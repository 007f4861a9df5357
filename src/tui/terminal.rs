//! Enters and leaves the terminal's raw, alternate-screen, mouse and paste modes, restoring on every exit.

use std::io::{self, Stdout};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};

/// The terminal a screen draws on, restored when dropped (and by the panic hook) if it is the
/// real one. Generic over the backend so the same path runs on `TestBackend` in tests.
pub struct TerminalGuard<B: Backend = CrosstermBackend<Stdout>> {
    terminal: Terminal<B>,
    /// Whether `enter` switched the real terminal's modes (and drop must switch them back).
    tty: bool,
}

impl<B: Backend> TerminalGuard<B> {
    /// A terminal on `backend` whose modes are not touched (tests, `TestBackend`).
    pub fn with_backend(backend: B) -> io::Result<Self> {
        Ok(TerminalGuard {
            terminal: Terminal::new(backend)?,
            tty: false,
        })
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<B> {
        &mut self.terminal
    }
}

impl TerminalGuard {
    /// Switches the terminal into TUI mode; a panic afterwards restores it before the message prints.
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(
            out,
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste
        ) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(TerminalGuard {
                terminal,
                tty: true,
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl<B: Backend> Drop for TerminalGuard<B> {
    fn drop(&mut self) {
        if self.tty {
            let _ = self.terminal.show_cursor();
            restore();
        }
    }
}

/// Leaves every mode `enter` turned on; safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
