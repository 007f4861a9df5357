//! The one loop every screen runs on (live, proxy, replay, bench), its forward task and its
//! terminal: generic over ratatui's `Backend`, so tests drive the whole loop on `TestBackend`.
//!
//! ```text
//!  source task ─forward─▶ actions ─┐
//!  terminal events ────────────────┼─▶ Screen::apply ─▶ Step ─▶ draw once per batch, if changed
//!  clock tick (only when wanted) ──┘
//! ```
//! A screen asks for a clock tick only while something on it moves with the clock (the age
//! gauge of an open connection, playback); otherwise the loop sleeps until an action or a key
//! arrives, and a tick that changes nothing visible draws nothing. Draws are at most one per
//! [`MIN_DRAW_GAP`]: a proxy relaying thousands of small frames a second drew once per frame
//! (most of its CPU per frame); a change inside the gap is drawn when the gap ends.

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::{Frame, Terminal};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::terminal::TerminalGuard;

/// The shortest time between two draws (30 per second): quicker than a key repeat is seen, and
/// a busy source's frames are drawn in batches instead of one draw each.
pub const MIN_DRAW_GAP: Duration = Duration::from_millis(33);

/// What applying an action did to the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Something visible changed: draw after this batch.
    Redraw,
    /// Nothing visible changed: no draw for this action.
    Unchanged,
    /// The screen is done: leave the loop.
    Quit,
}

/// A screen the loop can run: how it reads terminal events, applies actions, ticks and draws.
pub trait Screen {
    /// What its sources and keys send it.
    type Action: Send + 'static;

    /// The action a terminal event means, if any.
    fn on_event(&self, event: Event) -> Option<Self::Action>;

    /// Applies one action.
    fn apply(&mut self, action: Self::Action) -> Step;

    /// How often it wants a clock tick right now; `None` (the default) means no tick at all.
    fn tick_every(&self) -> Option<Duration> {
        None
    }

    /// The action a clock tick at `now` means, if any.
    fn tick(&mut self, _now: Instant) -> Option<Self::Action> {
        None
    }

    /// The shortest time from one draw to the next right now ([`MIN_DRAW_GAP`] unless the
    /// screen paces its own draws, as replay's catch-up does: each of its draws feeds a chunk).
    fn draw_gap(&self) -> Duration {
        MIN_DRAW_GAP
    }

    /// Brings derived state up to date just before a draw (e.g. reads what is visible).
    fn prepare(&mut self) {}

    /// Draws the whole screen.
    fn render(&self, frame: &mut Frame<'_>);
}

/// What the loop did, for benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Frames drawn.
    pub draws: u64,
    /// Actions applied (clock ticks included).
    pub actions: u64,
    /// Clock ticks taken.
    pub ticks: u64,
}

/// The armed clock: its period and its interval.
struct Ticker {
    every: Duration,
    interval: Interval,
}

impl Ticker {
    fn new(every: Duration) -> Self {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Ticker { every, interval }
    }
}

