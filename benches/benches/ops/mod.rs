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
//!   (`Ready`).
#![allow(dead_code)]

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use event_listener::IntoNotification;

/// Polls `fut` once with the no-op waker.
#[inline(always)]
pub fn poll<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// `async-completion`: the crate under test.
pub mod ours {
    use super::*;
    use async_completion::Completion;

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
