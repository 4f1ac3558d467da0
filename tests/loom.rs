//! Loom models: every interleaving (up to a preemption bound) of the races that matter.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom
//! ```
//!
//! (The dev-dependencies must be under `[target.'cfg(not(loom))'.dev-dependencies]`:
//! several of them, e.g. tokio and concurrent-queue, do not build with `--cfg loom`.)
//!
//! Under `--cfg loom` the crate's atomics, cells and lock are loom's, so loom sees every
//! access, and `complete_all` releases waiters in batches of 2 (32 natively): three queued
//! waiters take two batches with the lock released in between. Each model runs with a
//! preemption bound of 3 to 5 (the largest that keeps the suite near a minute);
//! `LOOM_MAX_PREEMPTIONS` overrides it for every model, and `LOOM_REPORT=1` prints how
//! many interleavings each model explored.
//!
//! Waits that must move to another thread (to be dropped or blocked on there) are
//! `wait_owned` futures on a `std::sync::Arc<Completion>`; the rest use `loom::sync::Arc`.
//!
//! - No lost wake-up: waits go through `loom::future::block_on`, which parks the loom
//!   thread until its waker fires (and wakes spuriously too, exercising re-polls); a
//!   wake-up that is never delivered leaves every thread parked and loom reports it.
//! - Nothing lost, nothing duplicated: each model counts the completions consumed
//!   (`Ready` waits, `true` `try_wait`s, what is left banked) and checks the total, and
//!   counts every waker's wakes.
//! - Memory ordering: data is written to a `loom::cell::UnsafeCell` before `complete()`
//!   and read after the wait; a missing happens-before edge fails the model.
#![cfg(loom)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};

use async_completion::{Completion, OwnedWait};
use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::sync::atomic::Ordering::{Acquire, Release, SeqCst};

