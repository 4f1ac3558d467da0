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

/// A bound that is no bound: every interleaving (for the models small enough).
const EXHAUSTIVE: usize = usize::MAX;

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
    if builder.preemption_bound.is_none() && bound != EXHAUSTIVE {
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

/// The idiom against `complete()` racing a `reinit()` on a third thread. `reinit` may
/// discard the completion before the waiter takes it, so the waiter may not get it, but
/// then it sees the flag (its read of the state word reads `reinit`'s write, which
/// continues the release sequence of the `complete()`, itself after the flag): it never
/// waits for a completion that is gone. Nothing is consumed twice.
fn register_then_check_vs_reinit(reg: Reg) {
    model(3, move || {
        let c = StdArc::new(Completion::new());
        let flag = Arc::new(AtomicBool::new(false));
        let notifier = spawn({
            let (c, flag) = (c.clone(), flag.clone());
            move || {
                flag.store(true, Release);
                c.complete();
            }
        });
        let reinit = spawn({
            let c = c.clone();
            move || c.reinit()
        });
        let (counter, waker) = counting_waker();
        let consumed = match reg {
            Reg::Enable => enable_then_check(pin!(c.wait()), |w| w.enable(), &flag),
            Reg::FirstPoll => poll_then_check(pin!(c.wait()), &waker, &flag, |()| true),
            _ => unreachable!(),
        };
        notifier.join().unwrap();
        reinit.join().unwrap();
        assert!(
            usize::from(consumed) + drain_count(&c, 2) <= 1,
            "consumed twice"
        );
        no_leak(counter, waker);
    });
}

#[test]
fn flag_enable_vs_reinit_racing_complete() {
    register_then_check_vs_reinit(Reg::Enable);
}

#[test]
fn flag_first_poll_vs_reinit_racing_complete() {
    register_then_check_vs_reinit(Reg::FirstPoll);
}

// ---------------------------------------------------------------------------------------
// Row 2: `wait_or` (a `select!`) whose other branch wins while a completion arrives.
//
// The other future is a `Flag` set from another thread (a loom-visible flag and its
// waker); the completer runs the operation on a third thread. `Ok` consumed a completion;
// `Err` means the other branch won, and a completion handed to the losing wait was passed
// on (here: banked).

fn wait_or_other_wins(op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let other = Flag::new();
        let data = Data::new();
        let completer = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(1);
                op.run(&c);
            }
        });
        let setter = spawn({
            let other = other.clone();
            move || other.set()
        });
        let result = block_on(c.wait_or(FlagSet(other.clone())));
        if result.is_ok() {
            // Released or handed by the call: what it wrote before is visible.
            assert_eq!(data.read(), 1);
        }
        completer.join().unwrap();
        setter.join().unwrap();
        op.check_left(&c, usize::from(result.is_ok()));
        other.clear();
    });
}

cells!(wait_or_other_wins, 3;
    wait_or_other_wins_vs_complete => Complete,
    wait_or_other_wins_vs_complete_n2 => CompleteN2,
    wait_or_other_wins_vs_complete_all => CompleteAll,
    wait_or_other_wins_vs_complete_waiters => CompleteWaiters,
    wait_or_other_wins_vs_complete_all_reinit => AllThenReinit,
);

/// The same with a second waiter `b` queued behind the `wait_or` (which is queued first,
/// by a poll by hand): a completion handed to the losing `wait_or` reaches `b`, never the
/// bank while `b` waits; `b` is woken exactly once.
fn wait_or_loses_passes_on(op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let other = Flag::new();
        let (_, waker) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let mut wait_or = Box::pin(c.wait_or(FlagSet(other.clone())));
        assert!(poll(wait_or.as_mut(), &waker).is_pending());
        let mut b = queued_owned(&c, &waker_b);
        let completer = spawn({
            let c = c.clone();
            move || op.run(&c)
        });
        let setter = spawn({
            let other = other.clone();
            move || other.set()
        });
        let result = block_on(wait_or.as_mut());
        completer.join().unwrap();
        setter.join().unwrap();
        let b_ready = poll(b.as_mut(), &waker_b).is_ready();
        match op {
            // One completion, two waiters: the winner of the race for it is whoever is
            // served first; if the `wait_or` lost its branch, `b` has it.
            Complete => {
                assert_eq!(b_ready, result.is_err());
                assert_eq!(counter_b.wakes(), usize::from(b_ready));
            }
            // Two: `b` gets one in any case.
            _ => {
                assert!(b_ready);
                assert_eq!(counter_b.wakes(), 1);
            }
        }
        let consumed = usize::from(result.is_ok()) + usize::from(b_ready);
        op.check_left(&c, consumed);
        drop((wait_or, b));
        no_leak(counter_b, waker_b);
        other.clear();
    });
}

