//! The single-threaded scenarios, one function per implementation and scenario, shared by
//! the criterion benches (`benches/benches/completion.rs`) and the instruction counter
//! (`benches/src/bin/fastpath_counts.rs`, run under callgrind by `benches/callgrind.sh`),
//! so both measure exactly the same code.
//!
//! Every future is polled by hand with [`Waker::noop`]; every function asserts the outcome
//! the scenario expects (`Pending`, then `Ready`), so a peer that does not do what the row
//! claims fails loudly instead of being measured.
//!
//! Scenarios:
//! - `bank_then_take`: post one completion with nobody waiting, then a wait whose first
//!   poll is `Ready` (future created, polled once, dropped);
//! - `complete_try_wait`: post one completion, then take it without waiting;
//! - `handoff_one`: a wait polled once (`Pending`, queued), post one completion, poll again
//!   (`Ready`);
//! - `repoll_queued`: as `handoff_one`, with [`REPOLLS`] more polls with the same waker
//!   (each `Pending`) between the first poll and the completion: the spurious wake-ups, the
//!   `select!` loops and the `join!` siblings that re-poll a queued wait;
//! - `wait_or_ready`: a wait raced against another future that is ready at once, with
//!   nothing banked: ours is `wait_or(ready(()))`; a peer's is the same race written by
//!   hand ([`race`]: the wait polled first, then the other future; the wait dropped
//!   after). The result is `Err` (the other future won);
//! - `wait_timeout_ready`: `wait_timeout` with a timer whose sleep is ready at once (a
//!   closure timer returning `ready(())`, non-zero timeout), nothing banked: `TimedOut`.
//!   The peers have no timed wait of their own other than a race with a sleep (tokio's
//!   `time::timeout` is that race, on the runtime's timer), so theirs is [`race`] against
//!   the same ready sleep;
//! - `select_loop`: the pattern the crate docs recommend for `select!` in a loop: the wait
//!   pinned once, outside a `tokio::select! { biased; ... }` loop whose second branch (a
//!   future ready at once) wins [`SELECT_WINS`] times; the last win posts the completion,
//!   and the next turn of the loop takes it. One poll of the whole `async` block runs it.
#![allow(dead_code)]

use std::future::{ready, Future, Ready};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use event_listener::IntoNotification;

pub mod threads;