thread_local! {
    /// Whether [`spawn`] lets the new thread run first (see [`model`]).
    static SPAWNED_FIRST: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` under every interleaving with at most `bound` preemptions (unless
/// `LOOM_MAX_PREEMPTIONS` is set, which wins), twice: once as written and once with every
/// [`spawn`]ed thread scheduled first.
///
/// Why twice: loom 0.7's DPOR remembers only the *last* access to an atomic
/// (tokio-rs/loom#392). When thread A loads `x` and thread B then loads and CASes `x`
/// (this crate's lock-free paths all load, then CAS), B's own load hides A's, and the
/// schedules where B's CAS comes before A's load are never tried: a load-only
/// `try_wait`/`is_done`/`reinit` on the main thread would only ever see the state before
/// the spawned threads ran. Starting from the opposite schedule makes DPOR find the race
/// from the other side (A's load then depends on B's CAS) and backtrack into it.
///
/// With `LOOM_REPORT` set, prints how many interleavings each run explored.
fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    let f = StdArc::new(f);
    for spawned_first in [false, true] {
        let runs = StdArc::new(std::sync::atomic::AtomicUsize::new(0));
        let (counted, f) = (runs.clone(), f.clone());
        builder.check(move || {
            counted.fetch_add(1, SeqCst);
            SPAWNED_FIRST.with(|c| c.set(spawned_first));
            f();
        });
        if std::env::var_os("LOOM_REPORT").is_some() {
            eprintln!(
                "{} interleavings (preemption bound {:?}, spawned first: {spawned_first})",
                runs.load(SeqCst),
                builder.preemption_bound,
            );
        }
    }
}

/// `loom::thread::spawn`, then, in [`model`]'s second run, a yield so that the new thread
/// runs before the spawning one continues.
fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> thread::JoinHandle<T> {
    let handle = thread::spawn(f);
    if SPAWNED_FIRST.with(Cell::get) {
        thread::yield_now();
    }
    handle
}

/// A waker that counts its wakes. Not the test kit's (`tests/common`) counting waker: the
/// count is a loom atomic, so that loom explores the interleavings of a wake with the
/// test's reads of the count.
struct Counter {
    wakes: AtomicUsize,
}

impl Wake for Counter {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (StdArc<Counter>, Waker) {
    let counter = StdArc::new(Counter {
        wakes: AtomicUsize::new(0),
    });
    (counter.clone(), Waker::from(counter))
}

impl Counter {
    fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// An owned wait (movable to another thread), polled once with `waker`: it must queue.
fn queued_owned(c: &StdArc<Completion>, waker: &Waker) -> Pin<Box<OwnedWait>> {
    let mut wait = Box::pin(c.clone().wait_owned());
    assert!(
        poll(wait.as_mut(), waker).is_pending(),
        "nothing was banked"
    );
    wait
}

/// Takes every banked completion; returns how many there were (stops at `limit` + 1).
fn drain_count(c: &Completion, limit: usize) -> usize {
    let mut n = 0;
    while n <= limit && c.try_wait() {
        n += 1;
    }
    n
}

/// Data written before `complete()` and read after the wait that consumed it.
struct Data(UnsafeCell<u32>);

// SAFETY: the models access the cell only in ways the completion is supposed to order;
// loom reports any access that is not ordered.
unsafe impl Sync for Data {}

impl Data {
    fn new() -> Arc<Self> {
        Arc::new(Self(UnsafeCell::new(0)))
    }

    fn write(&self, v: u32) {
        // SAFETY: see `impl Sync`: loom checks the exclusivity.
        self.0.with_mut(|p| unsafe { *p = v });
    }

    fn read(&self) -> u32 {
        // SAFETY: see `impl Sync`: loom checks the ordering.
        self.0.with(|p| unsafe { *p })
    }
}

// ---------------------------------------------------------------------------------------
// 1. complete() racing the first poll of a wait: no lost wake-up.

#[test]
fn complete_racing_first_poll() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let t = spawn({
            let c = c.clone();
            move || c.complete()
        });
        block_on(c.wait());
        t.join().unwrap();
        // The one completion was consumed by the wait: nothing is left.
        assert!(!c.is_done());
        assert!(!c.try_wait());
    });
}

/// The same with `complete_n(1)` and with `complete_all()` (which must also not lose the
/// wake-up, and stays done).
#[test]
fn complete_n_and_complete_all_racing_first_poll() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let t = spawn({
            let c = c.clone();
            move || c.complete_n(1)
        });
        block_on(c.wait());
        t.join().unwrap();
        assert!(!c.try_wait());
    });
    model(5, || {
        let c = Arc::new(Completion::new());
        let t = spawn({
            let c = c.clone();
            move || c.complete_all()
        });
        block_on(c.wait());
        t.join().unwrap();
        assert!(c.is_done() && c.try_wait() && c.try_wait());
    });
}

// ---------------------------------------------------------------------------------------
// 2. Two complete() calls against two waiters: each waiter resolves exactly once.

#[test]
fn two_completes_two_waiters() {
    model(3, || {
        let c = Arc::new(Completion::new());
        let resolved = Arc::new(AtomicUsize::new(0));
        let waiter = |c: Arc<Completion>, resolved: Arc<AtomicUsize>| {
            move || {
                block_on(c.wait());
                resolved.fetch_add(1, SeqCst);
            }
        };
        let a = spawn(waiter(c.clone(), resolved.clone()));
        let b = spawn(waiter(c.clone(), resolved.clone()));
        c.complete();
        c.complete();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(resolved.load(SeqCst), 2);
        assert!(!c.is_done());
        assert!(!c.try_wait());
    });
}

/// One `complete_n(2)` against two waiters, one of them on the main thread.
#[test]
fn complete_n_two_waiters() {
    model(3, || {
        let c = Arc::new(Completion::new());
        let a = spawn({
            let c = c.clone();
            move || block_on(c.wait())
        });
        let b = spawn({
            let c = c.clone();
            move || c.complete_n(2)
        });
        block_on(c.wait());
        a.join().unwrap();
        b.join().unwrap();
        assert!(!c.try_wait());
    });
}

// ---------------------------------------------------------------------------------------
// 3. complete() racing the drop of a queued waiter: the completion is neither lost nor
//    duplicated.

/// Nobody else waits: the completion ends up banked, whoever came first.
#[test]
fn complete_racing_drop_of_queued_waiter_banks_it() {
    model(5, || {
        let c = StdArc::new(Completion::new());
        let (counter, waker) = counting_waker();
        let a = queued_owned(&c, &waker);
        let t = spawn({
            let c = c.clone();
            move || c.complete()
        });
        drop(a);
        t.join().unwrap();
        // Handed to `a` and passed back on drop, or banked after `a` left: one either way.
        assert_eq!(drain_count(&c, 2), 1);
        // `a`'s waker was woken iff the completion was handed to it before the drop.
        assert!(counter.wakes() <= 1);
        drop(waker);
        assert_eq!(StdArc::strong_count(&counter), 1, "a waker clone leaked");
    });
}

/// Another waiter `b` polls for the first time (on the main thread) while `a` is dropped
/// on one thread and `complete()` runs on another. Exactly one of: `b` got it, or it is
/// banked.
#[test]
fn complete_racing_drop_of_queued_waiter_with_another_waiter() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let (counter_a, waker_a) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let a = queued_owned(&c, &waker_a);
        let mut b = Box::pin(c.clone().wait_owned());
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let dropper = spawn(move || drop(a));
        let first = poll(b.as_mut(), &waker_b);
        completer.join().unwrap();
        dropper.join().unwrap();
        let b_got_it = first.is_ready() || poll(b.as_mut(), &waker_b).is_ready();
        let banked = drain_count(&c, 2);
        assert_eq!(u32::from(b_got_it) + banked as u32, 1, "lost or duplicated");
        // `b` being queued (first poll pending), it must get it, woken exactly once.
        if first.is_pending() {
            assert!(b_got_it);
            assert_eq!(counter_b.wakes(), 1);
        } else {
            assert_eq!(counter_b.wakes(), 0);
        }
        assert!(counter_a.wakes() <= 1);
        drop(b);
        drop((waker_a, waker_b));
        assert_eq!(StdArc::strong_count(&counter_a), 1, "a waker clone leaked");
        assert_eq!(StdArc::strong_count(&counter_b), 1, "a waker clone leaked");
    });
}

/// `a` and `b` both queued; `a` dropped while `complete()` runs: `b` always gets it
/// (directly, or passed on from `a`), and nothing is banked.
#[test]
fn complete_racing_drop_of_oldest_waiter_passes_it_on() {
    model(5, || {
        let c = StdArc::new(Completion::new());
        let (_, waker_a) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let a = queued_owned(&c, &waker_a);
        let mut b = queued_owned(&c, &waker_b);
        let t = spawn({
            let c = c.clone();
            move || c.complete()
        });
        drop(a);
        t.join().unwrap();
        assert_eq!(counter_b.wakes(), 1);
        assert!(poll(b.as_mut(), &waker_b).is_ready());
        assert!(!c.try_wait());
    });
}

/// `complete_n(2)` with three queued waiters (two served, two hand-offs in one lock hold)
/// while the first is dropped: the two completions reach two of the others or the bank,
/// never the dropped one, never the same one twice.
#[test]
fn complete_n_racing_drop_of_one_of_three_waiters() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
        let a = queued_owned(&c, &wakers[0].1);
        let mut b = queued_owned(&c, &wakers[1].1);
        let mut d = queued_owned(&c, &wakers[2].1);
        let completer = spawn({
            let c = c.clone();
            move || c.complete_n(2)
        });
        drop(a);
        completer.join().unwrap();
        // `a` left or passed its completion on: `b` and `d` have one each, nothing banked.
        assert_eq!(wakers[1].0.wakes(), 1);
        assert_eq!(wakers[2].0.wakes(), 1);
        assert!(poll(b.as_mut(), &wakers[1].1).is_ready());
        assert!(poll(d.as_mut(), &wakers[2].1).is_ready());
        assert!(!c.try_wait());
    });
}

/// A queued waiter re-polled with a new waker while `complete()` runs: the waker that is
/// current when the hand-off happens is woken, exactly once, and the other one never.
#[test]
fn repoll_with_new_waker_racing_complete() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let (old, old_waker) = counting_waker();
        let (new, new_waker) = counting_waker();
        let mut w = queued_owned(&c, &old_waker);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let repoll = poll(w.as_mut(), &new_waker);
        completer.join().unwrap();
        if repoll.is_pending() {
            // Re-polled before the hand-off: the new waker is the one to wake.
            assert_eq!((old.wakes(), new.wakes()), (0, 1));
            assert!(poll(w.as_mut(), &new_waker).is_ready());
        } else {
            // Handed first: the old waker was woken.
            assert_eq!((old.wakes(), new.wakes()), (1, 0));
        }
        assert!(!c.try_wait());
        drop(w);
        drop((old_waker, new_waker));
        assert_eq!(StdArc::strong_count(&old), 1, "a waker clone leaked");
        assert_eq!(StdArc::strong_count(&new), 1, "a waker clone leaked");
    });
}

/// A queued waiter re-polled with the waker it queued with (a lock-free re-poll:
/// a few loads, `Pending`) while `complete()` takes it out of the queue: whichever
/// way they interleave, the waker is woken exactly once and the next poll is `Ready`.
#[test]
fn repoll_with_same_waker_racing_complete() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let (count, waker) = counting_waker();
        let mut w = queued_owned(&c, &waker);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let repoll = poll(w.as_mut(), &waker);
        completer.join().unwrap();
        assert_eq!(count.wakes(), 1, "the hand-off woke the queued waker, once");
        if repoll.is_pending() {
            assert!(poll(w.as_mut(), &waker).is_ready());
        }
        assert!(!c.try_wait());
        drop(w);
        drop(waker);
        assert_eq!(StdArc::strong_count(&count), 1, "a waker clone leaked");
    });
}

/// The same while `complete_all()` releases the waiter in a drain (two other waiters, so
/// the release takes two batches): a lock-free `Pending` re-poll is woken by the drain.
#[test]
fn repoll_with_same_waker_racing_complete_all() {
    model(3, || {
        let c = StdArc::new(Completion::new());
        let (others, other_waker) = counting_waker();
        let a = queued_owned(&c, &other_waker);
        let b = queued_owned(&c, &other_waker);
        let (count, waker) = counting_waker();
        let mut w = queued_owned(&c, &waker);
        let completer = spawn({
            let c = c.clone();
            move || c.complete_all()
        });
        let repoll = poll(w.as_mut(), &waker);
        completer.join().unwrap();
        assert_eq!(others.wakes(), 2);
        match repoll.is_pending() {
            true => assert_eq!(count.wakes(), 1, "a pending re-poll is woken by the drain"),
            false => assert!(count.wakes() <= 1),
        }
        assert!(poll(w.as_mut(), &waker).is_ready());
        drop((a, b, w));
    });
}

// ---------------------------------------------------------------------------------------
// 4. complete_all() racing waiters that re-poll, register and drop; three queued waiters
//    so that the release takes two batches (batch size 2 under loom).

#[test]
fn complete_all_racing_repoll_register_and_drop() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let wakers: Vec<_> = (0..4).map(|_| counting_waker()).collect();
        let mut w1 = queued_owned(&c, &wakers[0].1);
        let mut w2 = queued_owned(&c, &wakers[1].1);
        let w3 = queued_owned(&c, &wakers[2].1);
        let releaser = spawn({
            let c = c.clone();
            move || c.complete_all()
        });
        // w3 is in the second batch: dropped while the drain may be between batches.
        let dropper = spawn(move || drop(w3));
        // Main: re-poll w2 (racing its release) and register a new waiter w4.
        let w2_first = poll(w2.as_mut(), &wakers[1].1);
        let mut w4 = Box::pin(c.clone().wait_owned());
        let w4_first = poll(w4.as_mut(), &wakers[3].1);
        releaser.join().unwrap();
        dropper.join().unwrap();

        // Everyone still here is released: Ready now.
        assert!(poll(w1.as_mut(), &wakers[0].1).is_ready());
        assert!(poll(w2.as_mut(), &wakers[1].1).is_ready());
        assert!(poll(w4.as_mut(), &wakers[3].1).is_ready());
        // w1 was queued throughout: woken exactly once.
        assert_eq!(wakers[0].0.wakes(), 1);
        // w2: woken once, unless its re-poll found itself released first (then maybe not).
        if w2_first.is_pending() {
            assert_eq!(wakers[1].0.wakes(), 1);
        } else {
            assert!(wakers[1].0.wakes() <= 1);
        }
        // w3 was dropped: woken at most once.
        assert!(wakers[2].0.wakes() <= 1);
        // w4: ready at once (flag seen) with no wake, or queued and then released and woken.
        let expected_w4 = usize::from(w4_first.is_pending());
        assert_eq!(wakers[3].0.wakes(), expected_w4);
        // Sticky.
        assert!(c.is_done() && c.try_wait() && c.try_wait());
        drop((w1, w2, w4));
        for (counter, waker) in wakers {
            drop(waker);
            assert_eq!(StdArc::strong_count(&counter), 1, "a waker clone leaked");
        }
    });
}

/// Three waiters blocked on their own threads' `block_on` (two spawned, one main) and
/// released by one `complete_all()`: nobody is left behind across the two batches.
#[test]
fn complete_all_releases_three_blocked_waiters() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let (_, waker) = counting_waker();
        // Two waiters queued up front, so the release always has to batch.
        let w1 = queued_owned(&c, &waker);
        let w2 = queued_owned(&c, &waker);
        let t1 = spawn(move || block_on(w1));
        let t2 = spawn({
            let c = c.clone();
            move || c.complete_all()
        });
        block_on(async {
            w2.await;
            c.wait().await;
        });
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(c.try_wait());
    });
}

// ---------------------------------------------------------------------------------------
// 5. reinit() racing complete(), complete_all() and try_wait().

/// One `complete()`, one `reinit()`, one `try_wait()`: at most one success overall, and
/// the final state is consistent.
#[test]
fn reinit_racing_complete_and_try_wait() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let reinit = spawn({
            let c = c.clone();
            move || c.reinit()
        });
        let took = c.try_wait();
        completer.join().unwrap();
        reinit.join().unwrap();
        let done = c.is_done();
        let left = drain_count(&c, 2);
        assert_eq!(done, left > 0, "is_done disagrees with try_wait");
        assert!(
            usize::from(took) + left <= 1,
            "one complete() consumed twice"
        );
        assert_eq!(
            format!("{:?}", *c),
            "Completion { count: 0, completed_all: false, waiters: false }"
        );
    });
}

/// A queued waiter is never disturbed by a racing `reinit()`: `complete()` goes to it,
/// and `try_wait()` never takes it.
#[test]
fn reinit_racing_complete_keeps_the_queued_waiter() {
    model(5, || {
        let c = StdArc::new(Completion::new());
        let (counter, waker) = counting_waker();
        let mut w = queued_owned(&c, &waker);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let reinit = spawn({
            let c = c.clone();
            move || c.reinit()
        });
        assert!(
            !c.try_wait(),
            "took a completion that belongs to the waiter"
        );
        completer.join().unwrap();
        reinit.join().unwrap();
        assert_eq!(counter.wakes(), 1);
        assert!(poll(w.as_mut(), &waker).is_ready());
        assert!(!c.is_done());
        assert!(!c.try_wait());
    });
}

/// `complete_all()` releasing three queued waiters (two batches) while `reinit()` runs:
/// every waiter queued at the call is released all the same.
#[test]
fn reinit_racing_complete_all_releases_every_queued_waiter() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
        let mut waits: Vec<_> = wakers.iter().map(|(_, w)| queued_owned(&c, w)).collect();
        let releaser = spawn({
            let c = c.clone();
            move || c.complete_all()
        });
        c.reinit();
        let took = c.try_wait();
        releaser.join().unwrap();
        for ((counter, waker), wait) in wakers.iter().zip(&mut waits) {
            assert_eq!(counter.wakes(), 1);
            assert!(poll(wait.as_mut(), waker).is_ready());
        }
        // Either the flag survived (reinit came first) or it was cleared.
        let done = c.is_done();
        assert_eq!(done, c.try_wait());
        if took {
            assert!(
                done,
                "try_wait saw the flag, so reinit ran before complete_all"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------
// 6. try_wait() racing complete() on a banked count: exactly the right number of successes.

#[test]
fn try_wait_racing_complete_on_banked_count() {
    model(4, || {
        let c = Arc::new(Completion::new());
        c.complete(); // banked: 1
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let taker = spawn({
            let c = c.clone();
            move || c.try_wait()
        });
        let mine = c.try_wait();
        completer.join().unwrap();
        let theirs = taker.join().unwrap();
        // Two completions in total: at least one of the two racing takes succeeds.
        assert!(mine || theirs);
        let left = drain_count(&c, 3);
        assert_eq!(usize::from(mine) + usize::from(theirs) + left, 2);
    });
}

/// `complete_n(2)` racing a `try_wait()` and a wait's first poll on an empty completion.
#[test]
fn try_wait_and_wait_racing_complete_n() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let completer = spawn({
            let c = c.clone();
            move || c.complete_n(2)
        });
        let took = c.try_wait();
        block_on(c.wait());
        completer.join().unwrap();
        let left = drain_count(&c, 3);
        assert_eq!(1 + usize::from(took) + left, 2);
    });
}

// ---------------------------------------------------------------------------------------
// 7. wait_or() whose other future finishes while complete() runs.

/// A future that finishes when `set` is called (from any thread).
struct Flag {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Flag {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            set: AtomicBool::new(false),
            waker: Mutex::new(None),
        })
    }

    fn set(&self) {
        self.set.store(true, Release);
        if let Some(waker) = self.waker.lock().unwrap().take() {
            waker.wake();
        }
    }

    async fn wait(&self) -> &'static str {
        std::future::poll_fn(|cx| {
            if self.set.load(Acquire) {
                return Poll::Ready("other");
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.load(Acquire) {
                Poll::Ready("other")
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn wait_or_other_finishing_while_complete_runs() {
    model(4, || {
        let c = Arc::new(Completion::new());
        let flag = Flag::new();
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let setter = spawn({
            let flag = flag.clone();
            move || flag.set()
        });
        let result = block_on(c.wait_or(flag.wait()));
        completer.join().unwrap();
        setter.join().unwrap();
        let left = drain_count(&c, 2);
        match result {
            // The wait consumed the completion.
            Ok(()) => assert_eq!(left, 0),
            // The other future won: the completion (maybe handed to the wait) is banked.
            Err(o) => {
                assert_eq!(o, "other");
                assert_eq!(left, 1, "a completion handed to the losing wait was lost");
            }
        }
        *flag.waker.lock().unwrap() = None;
    });
}

/// `wait_or` on the main thread loses to its other future while `complete()` runs, with
/// a second waiter queued behind it: the completion reaches the second waiter.
#[test]
fn wait_or_losing_passes_the_completion_to_the_next_waiter() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let flag = Flag::new();
        let (_, waker) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let mut wait_or = Box::pin(c.wait_or(flag.wait()));
        assert!(poll(wait_or.as_mut(), &waker).is_pending());
        let mut b = queued_owned(&c, &waker_b);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        flag.set();
        let result = block_on(wait_or.as_mut());
        completer.join().unwrap();
        let b_got_it = poll(b.as_mut(), &waker_b).is_ready();
        match result {
            Ok(()) => assert!(!b_got_it),
            Err(_) => {
                assert!(b_got_it, "the completion did not reach the next waiter");
                assert_eq!(counter_b.wakes(), 1);
            }
        }
        assert!(!c.try_wait());
        drop(wait_or);
        *flag.waker.lock().unwrap() = None;
    });
}

// ---------------------------------------------------------------------------------------
// 8. Visibility: what was written before complete() is seen after the wait returns.

#[test]
fn writes_before_complete_are_visible_after_wait() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let data = Data::new();
        let t = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(42);
                c.complete();
            }
        });
        block_on(c.wait());
        assert_eq!(data.read(), 42);
        t.join().unwrap();
    });
}

#[test]
fn writes_before_complete_are_visible_after_try_wait() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let data = Data::new();
        let t = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(7);
                c.complete();
            }
        });
        if c.try_wait() {
            assert_eq!(data.read(), 7);
        }
        t.join().unwrap();
    });
}

#[test]
fn writes_before_complete_all_are_visible_after_wait_and_try_wait() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let data = Data::new();
        let t = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(9);
                c.complete_all();
            }
        });
        if c.try_wait() {
            assert_eq!(data.read(), 9);
        }
        block_on(c.wait());
        assert_eq!(data.read(), 9);
        t.join().unwrap();
    });
}

/// The completion is handed to `a`, which is dropped on another thread and passes it on
/// to `b` on the main thread: the data written before `complete()` is visible to `b`
/// through the pass-on.
#[test]
fn writes_before_complete_are_visible_through_a_pass_on() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let data = Data::new();
        let (_, waker) = counting_waker();
        let a = queued_owned(&c, &waker);
        let b = queued_owned(&c, &waker);
        let completer = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(5);
                c.complete();
            }
        });
        let dropper = spawn(move || drop(a));
        block_on(b);
        assert_eq!(data.read(), 5);
        completer.join().unwrap();
        dropper.join().unwrap();
        assert!(!c.try_wait());
    });
}

// ---------------------------------------------------------------------------------------
// 9. Visibility on every call (crate docs, "Semantics": "Memory ordering"): also a `complete()` at
//    saturation, a `complete()` after `complete_all()`, and a second `complete_all()`,
//    none of which changes the state word, must still publish what was written before it
//    to the waits that read the state after it.

/// Runs `completer` on another thread after `data.write(v)`, then sets a flag (relaxed:
/// the flag says the call happened, it must not be what orders the data). The main thread,
/// once it sees the flag, runs `observe`, which must synchronize with the call.
fn visible_after(
    setup: fn(&Completion),
    completer: fn(&Completion),
    observe: fn(&Completion) -> bool,
) {
    model(5, move || {
        let c = Arc::new(Completion::new());
        setup(&c);
        let data = Data::new();
        let done = Arc::new(AtomicBool::new(false));
        let t = spawn({
            let (c, data, done) = (c.clone(), data.clone(), done.clone());
            move || {
                data.write(11);
                completer(&c);
                done.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        if done.load(std::sync::atomic::Ordering::Relaxed) {
            assert!(observe(&c));
            assert_eq!(data.read(), 11);
        }
        t.join().unwrap();
    });
}

#[test]
fn writes_before_a_saturated_complete_are_visible_after_try_wait() {
    visible_after(
        |c| c.complete_n(<Completion>::MAX_COUNT),
        |c| c.complete(),
        |c| c.try_wait(),
    );
}

#[test]
fn writes_before_a_saturated_complete_n_are_visible_after_try_wait() {
    visible_after(
        |c| c.complete_n(<Completion>::MAX_COUNT),
        |c| c.complete_n(2),
        |c| c.try_wait(),
    );
}

// `complete()` after `complete_all()` and a second `complete_all()` take the same kind of
// path (a `Release` compare-and-swap that writes `ALL` over `ALL`), but no model can check
// them: a wait observes `ALL` with a load, and a load of a value written twice cannot tell
// which of the two writes it read, so "the wait returned after the second call" is not
// observable from the wait. A saturated count is observed by `try_wait`'s compare-and-swap,
// which always reads the latest write: the two models above fail without the `Release`.

// ---------------------------------------------------------------------------------------
// 10. The timeout tie (method docs of `Completion::wait_timeout`) and the pulse, racing completions.

/// A timed wait queues, and its timer fires while `complete()` runs on another thread:
/// whichever way they interleave, the completion is consumed exactly once (`Ok(())`) or
/// stays banked (`Err(TimedOut)`), never lost, never both.
#[test]
fn timeout_tie_racing_complete_consumes_exactly_once() {
    model(5, || {
        let c = Arc::new(Completion::new());
        let (_, waker) = counting_waker();
        // The sleep is over on its first poll: the wait is polled first and queues, then
        // the timer fires in the same poll.
        let mut timed = Box::pin(c.wait_timeout(
            |_: std::time::Duration| std::future::ready(()),
            std::time::Duration::from_millis(1),
        ));
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let result = match poll(timed.as_mut(), &waker) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("the timer fired"),
        };
        completer.join().unwrap();
        let left = drain_count(&c, 2);
        match result {
            Ok(()) => assert_eq!(left, 0, "consumed once"),
            Err(_) => assert_eq!(left, 1, "banked, not lost"),
        }
    });
}

/// `complete_waiters()` (a pulse) racing the first poll of a wait and a `complete()`: the
/// wait is served by one of them; the pulse banks nothing, the `complete()` is consumed by
/// the wait or banked.
#[test]
fn pulse_racing_first_poll_and_complete() {
    model(4, || {
        let c = StdArc::new(Completion::new());
        let pulser = spawn({
            let c = c.clone();
            move || c.complete_waiters()
        });
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        block_on(c.wait());
        pulser.join().unwrap();
        completer.join().unwrap();
        // The wait took the `complete()` (handed or banked), or was pulsed and the
        // `complete()` is banked.
        assert!(drain_count(&c, 2) <= 1);
    });
}