cells!(wait_or_loses_passes_on, 3;
    wait_or_loses_passes_on_vs_complete => Complete,
    wait_or_loses_passes_on_vs_complete_n2 => CompleteN2,
    wait_or_loses_passes_on_vs_complete_all => CompleteAll,
    wait_or_loses_passes_on_vs_complete_waiters => CompleteWaiters,
    wait_or_loses_passes_on_vs_complete_all_reinit => AllThenReinit,
);

// ---------------------------------------------------------------------------------------
// Row 3: a queued wait dropped while it is being handed a completion (or released).
//
// `a` (queued by a poll, or by `enable()` without a waker) is dropped on the main thread
// while the operation runs; `b`, queued behind it, is never re-polled until the end: it
// must be served exactly once (directly, or by `a` passing its completion on), whatever
// the interleaving, and what `a` held must be passed on or banked, never lost or doubled.

fn drop_while_handed_with(op: Op, bound: usize, enabled: bool) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let (counter_a, waker_a) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let a = match enabled {
            true => enabled_owned(&c),
            false => queued_owned(&c, &waker_a),
        };
        let mut b = queued_owned(&c, &waker_b);
        let completer = spawn({
            let c = c.clone();
            move || op.run(&c)
        });
        drop(a);
        completer.join().unwrap();
        // `b` was queued throughout: every operation serves it, and wakes it once.
        assert_eq!(counter_b.wakes(), 1);
        assert!(poll(b.as_mut(), &waker_b).is_ready());
        // `a` was woken iff it was handed (or released) before it left; never if enabled.
        assert!(counter_a.wakes() <= usize::from(!enabled));
        op.check_left(&c, 1);
        drop(b);
        no_leak(counter_a, waker_a);
        no_leak(counter_b, waker_b);
    });
}

fn drop_while_handed(op: Op, bound: usize) {
    drop_while_handed_with(op, bound, false);
}

fn drop_enabled_while_handed(op: Op, bound: usize) {
    drop_while_handed_with(op, bound, true);
}

cells!(drop_while_handed, EXHAUSTIVE;
    drop_while_handed_vs_complete => Complete,
    drop_while_handed_vs_complete_n2 => CompleteN2,
    drop_while_handed_vs_complete_all => CompleteAll,
    drop_while_handed_vs_complete_waiters => CompleteWaiters,
    drop_while_handed_vs_complete_all_reinit => AllThenReinit,
);

cells!(drop_enabled_while_handed, EXHAUSTIVE;
    drop_enabled_while_handed_vs_complete => Complete,
    drop_enabled_while_handed_vs_complete_n2 => CompleteN2,
    drop_enabled_while_handed_vs_complete_all => CompleteAll,
    drop_enabled_while_handed_vs_complete_waiters => CompleteWaiters,
    drop_enabled_while_handed_vs_complete_all_reinit => AllThenReinit,
);