/// Polls `fut` once with the no-op waker.
#[inline(always)]
pub fn poll<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls `fut` once with `waker` (the `_with` scenarios: a task's own waker).
#[inline(always)]
pub fn poll_with<F: Future + ?Sized>(waker: &Waker, fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Re-polls of a queued wait in `repoll_queued` (all with the same waker, all `Pending`).
pub const REPOLLS: usize = 8;

/// Wins of the busy branch in `select_loop` before the completion arrives.
pub const SELECT_WINS: usize = 8;

/// The timeout of `wait_timeout_ready` (non-zero, so that a sleep is created; the sleep is
/// ready at once whatever it is).
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// A timer whose sleeps are over at once.
#[inline]
pub fn ready_timer(_: Duration) -> Ready<()> {
    ready(())
}

/// Polls `wait`, then `other` if the wait is pending: the shape of `wait_or` written by
/// hand, for the peers (`futures::select_biased!` does the same). The caller drops both
/// futures afterwards, which takes the peer's wait out of its queue.
#[inline(always)]
pub fn race<A: Future + ?Sized, B: Future + ?Sized>(
    wait: Pin<&mut A>,
    other: Pin<&mut B>,
) -> Poll<Result<A::Output, B::Output>> {
    if let Poll::Ready(out) = poll(wait) {
        return Poll::Ready(Ok(out));
    }
    poll(other).map(Err)
}

/// Polls a queued wait [`REPOLLS`] more times with `waker`, each `Pending`.
#[inline(always)]
fn repoll_with<F: Future + ?Sized>(waker: &Waker, mut wait: Pin<&mut F>) {
    for _ in 0..REPOLLS {
        assert!(
            poll_with(waker, wait.as_mut()).is_pending(),
            "a re-poll was not pending"
        );
    }
}

/// The `select_loop` scenario for any wait: `make` creates it (pinned once, outside the
/// loop), `post` posts the completion after the busy branch's last win, `done` checks the
/// wait's output. Returns the wins of the busy branch.
#[inline(always)]
async fn select_loop<F: Future>(
    wait: F,
    post: impl Fn(),
    done: impl FnOnce(F::Output) -> bool,
) -> usize {
    let mut wait = pin!(wait);
    let mut wins = 0;
    let out = loop {
        tokio::select! {
            biased;
            out = &mut wait => break out,
            () = ready(()) => {
                wins += 1;
                if wins == SELECT_WINS {
                    post();
                }
            }
        }
    };
    assert!(done(out), "select_loop: the wait's output");
    wins
}

/// Runs a `select_loop` future to its end with one poll with `waker` (no branch ever
/// waits).
#[inline(always)]
fn run_select_loop_with(waker: &Waker, fut: impl Future<Output = usize>) {
    match poll_with(waker, pin!(fut)) {
        Poll::Ready(wins) => assert_eq!(wins, SELECT_WINS),
        Poll::Pending => panic!("select_loop: the loop did not finish in one poll"),
    }
}

/// `async-completion`: the crate under test.
pub mod ours {
    use super::*;
    use async_completion::{Completion, TimedOut};

    #[inline]
    pub fn bank_then_take(c: &Completion) {
        c.complete();
        let wait = pin!(c.wait());
        assert!(poll(wait).is_ready());
    }

    #[inline]
    pub fn complete_try_wait(c: &Completion) {
        c.complete();
        assert!(c.try_wait());
    }

    #[inline]
    pub fn handoff_one(c: &Completion) {
        let mut wait = pin!(c.wait());
        assert!(poll(wait.as_mut()).is_pending());
        c.complete();
        assert!(poll(wait).is_ready());
    }

    #[inline]
    pub fn repoll_queued(c: &Completion) {
        repoll_queued_with(c, Waker::noop());
    }

    /// [`repoll_queued`] with the polls made with `waker`.
    #[inline]
    pub fn repoll_queued_with(c: &Completion, waker: &Waker) {
        let mut wait = pin!(c.wait());
        assert!(poll_with(waker, wait.as_mut()).is_pending());
        repoll_with(waker, wait.as_mut());
        c.complete();
        assert!(poll_with(waker, wait).is_ready());
    }

    #[inline]
    pub fn wait_or_ready(c: &Completion) {
        let wait = pin!(c.wait_or(ready(())));
        assert!(matches!(poll(wait), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn wait_timeout_ready(c: &Completion) {
        let wait = pin!(c.wait_timeout(ready_timer, TIMEOUT));
        assert!(matches!(poll(wait), Poll::Ready(Err(TimedOut))));
    }

    #[inline]
    pub fn select_loop(c: &Completion) {
        select_loop_with(c, Waker::noop());
    }

    /// [`select_loop`] with the polls made with `waker`.
    #[inline]
    pub fn select_loop_with(c: &Completion, waker: &Waker) {
        run_select_loop_with(
            waker,
            super::select_loop(c.wait(), || c.complete(), |()| true),
        );
    }
}

/// `tokio::sync::Notify`: `notify_one` stores one permit when nobody waits, so it banks
/// (at most one); it has no `try_wait`.
pub mod tokio_notify {
    use super::*;
    use tokio::sync::Notify;

    #[inline]
    pub fn bank_then_take(n: &Notify) {
        n.notify_one();
        let notified = pin!(n.notified());
        assert!(poll(notified).is_ready());
    }

    #[inline]
    pub fn handoff_one(n: &Notify) {
        let mut notified = pin!(n.notified());
        assert!(poll(notified.as_mut()).is_pending());
        n.notify_one();
        assert!(poll(notified).is_ready());
    }

    #[inline]
    pub fn repoll_queued(n: &Notify) {
        repoll_queued_with(n, Waker::noop());
    }

    /// [`repoll_queued`] with the polls made with `waker`.
    #[inline]
    pub fn repoll_queued_with(n: &Notify, waker: &Waker) {
        let mut notified = pin!(n.notified());
        assert!(poll_with(waker, notified.as_mut()).is_pending());
        repoll_with(waker, notified.as_mut());
        n.notify_one();
        assert!(poll_with(waker, notified).is_ready());
    }

    #[inline]
    pub fn wait_or_ready(n: &Notify) {
        let notified = pin!(n.notified());
        let other = pin!(ready(()));
        assert!(matches!(race(notified, other), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn wait_timeout_ready(n: &Notify) {
        let notified = pin!(n.notified());
        let sleep = pin!(ready_timer(TIMEOUT));
        assert!(matches!(race(notified, sleep), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn select_loop(n: &Notify) {
        select_loop_with(n, Waker::noop());
    }

    /// [`select_loop`] with the polls made with `waker`.
    #[inline]
    pub fn select_loop_with(n: &Notify, waker: &Waker) {
        run_select_loop_with(
            waker,
            super::select_loop(n.notified(), || n.notify_one(), |()| true),
        );
    }
}

/// `tokio::sync::Semaphore` used as a counting completion: `add_permits(1)` posts,
/// `acquire()` + `forget()` consumes.
pub mod tokio_semaphore {
    use super::*;
    use tokio::sync::Semaphore;

    #[inline]
    pub fn bank_then_take(s: &Semaphore) {
        s.add_permits(1);
        let acquire = pin!(s.acquire());
        match poll(acquire) {
            Poll::Ready(Ok(permit)) => permit.forget(),
            _ => panic!("tokio Semaphore: a banked permit was not taken at once"),
        }
    }

    #[inline]
    pub fn complete_try_wait(s: &Semaphore) {
        s.add_permits(1);
        s.try_acquire().expect("tokio Semaphore: permit").forget();
    }

    #[inline]
    pub fn handoff_one(s: &Semaphore) {
        let mut acquire = pin!(s.acquire());
        assert!(poll(acquire.as_mut()).is_pending());
        s.add_permits(1);
        match poll(acquire) {
            Poll::Ready(Ok(permit)) => permit.forget(),
            _ => panic!("tokio Semaphore: the queued acquire did not get the permit"),
        }
    }

    #[inline]
    pub fn repoll_queued(s: &Semaphore) {
        repoll_queued_with(s, Waker::noop());
    }

    /// [`repoll_queued`] with the polls made with `waker`.
    #[inline]
    pub fn repoll_queued_with(s: &Semaphore, waker: &Waker) {
        let mut acquire = pin!(s.acquire());
        assert!(poll_with(waker, acquire.as_mut()).is_pending());
        repoll_with(waker, acquire.as_mut());
        s.add_permits(1);
        match poll_with(waker, acquire) {
            Poll::Ready(Ok(permit)) => permit.forget(),
            _ => panic!("tokio Semaphore: the queued acquire did not get the permit"),
        }
    }

    #[inline]
    pub fn wait_or_ready(s: &Semaphore) {
        let acquire = pin!(s.acquire());
        let other = pin!(ready(()));
        assert!(matches!(race(acquire, other), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn wait_timeout_ready(s: &Semaphore) {
        let acquire = pin!(s.acquire());
        let sleep = pin!(ready_timer(TIMEOUT));
        assert!(matches!(race(acquire, sleep), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn select_loop(s: &Semaphore) {
        select_loop_with(s, Waker::noop());
    }

    /// [`select_loop`] with the polls made with `waker`.
    #[inline]
    pub fn select_loop_with(s: &Semaphore, waker: &Waker) {
        run_select_loop_with(
            waker,
            super::select_loop(
                s.acquire(),
                || s.add_permits(1),
                |permit| permit.map(|p| p.forget()).is_ok(),
            ),
        );
    }
}

/// `async_lock::Semaphore` (3.x, has `add_permits`) used as a counting completion.
pub mod async_lock_semaphore {
    use super::*;
    use async_lock::Semaphore;

    #[inline]
    pub fn bank_then_take(s: &Semaphore) {
        s.add_permits(1);
        let acquire = pin!(s.acquire());
        match poll(acquire) {
            Poll::Ready(guard) => guard.forget(),
            Poll::Pending => panic!("async-lock Semaphore: a banked permit was not taken"),
        }
    }

    #[inline]
    pub fn complete_try_wait(s: &Semaphore) {
        s.add_permits(1);
        s.try_acquire()
            .expect("async-lock Semaphore: permit")
            .forget();
    }

    #[inline]
    pub fn handoff_one(s: &Semaphore) {
        let mut acquire = pin!(s.acquire());
        assert!(poll(acquire.as_mut()).is_pending());
        s.add_permits(1);
        match poll(acquire) {
            Poll::Ready(guard) => guard.forget(),
            Poll::Pending => panic!("async-lock Semaphore: the queued acquire got nothing"),
        }
    }

    #[inline]
    pub fn repoll_queued(s: &Semaphore) {
        repoll_queued_with(s, Waker::noop());
    }

    /// [`repoll_queued`] with the polls made with `waker`.
    #[inline]
    pub fn repoll_queued_with(s: &Semaphore, waker: &Waker) {
        let mut acquire = pin!(s.acquire());
        assert!(poll_with(waker, acquire.as_mut()).is_pending());
        repoll_with(waker, acquire.as_mut());
        s.add_permits(1);
        match poll_with(waker, acquire) {
            Poll::Ready(guard) => guard.forget(),
            Poll::Pending => panic!("async-lock Semaphore: the queued acquire got nothing"),
        }
    }

    #[inline]
    pub fn wait_or_ready(s: &Semaphore) {
        let acquire = pin!(s.acquire());
        let other = pin!(ready(()));
        assert!(matches!(race(acquire, other), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn wait_timeout_ready(s: &Semaphore) {
        let acquire = pin!(s.acquire());
        let sleep = pin!(ready_timer(TIMEOUT));
        assert!(matches!(race(acquire, sleep), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn select_loop(s: &Semaphore) {
        select_loop_with(s, Waker::noop());
    }

    /// [`select_loop`] with the polls made with `waker`.
    #[inline]
    pub fn select_loop_with(s: &Semaphore, waker: &Waker) {
        run_select_loop_with(
            waker,
            super::select_loop(
                s.acquire(),
                || s.add_permits(1),
                |guard| {
                    guard.forget();
                    true
                },
            ),
        );
    }
}

/// `maitake_sync::WaitQueue`: `wake()` stores one wakeup when nobody waits (at most one);
/// no `try_wait`.
pub mod maitake_waitqueue {
    use super::*;
    use maitake_sync::WaitQueue;

    #[inline]
    pub fn bank_then_take(q: &WaitQueue) {
        q.wake();
        let wait = pin!(q.wait());
        assert!(matches!(poll(wait), Poll::Ready(Ok(()))));
    }

    #[inline]
    pub fn handoff_one(q: &WaitQueue) {
        let mut wait = pin!(q.wait());
        assert!(poll(wait.as_mut()).is_pending());
        q.wake();
        assert!(matches!(poll(wait), Poll::Ready(Ok(()))));
    }

    #[inline]
    pub fn repoll_queued(q: &WaitQueue) {
        repoll_queued_with(q, Waker::noop());
    }

    /// [`repoll_queued`] with the polls made with `waker`.
    #[inline]
    pub fn repoll_queued_with(q: &WaitQueue, waker: &Waker) {
        let mut wait = pin!(q.wait());
        assert!(poll_with(waker, wait.as_mut()).is_pending());
        repoll_with(waker, wait.as_mut());
        q.wake();
        assert!(matches!(poll_with(waker, wait), Poll::Ready(Ok(()))));
    }

    #[inline]
    pub fn wait_or_ready(q: &WaitQueue) {
        let wait = pin!(q.wait());
        let other = pin!(ready(()));
        assert!(matches!(race(wait, other), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn wait_timeout_ready(q: &WaitQueue) {
        let wait = pin!(q.wait());
        let sleep = pin!(ready_timer(TIMEOUT));
        assert!(matches!(race(wait, sleep), Poll::Ready(Err(()))));
    }

    #[inline]
    pub fn select_loop(q: &WaitQueue) {
        select_loop_with(q, Waker::noop());
    }

    /// [`select_loop`] with the polls made with `waker`.
    #[inline]
    pub fn select_loop_with(q: &WaitQueue, waker: &Waker) {
        run_select_loop_with(
            waker,
            super::select_loop(q.wait(), || q.wake(), |r| r.is_ok()),
        );
    }
}

/// `event_listener::Event` (5.x) on its own. `notify` stores nothing, so it only appears
/// where a listener is queued before the notification. The listener is the stack-based one
/// (`listener!`), which allocates nothing.
pub mod event_listener_raw {
    use super::*;
    use event_listener::{listener, Event};

    #[inline]
    pub fn handoff_one(e: &Event) {
        listener!(e => l);
        assert!(poll(Pin::new(&mut l)).is_pending());
        e.notify(1);
        assert!(poll(Pin::new(&mut l)).is_ready());
    }

    #[inline]
    pub fn repoll_queued(e: &Event) {
        repoll_queued_with(e, Waker::noop());
    }

    /// [`repoll_queued`] with the polls made with `waker`.
    #[inline]
    pub fn repoll_queued_with(e: &Event, waker: &Waker) {
        listener!(e => l);
        assert!(poll_with(waker, Pin::new(&mut l)).is_pending());
        repoll_with(waker, Pin::new(&mut l));
        e.notify(1);
        assert!(poll_with(waker, Pin::new(&mut l)).is_ready());
    }

    #[inline]
    pub fn wait_or_ready(e: &Event) {
        listener!(e => l);
        let other = pin!(ready(()));
        assert!(matches!(
            race(Pin::new(&mut l), other),
            Poll::Ready(Err(()))
        ));
    }

    #[inline]
    pub fn wait_timeout_ready(e: &Event) {
        listener!(e => l);
        let sleep = pin!(ready_timer(TIMEOUT));
        assert!(matches!(
            race(Pin::new(&mut l), sleep),
            Poll::Ready(Err(()))
        ));
    }

    /// The stack listener is created (and inserted in the list) before the loop, as a
    /// pinned wait is.
    #[inline]
    pub fn select_loop(e: &Event) {
        select_loop_with(e, Waker::noop());
    }

    /// [`select_loop`] with the polls made with `waker`.
    #[inline]
    pub fn select_loop_with(e: &Event, waker: &Waker) {
        listener!(e => l);
        run_select_loop_with(
            waker,
            super::select_loop(
                &mut l,
                || {
                    e.notify(1);
                },
                |()| true,
            ),
        );
    }
}

/// `event_listener::Event` paired with an `AtomicUsize` count, the way its users (e.g.
/// `async-lock`'s semaphore) build a counting signal: post = `fetch_add` + `notify(1)`;
/// take = CAS-decrement, else listen and re-check (`async-lock` posts with `notify(n)`).
pub struct EventCounter {
    count: AtomicUsize,
    event: event_listener::Event,
}

impl Default for EventCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl EventCounter {
    pub fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            event: event_listener::Event::new(),
        }
    }

    /// `notify(1.additional())`, not `notify(1)`: a plain `notify(1)` does nothing while
    /// another listener is notified but has not run yet, and a count posted then would
    /// strand the other listeners (the contended scenario hangs with it).
    #[inline]
    pub fn complete(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        self.event.notify(1.additional());
    }

    #[inline]
    pub fn try_wait(&self) -> bool {
        let mut count = self.count.load(Ordering::Acquire);
        loop {
            if count == 0 {
                return false;
            }
            match self.count.compare_exchange_weak(
                count,
                count - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => count = now,
            }
        }
    }

    /// Waits for a count (a stack listener: no allocation).
    pub async fn wait(&self) {
        loop {
            if self.try_wait() {
                return;
            }
            event_listener::listener!(self.event => l);
            if self.try_wait() {
                return;
            }
            l.await;
        }
    }

    /// Blocks the thread until it takes a count.
    pub fn wait_blocking(&self) {
        use event_listener::Listener;
        loop {
            if self.try_wait() {
                return;
            }
            event_listener::listener!(self.event => l);
            if self.try_wait() {
                return;
            }
            l.wait();
        }
    }
}

/// [`EventCounter`] in the single-threaded scenarios.
pub mod event_listener_counter {
    use super::*;

    #[inline]
    pub fn bank_then_take(e: &EventCounter) {
        e.complete();
        let wait = pin!(e.wait());
        assert!(poll(wait).is_ready());
    }

    #[inline]
    pub fn complete_try_wait(e: &EventCounter) {
        e.complete();
        assert!(e.try_wait());
    }
}

/// The floor: the atomics a banked completion fundamentally needs, and nothing else —
/// one `fetch_add` to post, one CAS-decrement (a load and a compare-exchange) to take.
pub mod floor {
    use super::*;

    #[inline]
    pub fn post(a: &AtomicU32) {
        a.fetch_add(1, Ordering::Release);
    }

    #[inline]
    pub fn take(a: &AtomicU32) -> bool {
        let mut n = a.load(Ordering::Acquire);
        loop {
            if n == 0 {
                return false;
            }
            match a.compare_exchange_weak(n, n - 1, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
    }

    /// Both fast-path scenarios are the same two operations on the floor.
    #[inline]
    pub fn post_take(a: &AtomicU32) {
        post(a);
        assert!(take(a));
    }
}
