//! The loom matrix: every waiter-side idiom a user writes against every completer-side
//! operation, each pair a model (issue 20), plus the proofs of two of its fixes.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_matrix
//! ```
//!
//! `LOOM_REPORT=1` prints, per model, the interleavings explored and the time taken;
//! `LOOM_MAX_PREEMPTIONS` overrides every model's bound. The table of which model covers
//! which cell is in `docs/testing.md` (the loom matrix section).
//!
//! - **Fix 1, the register-then-check idiom**: a waiter that registers (enables, or polls
//!   once) and then still sees the notifier's flag unset is always reached by the call the
//!   notifier makes after writing the flag; loom reports a deadlock otherwise. One model
//!   per registration (`enable`, first poll, `wait_or`, `wait_timeout`, `wait_owned`
//!   enabled or polled) and per completer operation.
//! - **Fix 4, a release is atomic to polls**: tokio's `notify_waiters_poll_consistency`,
//!   `_many` and `notify_waiters_is_atomic`, ported; and `is_done()` after `complete_all()`
//!   implies a queued wait polls `Ready`.
//! - **The matrix**: rows are the waiter idioms (register then check a flag; `wait_or`
//!   whose other future wins while a completion arrives; a wait dropped while being
//!   handed; a timed wait whose timer fires as a completion arrives; a same-waker re-poll
//!   of a queued wait; an existing wait not yet polled), columns the completer operations
//!   (`complete`, `complete_n(2)`, `complete_all`, `complete_waiters`, and
//!   `complete_all` then `reinit`, or `reinit` racing `complete`). Each model checks the
//!   conservation law (every `complete()` consumed by exactly one `Ready` wait, or still
//!   banked: counted with `try_wait` at the end), exact wake counts where they are
//!   deterministic, no lost wake-up (`block_on` parks until woken: loom reports a wake-up
//!   that never comes as a deadlock), and the visibility of what the completer wrote
//!   before its call, once a wait returned because of it.
//!
//! Self-contained: the helpers are copies of those of `tests/loom.rs`.
#![cfg(loom)]

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_completion::{Completion, OwnedWait};
use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::sync::atomic::Ordering::{Acquire, Release, SeqCst};

// ---------------------------------------------------------------------------------------
// Helpers (copied from tests/loom.rs).