/// `reinit()` racing a `complete()` whose completion `a`, being dropped, passes on: `b` is
/// queued throughout, so nothing is ever banked for `reinit` to clear; `b` gets it.
#[test]
fn drop_while_handed_vs_reinit_racing_complete() {
    model(EXHAUSTIVE, || {
        let c = StdArc::new(Completion::new());
        let (counter_a, waker_a) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let a = queued_owned(&c, &waker_a);
        let mut b = queued_owned(&c, &waker_b);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let reinit = spawn({
            let c = c.clone();
            move || c.reinit()
        });
        drop(a);
        completer.join().unwrap();
        reinit.join().unwrap();
        assert_eq!(counter_b.wakes(), 1);
        assert!(poll(b.as_mut(), &waker_b).is_ready());
        assert!(counter_a.wakes() <= 1);
        assert!(!c.try_wait(), "one completion consumed twice");
        drop(b);
        no_leak(counter_a, waker_a);
        no_leak(counter_b, waker_b);
    });
}

/// An existing wait never polled, dropped while the operation runs: it holds nothing, so
/// it passes nothing on (a pulse or `complete_all` that reached it leaves nothing behind;
/// a `complete()` stays banked).
fn drop_unpolled(op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let w = c.clone().wait_owned();
        let completer = spawn({
            let c = c.clone();
            move || op.run(&c)
        });
        drop(w);
        completer.join().unwrap();
        op.check_left(&c, 0);
    });
}

cells!(drop_unpolled, EXHAUSTIVE;
    drop_unpolled_vs_complete => Complete,
    drop_unpolled_vs_complete_n2 => CompleteN2,
    drop_unpolled_vs_complete_all => CompleteAll,
    drop_unpolled_vs_complete_waiters => CompleteWaiters,
    drop_unpolled_vs_complete_all_reinit => AllThenReinit,
);

// ---------------------------------------------------------------------------------------
// Row 4: a timed wait whose timer fires as a completion arrives.
//
// The timer is hand-driven: its sleep is a `Flag` set by a third thread. `Ok` consumed a
// completion (the kernel's tie rule: one handed, banked or `complete_all` wins when the
// wait sees its timer fire); `Err(TimedOut)` leaves the completion banked (or, with a
// waiter behind, handed to it).

fn timed_wait_fires(op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let timer = Flag::new();
        let data = Data::new();
        let completer = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(1);
                op.run(&c);
            }
        });
        let firer = spawn({
            let timer = timer.clone();
            move || timer.set()
        });
        let sleep = timer.clone();
        let result = block_on(c.wait_timeout(
            move |_: Duration| FlagSet(sleep.clone()),
            Duration::from_secs(1),
        ));
        if result.is_ok() {
            assert_eq!(data.read(), 1);
        }
        completer.join().unwrap();
        firer.join().unwrap();
        op.check_left(&c, usize::from(result.is_ok()));
        timer.clear();
    });
}

cells!(timed_wait_fires, 3;
    timed_wait_fires_vs_complete => Complete,
    timed_wait_fires_vs_complete_n2 => CompleteN2,
    timed_wait_fires_vs_complete_all => CompleteAll,
    timed_wait_fires_vs_complete_waiters => CompleteWaiters,
    timed_wait_fires_vs_complete_all_reinit => AllThenReinit,
);

/// A queued timed wait times out while `complete()` runs, a waiter `b` queued behind it:
/// `Ok` and `b` still waiting, or `Err(TimedOut)` and `b` served (woken once); nothing
/// banked.
#[test]
fn timed_wait_fires_passes_on_vs_complete() {
    model(3, || {
        let c = StdArc::new(Completion::new());
        let timer = Flag::new();
        let (_, waker) = counting_waker();
        let (counter_b, waker_b) = counting_waker();
        let sleep = timer.clone();
        let mut timed = Box::pin(c.wait_timeout(
            move |_: Duration| FlagSet(sleep.clone()),
            Duration::from_secs(1),
        ));
        assert!(poll(timed.as_mut(), &waker).is_pending());
        let mut b = queued_owned(&c, &waker_b);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let firer = spawn({
            let timer = timer.clone();
            move || timer.set()
        });
        let result = block_on(timed.as_mut());
        completer.join().unwrap();
        firer.join().unwrap();
        let b_ready = poll(b.as_mut(), &waker_b).is_ready();
        assert_eq!(b_ready, result.is_err(), "lost or duplicated");
        assert_eq!(counter_b.wakes(), usize::from(b_ready));
        assert!(!c.try_wait());
        drop((timed, b));
        no_leak(counter_b, waker_b);
        timer.clear();
    });
}

