//! The hand-off protocol behind `Completion`: how completions are banked, handed to the
//! oldest waiter, or released to all, and how waits queue, re-poll, and leave. Written
//! against the state word (`state`) and the waiter list (`waiters`); safe code only.

use core::pin::{pin, Pin};
use core::task::{Poll, Waker};

use crate::batch::WakeBatch;
use crate::fault::AbortOnUnwind;
use crate::lock::Lock;
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::state::{has_count, ALL, MAX_COUNT, WAITERS, ZERO};
use crate::waiters::{Drain, Queue, QueueRef, Waiter, DONE, HANDED, IDLE, LOST, QUEUED, RELEASED};

impl<L: Lock> Queue<L> {
    /// Takes one banked completion, or sees `ALL`. Never queues. One CAS when banked.
    #[inline]
    pub(crate) fn try_take(&self) -> bool {
        let mut state = self.state.load(Acquire);
        loop {
            // A banked count first: the fast path tests one range.
            if !has_count(state) {
                return state == ALL;
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
    /// (then nothing changes). Returns `false`, changing nothing, if waiters are queued.
    ///
    /// Every `true` writes the state word with `Release`, also when the value stays the
    /// same (after `complete_all`, at saturation): a wait that later reads it synchronizes
    /// with this call, so what was written before it is visible (SPEC §1, memory ordering).
    #[inline]
    fn bank(&self, n: u32) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            let new = match state {
                WAITERS => return false,
                ALL => ALL,
                count => count.saturating_add(n).min(MAX_COUNT),
            };
            match self
                .state
                .compare_exchange_weak(state, new, Release, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// `complete()`: hand to the oldest waiter, else bank. `bank(1)` written for one: below
    /// the saturation point (the fast path) it is one compare and one CAS.
    #[inline]
    pub(crate) fn complete_one(&self) {
        let mut state = self.state.load(Relaxed);
        loop {
            let new = if state < MAX_COUNT {
                state + 1
            } else if state == WAITERS {
                // Waiters queued: hand off under the lock, wake after it.
                return self.hand_off(None::<Pin<&Waiter<&Self>>>, AbortOnUnwind::new("", false));
            } else {
                state // `ALL` or saturated: written back, for its `Release`
            };
            match self
                .state
                .compare_exchange_weak(state, new, Release, Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Hands one completion to the oldest waiter under the lock and wakes it once
    /// unlocked; or banks it if the queue emptied since we looked. Shared by `complete()`
    /// and a cancelled wait passing on the completion it was handed (`from`: marked `DONE`
    /// in the same lock hold, so the completion leaves it exactly once; `guard`, armed in a
    /// `Drop`, aborts if the lock panics, and is disarmed before the waker runs).
    ///
    /// The waker is kept in a slot of this frame that wakes when dropped, not returned from
    /// the lock's closure: a lock that panics after its closure leaves the hand-off done,
    /// and the unwinding still wakes the waiter (no waiter left handed but unwoken).
    #[cold]
    #[inline(never)]
    fn hand_off(&self, from: Option<Pin<&Waiter<impl QueueRef<Lock = L>>>>, guard: AbortOnUnwind) {
        let mut next = WakeOnDrop(None);
        self.lock(|l| {
            if let Some(from) = from {
                from.finish();
            }
            if self.state.load(Relaxed) == WAITERS {
                next.0 = l.pop_front();
            } else {
                // Nobody queued any more; `WAITERS` only appears under the lock, so this banks.
                self.bank(1);
            }
        });
        guard.disarm();
        // `next` is dropped here: the waiter is woken with the lock released.
    }

    /// `complete_n(n)`: `n` times `complete()`, a batch of hand-offs per lock hold.
    pub(crate) fn complete_n(&self, n: u32) {
        if n == 0 || self.bank(n) {
            return;
        }
        ServeN {
            queue: self,
            n,
            batch: WakeBatch::new(),
            waking: false,
        }
        .run();
    }

    /// `complete_all()`: set `ALL`, and release every queued wait (a release: see
    /// `waiters`, E1), in batches. With nobody queued, one compare-and-swap: a waiter that
    /// queues at the same time meets it in the state word (it sees `ALL`, or this sees
    /// `WAITERS`).
    pub(crate) fn complete_all(&self) {
        let mut state = self.state.load(Relaxed);
        while state != WAITERS {
            // `ALL` is written again when already set: a `Release` on every call.
            match self
                .state
                .compare_exchange_weak(state, ALL, Release, Relaxed)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        self.release_queued(true);
    }

    /// `complete_waiters()`: a release of every wait queued now (polled or enabled); one
    /// completion each, nothing banked, the count and `ALL` untouched.
    ///
    /// With nobody queued it changes nothing, but it must still meet a waiter that queues
    /// at the same time (register-then-check: the waiter sets `WAITERS`, then reads the
    /// caller's flag; the caller writes its flag, then comes here). A read-modify-write of
    /// the state word that changes nothing is that meeting point: it reads the latest
    /// value, so either it comes after the waiter's move to `WAITERS` and sees it (then the
    /// lock orders the two), or it comes before, and the waiter's `Acquire` read-modify-
    /// write reads what this `Release` wrote (the caller's flag is then visible to the
    /// waiter's check).
    #[inline]
    pub(crate) fn complete_waiters(&self) {
        if self.state.fetch_or(0, Release) == WAITERS {
            self.release_queued(false);
        }
    }

    /// Releases every waiter of the main queue (`complete_all` when `all`, else a pulse),
    /// in batches, the lock released between batches and around the wakers.
    #[inline(never)]
    fn release_queued(&self, all: bool) {
        let drain = pin!(Drain::new(self, all));
        self.lock(|l| {
            l.release_all(drain.as_ref());
            if all {
                self.state.swap(ALL, AcqRel);
            } else if self.state.load(Relaxed) == WAITERS {
                // The main queue is empty now: no waiter, nothing banked.
                self.state.store(ZERO, Relaxed);
            }
        });
        // Declared after `drain`, so dropped first when a waker panics: the rest of this
        // batch is woken, then `Drain::drop` releases and wakes the waiters left.
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

    /// Polls `waiter`: `Ready` once it consumed a completion (or saw `ALL`).
    #[inline(always)]
    pub(crate) fn poll_wait(
        &self,
        waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>,
        waker: &Waker,
    ) -> Poll<()> {
        match waiter.status() {
            // Fast path: first poll with a completion banked (or `ALL`).
            IDLE if self.try_take() => {
                waiter.finish_unlinked();
                Poll::Ready(())
            }
            // Not ready yet (and a re-poll with the same waker: see `poll_slow`).
            IDLE | QUEUED => self.poll_slow(waiter, waker),
            // Handed a completion or released (no lock needed), or already `Ready`. The
            // checked `finish`: with the unchecked one LLVM merges this arm with the
            // banked take above, which then costs 3 more instructions (`bank_then_take`
            // 50 -> 53, at the SPEC's 1.25x-of-the-floor limit) for 20 bytes of firmware.
            _ => {
                waiter.finish();
                Poll::Ready(())
            }
        }
    }

    /// A race's look at its wait (`wait_or`, `wait_timeout`), before the other future is
    /// polled: `true` once the wait is finished. A wait never polled takes a banked
    /// completion (or sees `ALL`) lock-free or changes nothing: it queues
    /// only after the other future was polled and is pending (`poll_slow`). A queued wait
    /// is re-polled as `poll_wait` does it. Inlined into each race's poll (28 bytes less
    /// firmware for a timed wait than one shared copy and its calls).
    /// `status` is the waiter's, just read by the caller (once for the race's whole poll).
    #[inline]
    pub(crate) fn poll_race(
        &self,
        waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>,
        status: u8,
        waker: &Waker,
    ) -> bool {
        match status {
            IDLE => self.take_idle(waiter),
            QUEUED => self.poll_slow(waiter, waker).is_ready(),
            // Handed a completion or released (no lock needed), or already `Ready`.
            _ => {
                waiter.finish_unlinked();
                true
            }
        }
    }

    /// For a waiter the caller saw `IDLE` (not queued): takes a banked completion (or
    /// sees `ALL`) lock-free, and then it is finished (`true`); else changes nothing
    /// (`false`). Out of line: shared by a race's first look and by `give_up`.
    #[inline(never)]
    fn take_idle(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>) -> bool {
        let took = self.take(false).is_some();
        if took {
            waiter.finish_unlinked();
        }
        took
    }

    /// Every poll but a first one that found a completion banked and a re-poll with the
    /// waker already stored: one function (one lock site) for the first poll that queues
    /// and for a re-poll that brings another waker, which keeps firmware small.
    ///
    /// It runs only for a waiter that is idle or queued
    /// with another waker (`poll_wait` compared it lock-free): the waker will be stored
    /// either way, so it is cloned once, before locking (user code), and one lock hold
    /// does the rest.
    #[inline(never)]
    pub(crate) fn poll_slow(
        &self,
        waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>,
        waker: &Waker,
    ) -> Poll<()> {
        // Re-poll with the waker it queued with, not released: nothing to store, nothing
        // to lock (only a queued waiter holds a waker). A release seen here is seen by
        // every wait it released (E1).
        if waiter.holds_waker(waker) && !waiter.released_hint() {
            return Poll::Pending;
        }
        let clone = waker.clone();
        let alias = Waiter::<&Self>::waker_alias(&clone, waker);
        let mut fresh = Some(clone);
        let mut old = None;
        // What the closure takes, it records in the waiter (or in `fresh`/`old`): a lock
        // that panics after its closure leaves a wait that holds what it took.
        let ready = waiter.lock(|l| match l.status() {
            // Not queued yet: take what arrived since the lock-free look, or queue at the
            // tail (only this owner moves a waiter out of `IDLE`).
            IDLE => !l.hold_or_join(self.take(true), &mut fresh, alias),
            // Re-poll of a queued waiter: released in a drain (E1), then it leaves; or it
            // keeps its place and stores the newest waker.
            QUEUED => l.repoll(&mut fresh, alias, &mut old),
            // Handed or released since we looked.
            _ => true,
        });
        if ready {
            // Finished before any waker is dropped: a panicking `drop` leaves a wait that
            // has consumed its completion, and says so.
            waiter.finish();
        }
        // Wakers are dropped only here, with the lock released.
        drop((old, fresh));
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// `Wait::enable()`: take a completion now, or queue without a waker. Returns whether
    /// the wait holds a completion (its next poll is `Ready`). A completion taken here is
    /// *held* (`HANDED`, or `RELEASED` for `complete_all`), not consumed: the wait has not
    /// returned `Ready` yet, so it is not terminated, and dropping it passes a taken
    /// completion on, exactly like one handed to it.
    pub(crate) fn enable(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>) -> bool {
        match waiter.status() {
            IDLE => {}
            // Already queued: released by a release still draining (E1; the next poll
            // makes sure of it under the lock), or handed since?
            QUEUED => return waiter.released_hint() || waiter.status() != QUEUED,
            _ => return true,
        }
        if let Some(status) = self.take(false) {
            waiter.hold(status);
            return true;
        }
        // Recorded in the waiter under the lock (see `poll_slow`).
        waiter.lock(|l| !l.hold_or_join(self.take(true), &mut None, 0))
    }

    /// Takes a banked completion (or sees `ALL`) and returns `HANDED` (or `RELEASED`: for
    /// `ALL`, nothing is consumed); else returns `None`, having set `WAITERS` if `announce`
    /// (under the lock, for a waiter about to queue). `announce == false` is `try_take`
    /// telling what it took. Out of line: one copy serves a first poll under the lock,
    /// `enable`, and a timed wait's lock-free looks.
    #[inline(never)]
    fn take(&self, announce: bool) -> Option<u8> {
        let mut state = self.state.load(Acquire);
        loop {
            let (new, took) = match state {
                ALL => return Some(RELEASED),
                WAITERS => return None,
                ZERO if announce => (WAITERS, None),
                ZERO => return None,
                count => (count - 1, Some(HANDED)),
            };
            match self
                .state
                .compare_exchange_weak(state, new, Acquire, Acquire)
            {
                Ok(_) => return took,
                Err(now) => state = now,
            }
        }
    }

    /// Cancellation (drop, or the other future of `wait_or` won): leave the queue, and
    /// pass on a completion that was handed to `waiter` but not consumed. `in_drop`: called
    /// from the waiter's `Drop`, which must not unwind with the node linked.
    #[inline(always)]
    pub(crate) fn cancel(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>, in_drop: bool) {
        // The common drop, after `Ready`, is one load.
        if !waiter.is_finished() {
            self.cancel_slow(waiter, in_drop);
        }
    }

    #[inline(always)]
    fn cancel_slow(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>, in_drop: bool) {
        self.leave(waiter, in_drop, false);
    }

    /// The timer of a timed wait fired: leave the queue, and return whether the wait got a
    /// completion after all (handed to it, released, or banked and taken now: the kernel
    /// checks `x->done` once more after the timeout). It consumes what it returns. The
    /// outcome is recorded in the waiter before its waker is dropped (user code: it may
    /// panic): `DONE` if it got one, `LOST` if not.
    #[inline(always)]
    pub(crate) fn give_up(&self, waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>) -> bool {
        self.leave(waiter, false, true)
    }

    /// A wait leaves before returning `Ready`, and is finished: cancelled (`!keep`: a
    /// completion handed to it but not consumed is passed on, as a fresh `complete()`
    /// would) or timed out (`keep`: it keeps what it was handed or released, or takes a
    /// banked completion now, and returns whether it got one; finished as `LOST` if not).
    /// Its waker is dropped last (user code), once the outcome is recorded. `in_drop`:
    /// called from the waiter's `Drop`, which must not unwind with the node linked. Out of
    /// line: one copy serves drops, lost races and timeouts.
    #[inline(never)]
    fn leave(
        &self,
        waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>,
        in_drop: bool,
        keep: bool,
    ) -> bool {
        let (held, old) = self.unlink(waiter, in_drop);
        let got = match held {
            // Passed on under the lock (the path is cold, and one call is smaller than
            // another inlined `bank`), the wait finished in the same lock hold and the next
            // waiter woken after it (if that `wake` panics, `old` is dropped by the
            // unwinding).
            HANDED if !keep => {
                let guard =
                    AbortOnUnwind::new("a dropped wait was passing on its completion", in_drop);
                self.hand_off(Some(waiter), guard);
                false
            }
            IDLE => keep && self.take_idle(waiter),
            // Handed (kept), released (or, misused, already done).
            _ => keep,
        };
        waiter.finish_as(if keep && !got { LOST } else { DONE });
        drop(old);
        got
    }

    /// A wait leaves before returning `Ready`: unlinks it if it is queued, and returns what
    /// it holds (`HANDED`, `RELEASED`; `IDLE` for nothing, `DONE` if it returned `Ready`
    /// already) and its waker, for the caller to drop last. Inlined into `leave`.
    #[inline]
    fn unlink(
        &self,
        waiter: Pin<&Waiter<impl QueueRef<Lock = L>>>,
        in_drop: bool,
    ) -> (u8, Option<Waker>) {
        match waiter.status() {
            QUEUED => {
                let guard = AbortOnUnwind::new("a queued wait was being dropped", in_drop);
                // `HANDED` if a completion was handed to it just before we locked,
                // `RELEASED` if it was in a drain circle (E1), else `IDLE`. The status set
                // here is the outcome, should the lock panic after this.
                let unlinked = waiter.lock(|l| l.remove());
                guard.disarm();
                unlinked
            }
            held => (held, None),
        }
    }
}

/// `complete_n`'s hand-offs still to do. If a waker panics while a batch is woken, its
/// `Drop` finishes the job (the rest of the batch woken, the rest of `n` handed or banked)
/// before the panic goes on to the caller.
struct ServeN<'a, L: Lock> {
    queue: &'a Queue<L>,
    n: u32,
    batch: WakeBatch,
    /// Set while the batch is being woken: a panic then came from a waker.
    waking: bool,
}

impl<L: Lock> ServeN<'_, L> {
    fn run(&mut self) {
        while self.n > 0 {
            let Self {
                queue, n, batch, ..
            } = self;
            queue.lock(|l| {
                while *n > 0 && !batch.is_full() {
                    if queue.state.load(Relaxed) == WAITERS {
                        batch.push(l.pop_front());
                        *n -= 1;
                    } else {
                        // Nobody (left) to hand to: bank the rest.
                        queue.bank(*n);
                        *n = 0;
                    }
                }
            });
            self.waking = true;
            self.batch.wake_all();
            self.waking = false;
        }
    }
}

impl<L: Lock> Drop for ServeN<'_, L> {
    fn drop(&mut self) {
        // Only after a waker panicked (a lock that panicked posts nothing more).
        if self.waking {
            self.waking = false;
            self.batch.wake_all();
            self.run();
        }
    }
}

/// One waker, woken when the slot is dropped (also by an unwinding: see `hand_off`).
struct WakeOnDrop(Option<Waker>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        if let Some(waker) = self.0.take() {
            waker.wake();
        }
    }
}