async fn next_tick(ticker: &mut Option<Ticker>) {
    match ticker {
        Some(t) => {
            t.interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs `screen` until it quits, `cancel` fires, or both the actions and the input end: waits
/// for an action, a terminal event or a wanted tick, applies everything queued, then draws once
/// if anything visible changed and [`MIN_DRAW_GAP`] has passed since the last draw (else when it
/// has).
pub async fn run_loop<B, S, I>(
    terminal: &mut Terminal<B>,
    screen: &mut S,
    actions: &mut UnboundedReceiver<S::Action>,
    input: &mut I,
    cancel: &CancellationToken,
) -> io::Result<LoopStats>
where
    B: Backend,
    S: Screen,
    I: Stream<Item = io::Result<Event>> + Unpin,
{
    let mut stats = LoopStats::default();
    let mut dirty = true;
    let mut input_open = true;
    let mut actions_open = true;
    let mut ticker: Option<Ticker> = None;
    // When the next draw may happen; a change before then waits for it.
    let mut draw_due = tokio::time::Instant::now();
    loop {
        if dirty && tokio::time::Instant::now() >= draw_due {
            draw(terminal, screen, &mut stats)?;
            dirty = false;
            draw_due = tokio::time::Instant::now() + screen.draw_gap();
        }
        let wanted = screen.tick_every();
        if ticker.as_ref().map(|t| t.every) != wanted {
            ticker = wanted.map(Ticker::new);
        }
        let first = tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(stats),
            // A change waiting for its draw: the gap has passed.
            () = tokio::time::sleep_until(draw_due), if dirty => None,
            a = actions.recv(), if actions_open => match a {
                Some(a) => Some(a),
                None => { actions_open = false; None }
            },
            ev = input.next(), if input_open => match ev {
                Some(Ok(ev)) => screen.on_event(ev),
                Some(Err(e)) => return Err(e),
                None => { input_open = false; None }
            },
            () = next_tick(&mut ticker) => {
                stats.ticks += 1;
                screen.tick(Instant::now())
            },
        };
        if !actions_open && !input_open {
            // The last change is drawn before leaving, whatever the gap.
            if dirty {
                draw(terminal, screen, &mut stats)?;
            }
            return Ok(stats);
        }
        let mut next = first;
        loop {
            if let Some(action) = next.take() {
                stats.actions += 1;
                match screen.apply(action) {
                    Step::Quit => return Ok(stats),
                    Step::Redraw => dirty = true,
                    Step::Unchanged => {}
                }
            }
            // Drain the actions already queued before drawing. Terminal input is not drained
            // here: crossterm's EventStream keeps the waker of its first pending poll, so a poll
            // with a throwaway waker would lose the wake-up of the next key.
            if let Ok(a) = actions.try_recv() {
                next = Some(a);
            } else {
                break;
            }
        }
    }
}

/// Brings `screen` up to date and draws it once.
fn draw<B: Backend, S: Screen>(
    terminal: &mut Terminal<B>,
    screen: &mut S,
    stats: &mut LoopStats,
) -> io::Result<()> {
    screen.prepare();
    terminal.draw(|f| screen.render(f))?;
    stats.draws += 1;
    Ok(())
}

/// Where the forward task reads a source's events: a channel (session, replay) or the proxy's
/// event stream, whose events each hold their bytes of its budget until the screen applied them.
pub trait Source: Send {
    /// What the source emits.
    type Event;
    /// The next event; `None` once the source has ended.
    fn recv(&mut self) -> impl Future<Output = Option<Self::Event>> + Send;
}

impl<E: Send> Source for UnboundedReceiver<E> {
    type Event = E;
    fn recv(&mut self) -> impl Future<Output = Option<E>> + Send {
        UnboundedReceiver::recv(self)
    }
}

/// The one forward task: maps each event of a source to the screen's action, until the source
/// ends, the screen's channel closes, or `cancel` fires. Sources never wait for the screen.
pub async fn forward<S: Source, A>(
    mut events: S,
    actions: UnboundedSender<A>,
    mut map: impl FnMut(S::Event) -> Option<A>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            ev = events.recv() => match ev {
                Some(ev) => ev,
                None => return,
            },
        };
        if let Some(action) = map(event)
            && actions.send(action).is_err()
        {
            return;
        }
    }
}

/// Runs `screen` on the real terminal: enters it (restored on every exit, panics included)
/// and runs [`run_screen`] over the terminal's events.
pub async fn run_on_terminal<S: Screen>(
    screen: &mut S,
    actions: &mut UnboundedReceiver<S::Action>,
    cancel: &CancellationToken,
) -> io::Result<LoopStats> {
    let guard = TerminalGuard::enter()?;
    run_screen(guard, screen, actions, &mut EventStream::new(), cancel).await
}

/// Tells `screen` the terminal's size, then runs the loop; the guard drops (restoring the
/// terminal) before this returns, so the caller never prints over the alternate screen.
pub async fn run_screen<B, S, I>(
    mut guard: TerminalGuard<B>,
    screen: &mut S,
    actions: &mut UnboundedReceiver<S::Action>,
    input: &mut I,
    cancel: &CancellationToken,
) -> io::Result<LoopStats>
where
    B: Backend,
    S: Screen,
    I: Stream<Item = io::Result<Event>> + Unpin,
{
    let terminal = guard.terminal();
    let size = terminal.size()?;
    if let Some(action) = screen.on_event(Event::Resize(size.width, size.height)) {
        screen.apply(action);
    }
    let stats = run_loop(terminal, screen, actions, input, cancel).await;
    drop(guard);
    stats
}
