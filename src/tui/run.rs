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
//!
//! Inside the gap after a draw the loop does not even read its actions: they wait in their
//! channel and are all applied when the gap ends, so a busy source wakes the screen's thread
//! about once per gap, not once per batch it sends (the proxy TUI's thread was woken 2–3 times
//! per relayed turn, a futex wake and a context switch each). Keys are read at once and drawn at
//! once, so typing never waits for the gap; an idle screen's first action is drawn at once too;
//! and a source whose queue grows long (the proxy's byte budget) wakes it early through
//! [`Screen::pressure`].

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::{Frame, Terminal};
use tokio::sync::Notify;
use tokio::sync::mpsc::error::TryRecvError;
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

    /// Rung by the source when the actions it has queued should be applied before the draw
    /// gap ends (the proxy: its frames hold bytes of a budget the relays wait on); `None` (the
    /// default) means queued actions can always wait for the gap's end. Asked once per loop.
    fn pressure(&self) -> Option<Arc<Notify>> {
        None
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
    /// Times the loop woke from waiting (an action, a key, a tick, the draw gap's end, the
    /// source's pressure): what a busy source costs the screen's thread in wake-ups.
    pub wakes: u64,
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
/// has). Within the gap, actions are left queued until it ends (or the screen's
/// [`Screen::pressure`] rings); a key is applied and drawn at once.
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
    let pressure = screen.pressure();
    // When the next draw may happen; a change before then waits for it, and so do actions.
    let mut draw_due = tokio::time::Instant::now();
    loop {
        let now = tokio::time::Instant::now();
        if dirty && now >= draw_due {
            draw(terminal, screen, &mut stats)?;
            dirty = false;
            draw_due = tokio::time::Instant::now() + screen.draw_gap();
        }
        let wanted = screen.tick_every();
        if ticker.as_ref().map(|t| t.every) != wanted {
            ticker = wanted.map(Ticker::new);
        }
        // Inside the gap the actions wait: reading them now would wake this thread for every
        // batch a busy source sends, to apply frames nobody can see before the gap ends.
        let in_gap = tokio::time::Instant::now() < draw_due;
        let mut keyed = false;
        let first = tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(stats),
            ev = input.next(), if input_open => match ev {
                Some(Ok(ev)) => {
                    keyed = true;
                    screen.on_event(ev)
                }
                Some(Err(e)) => return Err(e),
                None => { input_open = false; None }
            },
            // The gap has ended: a change waiting for its draw, or actions queued meanwhile.
            () = tokio::time::sleep_until(draw_due), if in_gap => None,
            () = rung(pressure.as_deref()), if in_gap => None,
            a = actions.recv(), if actions_open && !in_gap => match a {
                Some(a) => Some(a),
                None => { actions_open = false; None }
            },
            () = next_tick(&mut ticker) => {
                stats.ticks += 1;
                screen.tick(Instant::now())
            },
        };
        stats.wakes += 1;
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
            match actions.try_recv() {
                Ok(a) => next = Some(a),
                Err(TryRecvError::Disconnected) => {
                    actions_open = false;
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if !actions_open && !input_open {
            // The last change is drawn before leaving, whatever the gap.
            if dirty {
                draw(terminal, screen, &mut stats)?;
            }
            return Ok(stats);
        }
        if keyed && dirty {
            // What a key changed is drawn at once, whatever the gap: typing never waits.
            draw(terminal, screen, &mut stats)?;
            dirty = false;
            draw_due = tokio::time::Instant::now() + screen.draw_gap();
        }
    }
}

/// Waits for the source's pressure, or forever when it has none.
async fn rung(pressure: Option<&Notify>) {
    match pressure {
        Some(p) => p.notified().await,
        None => std::future::pending().await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use tokio::sync::mpsc;
    use tokio::time::Instant as Clock;

    /// A screen that counts what it applied and reports each draw: when, how many actions it
    /// had applied, and when it applied the latest one.
    struct Counter {
        applied: u64,
        last_apply: Option<Clock>,
        drawn: mpsc::UnboundedSender<(Clock, u64, Option<Clock>)>,
        bell: Option<Arc<Notify>>,
    }

    impl Screen for Counter {
        type Action = u64;
        fn on_event(&self, _: Event) -> Option<u64> {
            Some(1_000)
        }
        fn apply(&mut self, n: u64) -> Step {
            self.applied += n;
            self.last_apply = Some(Clock::now());
            Step::Redraw
        }
        fn pressure(&self) -> Option<Arc<Notify>> {
            self.bell.clone()
        }
        fn prepare(&mut self) {
            let _ = self
                .drawn
                .send((Clock::now(), self.applied, self.last_apply));
        }
        fn render(&self, frame: &mut Frame<'_>) {
            frame.render_widget(format!("applied {}", self.applied), frame.area());
        }
    }

    fn key() -> io::Result<Event> {
        Ok(Event::Key(KeyEvent::new(
            KeyCode::Char('x'),
            KeyModifiers::NONE,
        )))
    }

    /// Runs `driver` beside the loop over a `Counter`; both on tokio's paused clock, which
    /// moves only when every task waits, so the times compared below are exact.
    async fn run_beside<F: Future<Output = ()>>(
        bell: Option<Arc<Notify>>,
        driver: impl FnOnce(
            mpsc::UnboundedSender<u64>,
            mpsc::UnboundedSender<io::Result<Event>>,
            mpsc::UnboundedReceiver<(Clock, u64, Option<Clock>)>,
        ) -> F,
    ) -> (LoopStats, String) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (keys_tx, mut keys_rx) = mpsc::unbounded_channel();
        let (drawn_tx, drawn) = mpsc::unbounded_channel();
        let mut screen = Counter {
            applied: 0,
            last_apply: None,
            drawn: drawn_tx,
            bell,
        };
        let mut input = futures_util::stream::poll_fn(move |cx| keys_rx.poll_recv(cx));
        let mut terminal = Terminal::new(TestBackend::new(20, 1)).unwrap();
        let cancel = CancellationToken::new();
        let (stats, ()) = tokio::join!(
            run_loop(&mut terminal, &mut screen, &mut rx, &mut input, &cancel),
            driver(tx, keys_tx, drawn),
        );
        let shown = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        (stats.unwrap(), shown)
    }

    /// A burst sent in ten pieces inside the draw gap is read in one wake-up when the gap ends
    /// and drawn once, with all of it; after an idle spell the first action is drawn at once;
    /// a key inside the gap is drawn at once; the last state is on the screen at the end.
    #[tokio::test(start_paused = true)]
    async fn a_burst_wakes_and_draws_once_per_gap_keys_and_idle_starts_draw_at_once() {
        let (stats, shown) = run_beside(None, |tx, keys, mut drawn| async move {
            let (t0, n0, _) = drawn.recv().await.unwrap();
            assert_eq!(n0, 0, "the first frame");
            for _ in 0..10 {
                for _ in 0..50 {
                    tx.send(1).unwrap();
                }
                // Lets the loop run between pieces: reading its actions in the gap, it would
                // wake for each piece.
                tokio::task::yield_now().await;
            }
            let (t1, n1, _) = drawn.recv().await.unwrap();
            assert_eq!(
                (t1 - t0, n1),
                (MIN_DRAW_GAP, 500),
                "one draw, at the gap's end"
            );
            // Idle for three gaps, then one action: drawn at the same instant.
            tokio::time::sleep(MIN_DRAW_GAP * 3).await;
            let sent = Clock::now();
            tx.send(1).unwrap();
            let (t2, n2, _) = drawn.recv().await.unwrap();
            assert_eq!((t2, n2), (sent, 501), "idle to busy is drawn at once");
            // A key inside the gap that draw opened: drawn at once too.
            let sent = Clock::now();
            keys.send(key()).unwrap();
            let (t3, n3, _) = drawn.recv().await.unwrap();
            assert_eq!((t3, n3), (sent, 1_501), "a key is drawn at once");
            // The last actions, inside the key draw's gap, and the end of both sources.
            tx.send(7).unwrap();
            drop((tx, keys));
            let (_, last, _) = drawn.recv().await.unwrap();
            assert_eq!(last, 1_508, "the final state is drawn");
        })
        .await;
        assert_eq!(stats.draws, 5, "{stats:?}");
        assert_eq!(stats.actions, 503, "{stats:?}");
        // Gap ends after the first and second draws, the idle action, the key, the ends.
        assert!(
            stats.wakes <= 6,
            "a wake-up per piece of the burst: {stats:?}"
        );
        assert!(shown.starts_with("applied 1508"), "{shown:?}");
    }

    /// A source under pressure has its queued actions applied before the gap ends (the proxy's
    /// budget), though the draw still waits for the gap.
    #[tokio::test(start_paused = true)]
    async fn pressure_applies_queued_actions_before_the_gap_ends() {
        let bell = Arc::new(Notify::new());
        let ring = bell.clone();
        let (stats, _) = run_beside(Some(bell), |tx, keys, mut drawn| async move {
            let (t0, _, _) = drawn.recv().await.unwrap();
            for _ in 0..100 {
                tx.send(1).unwrap();
            }
            ring.notify_one();
            let (t1, n1, applied_at) = drawn.recv().await.unwrap();
            assert_eq!(n1, 100);
            assert_eq!(
                applied_at,
                Some(t0),
                "applied when rung, not at the gap's end"
            );
            assert_eq!(t1 - t0, MIN_DRAW_GAP, "drawn when the gap ends");
            drop((tx, keys));
        })
        .await;
        assert_eq!(stats.draws, 2, "{stats:?}");
    }
}