thread_local! {
    /// Whether [`spawn`] lets the new thread run first (see [`model`]).
    static SPAWNED_FIRST: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` under every interleaving with at most `bound` preemptions (unless
/// `LOOM_MAX_PREEMPTIONS` is set, which wins), twice: once as written and once with every
/// [`spawn`]ed thread scheduled first.
///
/// Why twice: loom 0.7's DPOR remembers only the *last* access to an atomic
/// (tokio-rs/loom#392), so a load on one thread hidden by another thread's load-then-CAS
/// is never reordered after that CAS; starting from the opposite schedule makes DPOR find
/// the race from the other side. See `tests/loom.rs`.
///
/// With `LOOM_REPORT` set, prints the model's name, how many interleavings each run
/// explored, and how long it took.
fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    let name = std::thread::current()
        .name()
        .unwrap_or("?")
        .rsplit("::")
        .next()
        .unwrap_or("?")
        .to_owned();
    let f = StdArc::new(f);
    let start = Instant::now();
    let mut total = 0;
    for spawned_first in [false, true] {
        let runs = StdArc::new(std::sync::atomic::AtomicUsize::new(0));
        let (counted, f) = (runs.clone(), f.clone());
        builder.check(move || {
            counted.fetch_add(1, SeqCst);
            SPAWNED_FIRST.with(|c| c.set(spawned_first));
            f();
        });
        total += runs.load(SeqCst);
    }
    if std::env::var_os("LOOM_REPORT").is_some() {
        eprintln!(
            "loom_matrix {name}: {total} interleavings (preemption bound {:?}) in {:.2}s",
            builder.preemption_bound,
            start.elapsed().as_secs_f64(),
        );
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

/// A waker that counts its wakes (the count is a loom atomic).
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

impl Counter {
    fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
}

fn counting_waker() -> (StdArc<Counter>, Waker) {
    let counter = StdArc::new(Counter {
        wakes: AtomicUsize::new(0),
    });
    (counter.clone(), Waker::from(counter))
}

/// Drops `waker` and checks that no clone of it is left anywhere (in the completion).
fn no_leak(counter: StdArc<Counter>, waker: Waker) {
    drop(waker);
    assert_eq!(StdArc::strong_count(&counter), 1, "a waker clone leaked");
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

/// An owned wait queued by `enable()`, without a waker.
fn enabled_owned(c: &StdArc<Completion>) -> Pin<Box<OwnedWait>> {
    let mut wait = Box::pin(c.clone().wait_owned());
    assert!(!wait.as_mut().enable(), "nothing was banked");
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

/// Data written before the completer's call and read after the wait it released.
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

/// A future that finishes once [`set`](Self::set) is called, from any thread: the other
/// branch of a `wait_or`, or the sleep of a hand-driven timer.
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

    fn poll_set(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.set.load(Acquire) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.set.load(Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Drops the stored waker (a `block_on` waker must not outlive the model).
    fn clear(&self) {
        *self.waker.lock().unwrap() = None;
    }
}

/// [`Flag`] as a future.
struct FlagSet(Arc<Flag>);

impl Future for FlagSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_set(cx)
    }
}

// ---------------------------------------------------------------------------------------
// The completer-side operations (the matrix's columns), and what each leaves behind.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Complete,
    CompleteN1,
    CompleteN2,
    CompleteAll,
    CompleteWaiters,
    /// `complete_all()` then `reinit()`, on the same thread: every wait that existed at the
    /// `complete_all` is released all the same, and the flag is cleared by the end.
    AllThenReinit,
}

use Op::*;

impl Op {
    fn run(self, c: &Completion) {
        match self {
            Complete => c.complete(),
            CompleteN1 => c.complete_n(1),
            CompleteN2 => c.complete_n(2),
            CompleteAll => c.complete_all(),
            CompleteWaiters => c.complete_waiters(),
            AllThenReinit => {
                c.complete_all();
                c.reinit();
            }
        }
    }

    /// Whether the call releases every wait that exists (rather than counting).
    fn releases(self) -> bool {
        matches!(self, CompleteAll | CompleteWaiters | AllThenReinit)
    }

    /// Once the call returned and `consumed` counted completions were taken by `Ready`
    /// waits: the conservation law, checked by taking what is left with `try_wait`.
    fn check_left(self, c: &Completion, consumed: usize) {
        match self {
            Complete | CompleteN1 | CompleteN2 => {
                let posted = if self == CompleteN2 { 2 } else { 1 };
                let left = drain_count(c, 3);
                assert_eq!(consumed + left, posted, "lost or duplicated ({self:?})");
            }
            CompleteAll => assert!(c.is_done() && c.try_wait() && c.try_wait(), "not sticky"),
            // A release banks nothing; a released wait dropped passes nothing on.
            CompleteWaiters | AllThenReinit => {
                assert!(!c.is_done(), "a release banked something ({self:?})");
                assert!(!c.try_wait());
            }
        }
    }
}

/// One `#[test]` per (function, operation), the function called as `row(op, bound)`.
macro_rules! cells {
    ($row:ident, $bound:expr; $($name:ident => $op:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $row($op, $bound);
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// Row 1 (and Fix 1): register, then check a flag, then wait.
//
// Notifier: `data.write(1); flag.store(true, Release); op()`. Waiter: register, and if the
// registration holds nothing and the flag is still unset, wait. No interleaving may leave
// the waiter waiting for a call that has already passed (loom would report a deadlock).

#[derive(Clone, Copy, Debug)]
enum Reg {
    /// `let mut w = pin!(c.wait()); if !w.as_mut().enable() && !flag { w.await }`.
    Enable,
    /// A first poll by hand: if `Pending` and the flag is unset, `block_on` the rest.
    FirstPoll,
    /// `c.wait_or(pending())`, first poll by hand, then as `FirstPoll`.
    WaitOr,
    /// `c.wait_timeout(|_| pending(), 1 s)`, first poll by hand, then as `FirstPoll`.
    WaitTimeout,
    /// `Arc::wait_owned()` then `enable()`.
    OwnedEnable,
    /// `Arc::wait_owned()`, first poll by hand.
    OwnedFirstPoll,
}

/// The first poll of the idiom: `Ready` consumes; `Pending` and the flag unset waits
/// (it must finish); `Pending` and the flag set leaves (the wait is dropped by the caller).
/// Returns whether the wait returned `Ready`; `ok` checks the output.
fn poll_then_check<F: Future>(
    mut w: Pin<&mut F>,
    waker: &Waker,
    flag: &AtomicBool,
    ok: fn(F::Output) -> bool,
) -> bool {
    match poll(w.as_mut(), waker) {
        Poll::Ready(out) => {
            assert!(ok(out), "the other branch cannot finish");
            true
        }
        Poll::Pending if !flag.load(Acquire) => {
            assert!(ok(block_on(w)), "the other branch cannot finish");
            true
        }
        Poll::Pending => false,
    }
}

/// `enable()` then the idiom's check. A held completion is consumed by a poll that must be
/// `Ready` (the next poll of a wait whose `enable` returned `true`).
fn enable_then_check<F: Future<Output = ()>>(
    mut w: Pin<&mut F>,
    enable: fn(Pin<&mut F>) -> bool,
    flag: &AtomicBool,
) -> bool {
    if enable(w.as_mut()) {
        let (_, waker) = counting_waker();
        assert!(poll(w, &waker).is_ready(), "enable() said it holds one");
        true
    } else if !flag.load(Acquire) {
        block_on(w);
        true
    } else {
        false
    }
}

fn register_then_check(reg: Reg, op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let flag = Arc::new(AtomicBool::new(false));
        let data = Data::new();
        let notifier = spawn({
            let (c, flag, data) = (c.clone(), flag.clone(), data.clone());
            move || {
                data.write(1);
                flag.store(true, Release);
                op.run(&c);
            }
        });
        let (counter, waker) = counting_waker();
        let consumed = match reg {
            Reg::Enable => enable_then_check(pin!(c.wait()), |w| w.enable(), &flag),
            Reg::OwnedEnable => enable_then_check(
                Box::pin(c.clone().wait_owned()).as_mut(),
                |w| w.enable(),
                &flag,
            ),
            Reg::FirstPoll => poll_then_check(pin!(c.wait()), &waker, &flag, |()| true),
            Reg::OwnedFirstPoll => poll_then_check(
                Box::pin(c.clone().wait_owned()).as_mut(),
                &waker,
                &flag,
                |()| true,
            ),
            Reg::WaitOr => poll_then_check(
                pin!(c.wait_or(std::future::pending::<()>())),
                &waker,
                &flag,
                |r| r.is_ok(),
            ),
            Reg::WaitTimeout => poll_then_check(
                pin!(c.wait_timeout(
                    |_: Duration| std::future::pending::<()>(),
                    Duration::from_secs(1),
                )),
                &waker,
                &flag,
                |r| r.is_ok(),
            ),
        };
        // Either the call released the wait or the flag was seen: the data is visible.
        assert_eq!(data.read(), 1);
        notifier.join().unwrap();
        op.check_left(&c, usize::from(consumed));
        assert!(counter.wakes() <= 1);
        no_leak(counter, waker);
    });
}

fn flag_enable(op: Op, bound: usize) {
    register_then_check(Reg::Enable, op, bound);
}
fn flag_first_poll(op: Op, bound: usize) {
    register_then_check(Reg::FirstPoll, op, bound);
}
fn flag_wait_or(op: Op, bound: usize) {
    register_then_check(Reg::WaitOr, op, bound);
}
fn flag_wait_timeout(op: Op, bound: usize) {
    register_then_check(Reg::WaitTimeout, op, bound);
}
fn flag_owned_enable(op: Op, bound: usize) {
    register_then_check(Reg::OwnedEnable, op, bound);
}
fn flag_owned_first_poll(op: Op, bound: usize) {
    register_then_check(Reg::OwnedFirstPoll, op, bound);
}

cells!(flag_enable, 4;
    flag_enable_then_complete_waiters => CompleteWaiters,
    flag_enable_then_complete => Complete,
    flag_enable_then_complete_n1 => CompleteN1,
    flag_enable_then_complete_n2 => CompleteN2,
    flag_enable_then_complete_all => CompleteAll,
    flag_enable_then_complete_all_reinit => AllThenReinit,
);
cells!(flag_first_poll, 4;
    flag_first_poll_then_complete_waiters => CompleteWaiters,
    flag_first_poll_then_complete => Complete,
    flag_first_poll_then_complete_n1 => CompleteN1,
    flag_first_poll_then_complete_n2 => CompleteN2,
    flag_first_poll_then_complete_all => CompleteAll,
    flag_first_poll_then_complete_all_reinit => AllThenReinit,
);
cells!(flag_wait_or, 4;
    flag_wait_or_then_complete_waiters => CompleteWaiters,
    flag_wait_or_then_complete => Complete,
    flag_wait_or_then_complete_n1 => CompleteN1,
    flag_wait_or_then_complete_n2 => CompleteN2,
    flag_wait_or_then_complete_all => CompleteAll,
    flag_wait_or_then_complete_all_reinit => AllThenReinit,
);
cells!(flag_wait_timeout, 4;
    flag_wait_timeout_then_complete_waiters => CompleteWaiters,
    flag_wait_timeout_then_complete => Complete,
    flag_wait_timeout_then_complete_n1 => CompleteN1,
    flag_wait_timeout_then_complete_n2 => CompleteN2,
    flag_wait_timeout_then_complete_all => CompleteAll,
    flag_wait_timeout_then_complete_all_reinit => AllThenReinit,
);
cells!(flag_owned_enable, 4;
    flag_owned_enable_then_complete_waiters => CompleteWaiters,
    flag_owned_enable_then_complete => Complete,
    flag_owned_enable_then_complete_n1 => CompleteN1,
    flag_owned_enable_then_complete_n2 => CompleteN2,
    flag_owned_enable_then_complete_all => CompleteAll,
    flag_owned_enable_then_complete_all_reinit => AllThenReinit,
);
cells!(flag_owned_first_poll, 4;
    flag_owned_first_poll_then_complete_waiters => CompleteWaiters,
    flag_owned_first_poll_then_complete => Complete,
    flag_owned_first_poll_then_complete_n1 => CompleteN1,
    flag_owned_first_poll_then_complete_n2 => CompleteN2,
    flag_owned_first_poll_then_complete_all => CompleteAll,
    flag_owned_first_poll_then_complete_all_reinit => AllThenReinit,
);
