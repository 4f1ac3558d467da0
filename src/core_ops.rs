//! The algorithms behind `Completion`, written against the state word and the waiter
//! list. Safe code only: the list itself is in `waiters`.

use core::pin::{pin, Pin};
use core::task::{Poll, Waker};

use crate::batch::WakeBatch;
use crate::lock::Lock;
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::state::{has_count, ALL, MAX_COUNT, WAITERS, ZERO};
use crate::waiters::{Drain, Queue, QueueRef, Waiter, DONE, HANDED, IDLE, QUEUED};

impl<L: Lock> Queue<L> {
    /// Takes one banked completion, or sees `ALL`. Never queues. One CAS when banked.
    #[inline]
    pub(crate) fn try_take(&self) -> bool {
        let mut state = self.state.load(Acquire);
        loop {
            if state == ALL {
                return true;
            }
            if !has_count(state) {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(state, state - 1, Acquire, Acquire)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// Whether a `try_take` now would succeed. One load.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        let state = self.state.load(Acquire);
        state == ALL || has_count(state)
    }

    /// Adds `n` to the banked count, saturating at `MAX_COUNT`, unless the state is `ALL`
    /// (then nothing happens). Returns `false`, changing nothing, if waiters are queued.
    #[inline]
    fn bank(&self, n: u32) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            if state == ALL {
                return true;
            }
            if state == WAITERS {
                return false;
            }
            let new = state.saturating_add(n).min(MAX_COUNT);
            if new == state {
                return true; // saturated
            }
            match self
                .state
                .compare_exchange_weak(state, new, Release, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// `complete()`: hand to the oldest waiter, else bank.
    #[inline]
    pub(crate) fn complete_one(&self) {
        if !self.bank(1) {
            self.hand_off_one();
        }
    }

    /// `complete()` under the lock: hand to the oldest waiter, or bank if none is queued.
    #[cold]
    fn hand_off_one(&self) {
        let waker = self.lock(|l| {
            if self.state.load(Relaxed) == WAITERS {
                l.pop_front()
            } else {
                // The queue emptied since we looked: bank instead (cannot see WAITERS now).
                self.bank(1);
                None
            }
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// `complete_n(n)`: `n` times `complete()`, a batch of hand-offs per lock hold.
    pub(crate) fn complete_n(&self, mut n: u32) {
        if n == 0 || self.bank(n) {
            return;
        }
        let mut batch = WakeBatch::new();
        while n > 0 {
            self.lock(|l| {
                while n > 0 && !batch.is_full() {
                    let queued = self.state.load(Relaxed) == WAITERS;
                    match queued.then(|| l.pop_front()).flatten() {
                        Some(waker) => {
                            batch.push(waker);
                            n -= 1;
                        }
                        // Nobody (left) to hand to: bank the rest.
                        None => {
                            self.bank(n);
                            n = 0;
                        }
                    }
                }
            });
            batch.wake_all();
        }
    }

    /// `complete_all()`: set `ALL`, then release everyone queued in batches.
    pub(crate) fn complete_all(&self) {
        let mut state = self.state.load(Relaxed);
        loop {
            match state {
                ALL => return,
                WAITERS => break,
                _ => match self
                    .state
                    .compare_exchange_weak(state, ALL, Release, Relaxed)
                {
                    Ok(_) => return,
                    Err(now) => state = now,
                },
            }
        }
        let drain = pin!(Drain::new(self));
        self.lock(|l| {
            self.state.swap(ALL, AcqRel);
            l.release_all(drain.as_ref());
        });
        let mut batch = WakeBatch::new();
        loop {
            let more = drain.pop_batch(&mut batch);
            batch.wake_all();
            if !more {
                break;
            }
        }
    }

    /// `reinit()`: count to 0, `ALL` cleared; queued waiters untouched.
    pub(crate) fn reinit(&self) {
        let mut state = self.state.load(Relaxed);
        while state != ZERO && state != WAITERS {
            match self
                .state
                .compare_exchange_weak(state, ZERO, Relaxed, Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Polls `waiter` with `Some(waker)`: `Ready` once it consumed a completion (or saw
    /// `ALL`). With `None` (a zero timeout, on a waiter never polled) it never queues:
    /// `Ready` if a completion could be taken now, else `Pending`; either way the waiter is
    /// finished. One shape for both, so a timed wait carries one copy of the lock-free
    /// take, not two.
    #[inline(always)]
    pub(crate) fn poll_or_take(
        &self,
        waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>,
        waker: Option<&Waker>,
    ) -> Poll<()> {
        match waiter.status() {
            // Fast path: first poll with a completion banked.
            IDLE if self.try_take() => {
                waiter.finish();
                return Poll::Ready(());
            }
            IDLE | QUEUED => {}
            // Handed a completion or released (no lock needed), or already `Ready`.
            _ => {
                waiter.finish();
                return Poll::Ready(());
            }
        }
        match waker {
            Some(waker) => self.poll_slow(waiter, waker),
            None => {
                waiter.finish();
                Poll::Pending
            }
        }
    }

    /// Every poll but a first one that found a completion banked: one function (one lock
    /// site) for the first poll that queues and for re-polls of a queued waiter, which
    /// keeps firmware small.
    #[inline(never)]
    fn poll_slow(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>, waker: &Waker) -> Poll<()> {
        enum Step {
            Ready(Option<Waker>),
            Pending(Option<Waker>),
            NeedWaker,
        }
        // A first poll queues with a waker of its own, cloned before locking (user code).
        let mut fresh = match waiter.status() {
            IDLE => Some(waker.clone()),
            _ => None,
        };
        loop {
            let step = self.lock(|l| match waiter.status() {
                // Nothing was banked a moment ago: take what arrived since, or queue at the
                // tail (only this owner moves a waiter out of `IDLE`).
                IDLE if self.take_or_announce() => Step::Ready(None),
                IDLE => match fresh.take() {
                    Some(new) => {
                        l.push_back(waiter, new);
                        Step::Pending(None)
                    }
                    None => Step::NeedWaker,
                },
                // Re-poll of a queued waiter: keep its place, store the newest waker.
                QUEUED if l.is_released(waiter) => Step::Ready(l.remove(waiter)),
                QUEUED => match fresh.take() {
                    Some(new) => Step::Pending(l.replace_waker(waiter, new)),
                    None if l.will_wake(waiter, waker) => Step::Pending(None),
                    None => Step::NeedWaker,
                },
                _ => Step::Ready(None),
            });
            // Wakers are cloned and dropped only here, with the lock released.
            match step {
                Step::NeedWaker => fresh = Some(waker.clone()),
                Step::Pending(old) => {
                    drop(old);
                    return Poll::Pending;
                }
                Step::Ready(old) => {
                    drop((old, fresh));
                    waiter.finish();
                    return Poll::Ready(());
                }
            }
        }
    }

    /// Under the lock, for a waiter about to queue: takes a banked completion (or sees
    /// `ALL`) and returns `true`, or sets `WAITERS` and returns `false`.
    #[inline]
    fn take_or_announce(&self) -> bool {
        let mut state = self.state.load(Acquire);
        loop {
            let (new, ready) = match state {
                ALL => return true,
                WAITERS => return false,
                ZERO => (WAITERS, false),
                count => (count - 1, true),
            };
            match self
                .state
                .compare_exchange_weak(state, new, Acquire, Acquire)
            {
                Ok(_) => return ready,
                Err(now) => state = now,
            }
        }
    }

    /// Cancellation (drop, or the other future of `wait_or` won): leave the queue, and
    /// pass on a completion that was handed to `waiter` but not consumed.
    #[inline(always)]
    pub(crate) fn cancel(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>) {
        // The common drop, after `Ready`, is one load.
        if waiter.status() != DONE {
            self.cancel_slow(waiter);
        }
    }

    #[inline(never)]
    fn cancel_slow(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>) {
        let handed = match waiter.status() {
            HANDED => true,
            QUEUED => {
                let (waker, status) = self.lock(|l| (l.remove(waiter), waiter.status()));
                drop(waker); // user code: after unlocking
                status == HANDED
            }
            _ => false,
        };
        waiter.finish();
        if handed {
            // `complete()` without its lock-free banking attempt: this path is cold, and
            // one call is smaller than a second inlined copy of `bank`.
            self.hand_off_one();
        }
    }
}