// ---------------------------------------------------------------------------------------
// Row 5: a same-waker re-poll of a queued wait (the lock-free re-poll) racing the call.
//
// For the releases, two waiters are queued ahead of `w`, so the drain takes two batches
// (2 under loom) and `w` is in the second: its re-poll may run between the batches.

fn same_waker_repoll(op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let (others, other_waker) = counting_waker();
        let mut ahead: Vec<_> = (0..if op.releases() { 2 } else { 0 })
            .map(|_| queued_owned(&c, &other_waker))
            .collect();
        let (count, waker) = counting_waker();
        let mut w = queued_owned(&c, &waker);
        let data = Data::new();
        let completer = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(1);
                op.run(&c);
            }
        });
        let repoll = poll(w.as_mut(), &waker);
        if repoll.is_ready() {
            assert_eq!(data.read(), 1);
            // A release is atomic to polls (Fix 4): the waits ahead of `w` were released
            // by the same call, drained yet or not.
            for a in &mut ahead {
                assert!(poll(a.as_mut(), &other_waker).is_ready(), "half a release");
            }
        }
        completer.join().unwrap();
        // A `Pending` re-poll is woken exactly once; a `Ready` one at most once (if the
        // hand-off or the drain reached it before the re-poll looked).
        match repoll.is_pending() {
            true => assert_eq!(count.wakes(), 1, "a pending re-poll must be woken"),
            false => assert!(count.wakes() <= 1),
        }
        assert!(poll(w.as_mut(), &waker).is_ready());
        for a in &mut ahead {
            assert!(poll(a.as_mut(), &other_waker).is_ready());
        }
        // The waits ahead, never re-polled before the call returned unless `w` was
        // `Ready`, were each woken once by the drain.
        match repoll.is_pending() {
            true => assert_eq!(others.wakes(), ahead.len()),
            false => assert!(others.wakes() <= ahead.len()),
        }
        op.check_left(&c, 1);
        drop((ahead, w));
        no_leak(count, waker);
        no_leak(others, other_waker);
    });
}

cells!(same_waker_repoll, EXHAUSTIVE;
    same_waker_repoll_vs_complete => Complete,
    same_waker_repoll_vs_complete_n2 => CompleteN2,
    same_waker_repoll_vs_complete_all => CompleteAll,
    same_waker_repoll_vs_complete_waiters => CompleteWaiters,
    same_waker_repoll_vs_complete_all_reinit => AllThenReinit,
);

/// A same-waker re-poll racing `complete()` and a `reinit()`: `reinit` never takes what
/// is handed to a queued wait.
#[test]
fn same_waker_repoll_vs_reinit_racing_complete() {
    model(EXHAUSTIVE, || {
        let c = StdArc::new(Completion::new());
        let (count, waker) = counting_waker();
        let mut w = queued_owned(&c, &waker);
        let completer = spawn({
            let c = c.clone();
            move || c.complete()
        });
        let reinit = spawn({
            let c = c.clone();
            move || c.reinit()
        });
        let repoll = poll(w.as_mut(), &waker);
        completer.join().unwrap();
        reinit.join().unwrap();
        assert_eq!(count.wakes(), 1);
        if repoll.is_pending() {
            assert!(poll(w.as_mut(), &waker).is_ready());
        }
        assert!(!c.try_wait());
        drop(w);
        no_leak(count, waker);
    });
}

// ---------------------------------------------------------------------------------------
// Row 6: an existing wait, created before the call and not yet polled, polled while the
// call runs. `complete`, `complete_n` and `complete_all` always reach it (handed, banked,
// or the flag). A pulse reaches it only if its poll queued it before the call (the crate
// docs of `complete_waiters`: the waits queued or enabled at the call), and so does a
// `complete_all` undone by `reinit` before its poll; it is woken exactly when it was
// queued and reached. A wait created after the call returned is not reached by a release
// (it waits for the next one), except after a `complete_all` still in force.

