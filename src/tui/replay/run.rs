//! The replay screen's loop on the real terminal: keys and index progress in, one draw per batch.

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::app::{ReplayAction, ReplayApp, update};
use super::keys;
use super::resolve::resolve;
use crate::replay::Index;
use crate::tui::terminal::TerminalGuard;

/// Playback tick.
const TICK: Duration = Duration::from_millis(40);
/// Background progress redraws at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The action a terminal event means.
pub fn event_action(app: &ReplayApp, event: Event) -> Option<ReplayAction> {
    match event {
        Event::Key(key) => keys::resolve(app, key),
        Event::Resize(width, height) => Some(ReplayAction::Resized { width, height }),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(ReplayAction::StepFrame(1)),
            MouseEventKind::ScrollUp => Some(ReplayAction::StepFrame(-1)),
            _ => None,
        },
        _ => None,
    }
}

/// Runs the replay screen until quit; `progress` wakes it when the index or ledger advanced.
pub async fn run(
    index: &Index,
    mut app: ReplayApp,
    mut progress: UnboundedReceiver<()>,
    cancel: CancellationToken,
) -> io::Result<()> {
    let mut guard = TerminalGuard::enter()?;
    let terminal = guard.terminal();
    let size = terminal.size()?;
    app.size = (size.width, size.height);
    let clock = Instant::now();
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut progress_open = true;
    let mut last_draw = Instant::now();
    let mut deferred: Option<tokio::time::Instant> = None;
    resolve(&mut app, index);
    terminal.draw(|f| crate::tui::view::replay::render(&app, f))?;
    loop {
        let now_us = || u64::try_from(clock.elapsed().as_micros()).unwrap_or(u64::MAX);
        let defer_at = deferred.unwrap_or_else(tokio::time::Instant::now);
        let first = tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            ev = input.next() => match ev {
                Some(Ok(ev)) => event_action(&app, ev),
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            _ = tick.tick(), if app.play.playing => Some(ReplayAction::Ticked { now_us: now_us() }),
            p = progress.recv(), if progress_open => {
                if p.is_none() {
                    progress_open = false;
                }
                while progress.try_recv().is_ok() {}
                if last_draw.elapsed() < PROGRESS_EVERY {
                    deferred = Some(tokio::time::Instant::from_std(last_draw + PROGRESS_EVERY));
                    continue;
                }
                Some(ReplayAction::Progressed)
            },
            () = tokio::time::sleep_until(defer_at), if deferred.is_some() => {
                deferred = None;
                Some(ReplayAction::Progressed)
            },
        };
        let mut next = first;
        loop {
            if let Some(action) = next.take()
                && update(&mut app, action)
            {
                return Ok(());
            }
            // Drain keys already typed before drawing. Polled inside this task (not with
            // `now_or_never`, whose no-op waker would leave crossterm's stream asleep for good).
            tokio::select! {
                biased;
                ev = input.next() => match ev {
                    Some(Ok(ev)) => next = event_action(&app, ev),
                    Some(Err(e)) => return Err(e),
                    None => break,
                },
                () = std::future::ready(()) => break,
            }
        }
        resolve(&mut app, index);
        terminal.draw(|f| crate::tui::view::replay::render(&app, f))?;
        last_draw = Instant::now();
    }
}
