//! The proxy's memory bound: bodies between the relay and whoever reads the events hold a share
//! of one fixed byte budget, so a slow reader slows the proxy instead of growing it.
//!
//! Policy (never drop a recorded frame): a relay forwards a frame first, then reserves its
//! size from the budget before handing it to the recorder. The reservation travels with the
//! frame through the recorder (which writes the transcript) into [`ProxyEvents`] and is given
//! back when the reader is done with the event: at once for [`ProxyEvents::recv`], or when the
//! reader drops the [`Hold`] that [`ProxyEvents::recv_held`] hands over with it (the TUI drops it
//! once its screen has applied the frame, so frames queued between its reader and its screen
//! count too). While the budget has room nothing waits. When the
//! reader falls behind by more than [`BUDGET_BYTES`], the recorder's queue is full and the relay
//! waits *after* forwarding the frame in hand, so back-pressure reaches the agent's and the
//! upstream's sockets only when the memory bound requires it. At shutdown the bound is lifted,
//! so frames still in flight are recorded rather than lost.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::ProxyEvent;

/// Bytes of relayed bodies that may wait for the recorder and the reader together. 4 MiB (64
/// frames of 64 KB) absorbs a burst; more only raises the peak: issue 18's bound is 64 MB for the
/// whole proxy, of which the o200k tokenizer's tables take ~29 MB.
pub const BUDGET_BYTES: usize = 4 << 20;

/// The shared byte budget.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    permits: Arc<Semaphore>,
    total: usize,
}

impl Budget {
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Budget {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Waits until `len` bytes fit; a body larger than the whole budget waits for all of it.
    /// `None` for an empty body and once the bound is lifted (nothing is held back then).
    pub async fn reserve(&self, len: usize) -> Option<Reservation> {
        let n = u32::try_from(len.min(self.total)).unwrap_or(u32::MAX);
        if n == 0 {
            return None;
        }
        self.permits
            .clone()
            .acquire_many_owned(n)
            .await
            .ok()
            .map(Reservation)
    }

    /// Stops holding anyone back (shutdown: everything in flight must still be recorded).
    pub fn lift(&self) {
        self.permits.close();
    }

    /// Bytes free now (for tests).
    #[cfg(test)]
    pub fn free(&self) -> usize {
        self.permits.available_permits()
    }
}

/// Bytes held from the budget until dropped.
#[derive(Debug)]
pub(crate) struct Reservation(OwnedSemaphorePermit);

impl Reservation {
    /// `len` of the bytes held, as a reservation of their own (a burst reserved at once is
    /// given back frame by frame); `None` when fewer are held.
    pub fn split(&mut self, len: usize) -> Option<Reservation> {
        self.0.split(len).map(Reservation)
    }
}

/// An event with the budget its body holds.
#[derive(Debug)]
pub(crate) struct Queued {
    pub event: ProxyEvent,
    pub held: Option<Reservation>,
}

impl Queued {
    /// The event, its bytes given back to the budget.
    fn received(self) -> ProxyEvent {
        drop(self.held);
        self.event
    }

    /// The event and the bytes it still holds.
    fn held(self) -> (ProxyEvent, Hold) {
        (self.event, Hold(self.held))
    }
}

/// An event's share of the proxy's byte budget, given back when dropped: a reader that queues
/// events before it is done with them keeps this beside each one, so what it has queued holds
/// the relays back too.
#[derive(Debug)]
pub struct Hold(#[allow(dead_code)] Option<Reservation>);

/// The recorder's end of [`ProxyEvents`].
pub(crate) type EventsTx = mpsc::UnboundedSender<Queued>;

/// What the proxy tells its user, in order (see [`ProxyEvent`]). Receiving an event gives its
/// body's bytes back to the proxy's budget; a reader that stops reading stalls the relays once
/// [`BUDGET_BYTES`] are waiting (see the module notes).
#[derive(Debug)]
pub struct ProxyEvents {
    pub(crate) rx: mpsc::UnboundedReceiver<Queued>,
}

impl ProxyEvents {
    pub(crate) fn channel() -> (EventsTx, ProxyEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, ProxyEvents { rx })
    }

    /// A stream that has already ended (to swap in where the real one is taken away).
    pub fn ended() -> Self {
        ProxyEvents::channel().1
    }

    /// The next event; `None` once the proxy has shut down and everything was read.
    pub async fn recv(&mut self) -> Option<ProxyEvent> {
        self.rx.recv().await.map(Queued::received)
    }

    /// The next event and its share of the budget, held until the [`Hold`] is dropped; `None`
    /// once the proxy has shut down and everything was read.
    pub async fn recv_held(&mut self) -> Option<(ProxyEvent, Hold)> {
        self.rx.recv().await.map(Queued::held)
    }

    /// The next event if one is queued now.
    pub fn try_recv(&mut self) -> Option<ProxyEvent> {
        self.rx.try_recv().ok().map(Queued::received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_gives_the_budget_back_when_done_and_lifting_frees_a_waiting_relay() {
        let budget = Budget::new(100);
        let (tx, mut events) = ProxyEvents::channel();
        let held = budget.reserve(60).await;
        let send = |held| {
            tx.send(Queued {
                event: ProxyEvent::Error("x".into()),
                held,
            })
        };
        send(held).unwrap();
        assert_eq!(budget.free(), 40);
        // A body over the whole budget waits for all of it; it cannot start while 60 are held.
        let big = budget.reserve(500);
        tokio::pin!(big);
        assert!(futures_util::FutureExt::now_or_never(&mut big).is_none());
        // A held event keeps its bytes until the reader drops its hold.
        let (event, hold) = events.recv_held().await.unwrap();
        assert_eq!(event, ProxyEvent::Error("x".into()));
        assert!(futures_util::FutureExt::now_or_never(&mut big).is_none());
        drop(hold);
        let all = big.await;
        assert!(all.is_some());
        assert_eq!(budget.free(), 0);
        // Shutdown: a relay waiting for room goes on without a reservation.
        budget.lift();
        assert!(budget.reserve(10).await.is_none());
        drop(all);
    }
}