fn unpolled_existing(op: Op, bound: usize) {
    model(bound, move || {
        let c = StdArc::new(Completion::new());
        let mut w = Box::pin(c.clone().wait_owned());
        let data = Data::new();
        let completer = spawn({
            let (c, data) = (c.clone(), data.clone());
            move || {
                data.write(1);
                op.run(&c);
            }
        });
        let (count, waker) = counting_waker();
        let first = poll(w.as_mut(), &waker);
        completer.join().unwrap();
        let reached = first.is_ready() || poll(w.as_mut(), &waker).is_ready();
        if reached {
            assert_eq!(data.read(), 1);
        }
        if first.is_pending() {
            assert_eq!(count.wakes(), usize::from(reached), "woken iff reached");
        }
        assert!(
            reached || matches!(op, CompleteWaiters | AllThenReinit),
            "a completion did not reach the wait ({op:?})"
        );
        drop(w);
        if op.releases() {
            let (_, later_waker) = counting_waker();
            let later = poll(pin!(c.wait()), &later_waker);
            assert_eq!(
                later.is_ready(),
                op == CompleteAll,
                "a release reached a later wait"
            );
        }
        op.check_left(&c, 1);
        no_leak(count, waker);
    });
}

cells!(unpolled_existing, EXHAUSTIVE;
    unpolled_existing_vs_complete => Complete,
    unpolled_existing_vs_complete_n2 => CompleteN2,
    unpolled_existing_vs_complete_all => CompleteAll,
    unpolled_existing_vs_complete_waiters => CompleteWaiters,
    unpolled_existing_vs_complete_all_reinit => AllThenReinit,
);

// ---------------------------------------------------------------------------------------
// Fix 4: a release is atomic to polls. Ports of tokio's loom models of `Notify`
// (`notify_waiters_poll_consistency`, `_many`, `notify_waiters_is_atomic`), with
// `complete_waiters()` for `notify_waiters()` and, separately, `complete_all()`.

/// The release under test: `complete_all` when `all`, else the pulse.
fn release(c: &Completion, all: bool) {
    match all {
        true => c.complete_all(),
        false => c.complete_waiters(),
    }
}

/// Two waits, each polled once before the call or not (`polled`); the call runs on another
/// thread while the main thread polls wait 0 then wait 1: if wait 0 is `Ready` (released),
/// wait 1 is too, if the call releases it for sure (it was queued before the call, or the
/// call is `complete_all`, whose flag a first poll sees). A wait first polled during a
/// pulse is released only if that poll queued it before the pulse. Then every wait the
/// call released is `Ready`, and each one that was queued and polled `Pending` was woken
/// exactly once; a wait the pulse missed was not woken.
fn poll_consistency(polled: [bool; 2], all: bool) {
    model(EXHAUSTIVE, move || {
        let c = StdArc::new(Completion::new());
        let wakers = [counting_waker(), counting_waker()];
        let mut waits = [
            Box::pin(c.clone().wait_owned()),
            Box::pin(c.clone().wait_owned()),
        ];
        for i in 0..2 {
            if polled[i] {
                assert!(poll(waits[i].as_mut(), &wakers[i].1).is_pending());
            }
        }
        let releaser = spawn({
            let c = c.clone();
            move || release(&c, all)
        });
        let sure = |i: usize| all || polled[i];
        let res0 = poll(waits[0].as_mut(), &wakers[0].1);
        let res1 = poll(waits[1].as_mut(), &wakers[1].1);
        assert!(
            res0.is_pending() || res1.is_ready() || !sure(1),
            "half a release"
        );
        releaser.join().unwrap();
        for (i, res) in [res0, res1].into_iter().enumerate() {
            let wakes = wakers[i].0.wakes();
            let done = res.is_ready() || poll(waits[i].as_mut(), &wakers[i].1).is_ready();
            assert!(done || !sure(i), "wait {i} not released");
            match (res.is_pending(), done) {
                (true, true) => assert_eq!(wakes, 1, "wait {i} queued and never woken"),
                (true, false) => assert_eq!(wakes, 0, "wait {i} missed, yet woken"),
                (false, _) if polled[i] => assert!(wakes <= 1),
                (false, _) => assert_eq!(wakes, 0, "wait {i} never queued, yet woken"),
            }
        }
        drop(waits);
        for (counter, waker) in wakers {
            no_leak(counter, waker);
        }
    });
}

#[test]
fn poll_consistency_pulse_unpolled_unpolled() {
    poll_consistency([false, false], false);
}
#[test]
fn poll_consistency_pulse_polled_unpolled() {
    poll_consistency([true, false], false);
}
#[test]
fn poll_consistency_pulse_unpolled_polled() {
    poll_consistency([false, true], false);
}
#[test]
fn poll_consistency_pulse_polled_polled() {
    poll_consistency([true, true], false);
}
#[test]
fn poll_consistency_all_unpolled_unpolled() {
    poll_consistency([false, false], true);
}
#[test]
fn poll_consistency_all_polled_unpolled() {
    poll_consistency([true, false], true);
}
#[test]
fn poll_consistency_all_unpolled_polled() {
    poll_consistency([false, true], true);
}
#[test]
fn poll_consistency_all_polled_polled() {
    poll_consistency([true, true], true);
}

/// tokio's `_many`: three queued waits, so that waits 0 and 1 are in different batches
/// (batches of 2 under loom, where tokio uses its wake list's 32 + 1): `order[0]` is
/// queued first, then wait 2, then `order[1]`. The main thread polls wait 0 then wait 1.
fn poll_consistency_many(order: [usize; 2], all: bool) {
    model(EXHAUSTIVE, move || {
        let c = StdArc::new(Completion::new());
        let (_, waker) = counting_waker();
        let mut waits: Vec<_> = (0..3).map(|_| Box::pin(c.clone().wait_owned())).collect();
        for i in [order[0], 2, order[1]] {
            assert!(poll(waits[i].as_mut(), &waker).is_pending());
        }
        let releaser = spawn({
            let c = c.clone();
            move || release(&c, all)
        });
        let res0 = poll(waits[0].as_mut(), &waker);
        let res1 = poll(waits[1].as_mut(), &waker);
        assert!(res0.is_pending() || res1.is_ready(), "half a release");
        releaser.join().unwrap();
    });
}

#[test]
fn poll_consistency_many_pulse_0_1() {
    poll_consistency_many([0, 1], false);
}
#[test]
fn poll_consistency_many_pulse_1_0() {
    poll_consistency_many([1, 0], false);
}
#[test]
fn poll_consistency_many_all_0_1() {
    poll_consistency_many([0, 1], true);
}
#[test]
fn poll_consistency_many_all_1_0() {
    poll_consistency_many([1, 0], true);
}

/// Four waits (three queued in two batches, the third never polled), all polled in turn
/// while the call runs: once one is `Ready`, every wait polled after it that the call
/// releases for sure is `Ready` (the never-polled one only for `complete_all`, whose flag
/// its first poll sees; a pulse reaches it only if that poll queued it first).
fn poll_consistency_monotonic(all: bool) {
    model(EXHAUSTIVE, move || {
        let c = StdArc::new(Completion::new());
        let (_, waker) = counting_waker();
        let mut waits: Vec<_> = (0..4).map(|_| Box::pin(c.clone().wait_owned())).collect();
        for i in [0, 1, 3] {
            assert!(poll(waits[i].as_mut(), &waker).is_pending());
        }
        let releaser = spawn({
            let c = c.clone();
            move || release(&c, all)
        });
        let mut seen_ready = false;
        for (i, w) in waits.iter_mut().enumerate() {
            let ready = poll(w.as_mut(), &waker).is_ready();
            if all || i != 2 {
                assert!(
                    ready || !seen_ready,
                    "wait {i} Pending after an earlier one was Ready"
                );
                seen_ready |= ready;
            }
        }
        releaser.join().unwrap();
    });
}

#[test]
fn poll_consistency_monotonic_pulse() {
    poll_consistency_monotonic(false);
}
#[test]
fn poll_consistency_monotonic_all() {
    poll_consistency_monotonic(true);
}

/// `is_done()` (or a `true` `try_wait()`) after `complete_all()` implies that a wait
/// queued before it polls `Ready`, even one in the drain's last batch (two waits ahead).
fn done_implies_ready(observe: fn(&Completion) -> bool) {
    model(EXHAUSTIVE, move || {
        let c = StdArc::new(Completion::new());
        let (_, waker) = counting_waker();
        let ahead = [queued_owned(&c, &waker), queued_owned(&c, &waker)];
        let mut w = queued_owned(&c, &waker);
        let releaser = spawn({
            let c = c.clone();
            move || c.complete_all()
        });
        if observe(&c) {
            assert!(
                poll(w.as_mut(), &waker).is_ready(),
                "done, yet a released wait Pending"
            );
        }
        releaser.join().unwrap();
        drop(ahead);
    });
}

#[test]
fn is_done_after_complete_all_implies_ready() {
    done_implies_ready(|c| c.is_done());
}
#[test]
fn try_wait_after_complete_all_implies_ready() {
    done_implies_ready(|c| c.try_wait());
}

/// tokio's `notify_waiters_is_atomic`: once one wait released by a pulse returned, every
/// wait of that pulse counts as released, so a `complete()` made after it goes to a wait
/// that queues afterwards, never to an old wait the drain has not reached yet.
fn pulse_is_atomic(tested: usize) {
    model(EXHAUSTIVE, move || {
        let c = StdArc::new(Completion::new());
        let (_, waker) = counting_waker();
        let mut waits: Vec<_> = (0..3).map(|_| queued_owned(&c, &waker)).collect();
        let pulser = spawn({
            let c = c.clone();
            move || c.complete_waiters()
        });
        block_on(waits.remove(tested));
        let mut fresh = Box::pin(c.wait());
        assert!(poll(fresh.as_mut(), &waker).is_pending());
        c.complete();
        assert!(
            poll(fresh.as_mut(), &waker).is_ready(),
            "an old released wait took the complete()"
        );
        pulser.join().unwrap();
        for w in &mut waits {
            assert!(poll(w.as_mut(), &waker).is_ready());
        }
        assert!(!c.try_wait());
    });
}

#[test]
fn pulse_is_atomic_first() {
    pulse_is_atomic(0);
}
#[test]
fn pulse_is_atomic_last() {
    pulse_is_atomic(2);
}

/// tokio's `notify_waiters_sequential_notified_await` (Fix 5's other half): one pulse
/// does not get through two waits created and awaited one after the other. The waiter
/// thread queues a wait (and two more, so the drain takes two batches), signals, awaits
/// it, then polls a second wait: `Pending`, still after the pulse returned.
#[test]
fn pulse_does_not_reach_a_wait_created_after_it() {
    model(3, || {
        let c = StdArc::new(Completion::new());
        let queued = Flag::new();
        let pulsed = Flag::new();
        let waiter = spawn({
            let (c, queued, pulsed) = (c.clone(), queued.clone(), pulsed.clone());
            move || {
                let (_, waker) = counting_waker();
                let mut first = queued_owned(&c, &waker);
                let _pile = [queued_owned(&c, &waker), queued_owned(&c, &waker)];
                queued.set();
                block_on(first.as_mut());
                let mut second = Box::pin(c.wait());
                assert!(poll(second.as_mut(), &waker).is_pending());
                block_on(FlagSet(pulsed.clone()));
                assert!(
                    poll(second.as_mut(), &waker).is_pending(),
                    "the pulse reached a wait created after the pulsed one returned"
                );
            }
        });
        block_on(FlagSet(queued.clone()));
        c.complete_waiters();
        pulsed.set();
        waiter.join().unwrap();
        queued.clear();
        pulsed.clear();
    });
}
