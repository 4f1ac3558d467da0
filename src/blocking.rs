//! Blocking waits for OS threads (feature `std`), on the same FIFO queue as async waits.

use core::cell::Cell;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicU8, AtomicUsize};
use core::task::{Context, Waker};
use std::sync::{Arc, OnceLock};
use std::task::Wake;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::{Completion, Lock, TimedOut, Wait};

// How a blocking wait waits: spin, then park.
//
// Once queued, a thread looks for its completion (one atomic load each, no lock) while
// spinning for up to its spin budget, then parks. A completion that arrives during the
// spin costs neither thread a futex call: the completer's `unpark` of a thread that is
// not parked is one atomic swap, and with two threads answering each other on two idle
// cores a round trip stays in the spin (a futex wake-up of a parked thread on an idle
// virtual CPU takes tens of microseconds). But a spin holds a core: when the completer
// needs that very core (a loaded machine, where the scheduler puts the two threads of a
// ping-pong on one CPU, or more threads than cores), every check is lost time for both.
// So the budget adapts, per thread: a wait whose spin found its completion gives the
// thread the whole budget again (`SPIN_MAX_NS`); a spin that found nothing halves it,
// down to no spin at all; a thread that stopped spinning spins in full again once every
// `SPIN_PROBE_EVERY` waits, to notice when spinning pays again. On a machine with one
// CPU a thread never spins, and no thread spins while the threads woken from a blocking
// wait that have not run yet (`WOKEN`), with the spinner, are more than the CPUs: a
// completer that has just woken several parked threads, then waits for their answers,
// parks at once instead of holding a core they need (measured, 4 threads waiting and one
// completing beside one busy loop per CPU: 148 µs per round of 4 completions with the
// adaptive spin alone, 38 µs with this check, medians of 7 runs; std's Condvar 30 µs,
// parking_lot's 17 µs, which let a running thread take a completion where this crate
// hands each to the oldest waiter, a parked thread to wake: twice the context switches).
//
// No `yield_now` between the spin and the park (parking_lot's spin-then-yield): when the
// completer is queued for this core it would let it run without a futex sleep, but
// beside a CPU-bound thread of the same priority the yield hands that thread its whole
// time slice: measured with one busy loop per CPU, 2 of 5 runs of 5 000 round trips took
// 4 ms per round trip instead of 6 µs.

/// The longest a blocking wait spins for its completion, in nanoseconds: about the
/// wake-up latency of a parked thread on an idle core of a virtual machine, so that a
/// spin outlasts it.
const SPIN_MAX_NS: u32 = 16_000;

/// A spin budget halved below this is no spin at all.
const SPIN_MIN_NS: u32 = 1_000;

/// Checks (atomic load, then spin-loop hint) between two readings of the clock in a spin;
/// the first batch runs before the clock is read at all, so a completion that arrives
/// within it costs no clock reading.
const SPIN_BATCH: u32 = 64;

/// A thread that stopped spinning spins with the whole budget once every this many
/// blocking waits.
const SPIN_PROBE_EVERY: u32 = 256;

/// How many CPUs the process may run on (read once).
fn cpus() -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads woken from the park of a blocking wait that have not run since: each wants a
/// CPU. Changed only by a wake that finds its thread parked ([`Unparker`]) and by that
/// thread when it runs again; wrapping (it can be -1 for a moment, read as 0).
static WOKEN: AtomicUsize = AtomicUsize::new(0);

/// Whether the woken threads that have not run yet, with this one, are more than the
/// CPUs: a spin now would hold a core that one of them is waiting for (the completer of
/// this wait, most likely).
fn crowded() -> bool {
    WOKEN.load(Relaxed) as isize >= cpus() as isize
}

/// [`Unparker::state`]: the thread runs; it parks (or is about to) in a blocking wait; it
/// was woken from that park and has not run since (counted in [`WOKEN`]).
const RUNNING: u8 = 0;
const PARKED: u8 = 1;
const UNPARKED: u8 = 2;

/// Wakes a parked thread.
struct Unparker {
    thread: Thread,
    state: AtomicU8,
}

impl Unparker {
    fn unpark(&self) {
        if self.state.load(Relaxed) == PARKED
            && self
                .state
                .compare_exchange(PARKED, UNPARKED, Relaxed, Relaxed)
                .is_ok()
        {
            WOKEN.fetch_add(1, Relaxed);
        }
        self.thread.unpark();
    }
}

// Only `wake` (by value): the crate wakes every waker it takes out of the queue by value,
// so `Wake::wake_by_ref` (its default: clone, then `wake`) serves only a caller outside.
impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }
}

/// What a thread keeps for its blocking waits: its waker and its spin budget.
struct Blocker {
    unparker: Arc<Unparker>,
    waker: Waker,
    /// How long the next wait spins, in nanoseconds (0: not at all).
    spin_ns: Cell<u32>,
    /// Waits since the last full spin of a thread that stopped spinning.
    since_probe: Cell<u32>,
}

/// How a spin ended.
enum Spun {
    /// The wait was resolved.
    Resolved,
    /// The budget ran out (or the deadline passed).
    Nothing,
    /// Stopped (or never started) because it would hold a core a woken thread waits for.
    Crowded,
}

impl Blocker {
    fn new() -> Self {
        let unparker = Arc::new(Unparker {
            thread: thread::current(),
            state: AtomicU8::new(RUNNING),
        });
        Self {
            waker: Waker::from(unparker.clone()),
            unparker,
            spin_ns: Cell::new(if cpus() > 1 { SPIN_MAX_NS } else { 0 }),
            since_probe: Cell::new(0),
        }
    }

    /// After a poll found `wait` pending: spins (for the thread's budget, and never past
    /// `deadline`) and returns whether `wait` was resolved meanwhile. If not, the caller
    /// parks.
    fn spin<L: Lock>(&self, wait: &Wait<'_, L>, deadline: Option<Instant>) -> bool {
        let budget = self.spin_ns.get();
        let spin = if budget != 0 {
            budget
        } else if self.since_probe.get() + 1 >= SPIN_PROBE_EVERY && cpus() > 1 {
            self.since_probe.set(0);
            SPIN_MAX_NS
        } else {
            self.since_probe.set(self.since_probe.get() + 1);
            return false;
        };
        match spin_until_resolved(wait, spin, deadline) {
            Spun::Resolved => {
                self.spin_ns.set(SPIN_MAX_NS);
                true
            }
            Spun::Nothing => {
                // Halved (a failed probe leaves it at 0).
                let halved = budget / 2;
                self.spin_ns
                    .set(if halved < SPIN_MIN_NS { 0 } else { halved });
                false
            }
            Spun::Crowded => false,
        }
    }

    /// Parks the thread (until `timeout` has passed, if any), keeping [`WOKEN`].
    fn park(&self, timeout: Option<Duration>) {
        self.unparker.state.store(PARKED, Relaxed);
        match timeout {
            None => thread::park(),
            Some(timeout) => thread::park_timeout(timeout),
        }
        if self.unparker.state.swap(RUNNING, Relaxed) == UNPARKED {
            WOKEN.fetch_sub(1, Relaxed);
        }
    }
}

/// Spins until `wait` is resolved, for at most `spin_ns` nanoseconds after the first
/// batch of checks, never past `deadline`, and only while not [`crowded`].
fn spin_until_resolved<L: Lock>(
    wait: &Wait<'_, L>,
    spin_ns: u32,
    deadline: Option<Instant>,
) -> Spun {
    let batch = || {
        for _ in 0..SPIN_BATCH {
            if wait.is_resolved() {
                return true;
            }
            core::hint::spin_loop();
        }
        false
    };
    if crowded() {
        return Spun::Crowded;
    }
    if batch() {
        return Spun::Resolved;
    }
    let now = Instant::now();
    let mut end = now + Duration::from_nanos(spin_ns.into());
    if let Some(deadline) = deadline {
        end = end.min(deadline);
    }
    while Instant::now() < end {
        if crowded() {
            return Spun::Crowded;
        }
        if batch() {
            return Spun::Resolved;
        }
    }
    if wait.is_resolved() {
        Spun::Resolved
    } else {
        Spun::Nothing
    }
}

std::thread_local! {
    /// One per thread, made on its first blocking wait: later waits allocate nothing.
    static BLOCKER: Blocker = Blocker::new();
}

/// Runs `f` with the current thread's [`Blocker`].
fn with_blocker<R>(f: impl FnOnce(&Blocker) -> R) -> R {
    let mut f = Some(f);
    let mut run = |blocker: &Blocker| (f.take().expect("called once"))(blocker);
    match BLOCKER.try_with(|blocker| run(blocker)) {
        Ok(result) => result,
        // Thread-local storage is being torn down: make a one-off blocker.
        Err(_) => run(&Blocker::new()),
    }
}

impl<L: Lock> Completion<L> {
    /// Blocks the current thread until it consumes a completion (the kernel's
    /// `wait_for_completion()` for threads).
    ///
    /// The thread joins the same FIFO queue as async waiters, so threads and tasks can
    /// wait on one `Completion` and are served in the order they queued. Once queued, the
    /// thread looks for its completion while spinning briefly (atomic loads with a
    /// spin-loop hint, at most 16 µs; no lock taken) and then parks until woken, so a
    /// completion that arrives quickly costs no futex sleep and wake-up. The spin adapts per thread: it shrinks to nothing while it keeps finding
    /// nothing (the completer is waiting for the core the spin holds, on a loaded
    /// machine), and comes back once it pays again; a machine with one CPU never spins.
    /// Returns at once if a completion is banked or after
    /// [`complete_all`](Self::complete_all).
    ///
    /// # Where it may be called from
    ///
    /// Threads that may block. Never on an async runtime's thread (inside an async task,
    /// or a `tokio` / `async-std` / `smol` worker): `.await` [`wait`](Self::wait) there.
    /// This method does not detect that case and does not panic; it parks the runtime's
    /// thread, so every task scheduled on that thread stalls until a completion arrives.
    /// If the `complete()` was to come from one of those tasks (always the case on a
    /// single-threaded runtime such as `#[tokio::main(flavor = "current_thread")]`), it
    /// never comes: a deadlock. From async code, use `tokio::task::spawn_blocking` or a
    /// thread of your own if you really must block. Never from an interrupt handler.
    ///
    /// No heap allocation, except for a per-thread waker made once on the thread's first
    /// blocking wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// let c = Arc::new(Completion::new());
    /// let waiter = std::thread::spawn({
    ///     let c = c.clone();
    ///     move || c.wait_blocking()
    /// });
    /// c.complete();
    /// waiter.join().unwrap();
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn wait_blocking(&self) {
        if self.try_wait() {
            return;
        }
        let mut wait = pin!(self.wait());
        with_blocker(|blocker| {
            let mut cx = Context::from_waker(&blocker.waker);
            // One spin per wait: a park that returns with the wait still pending (a stale
            // unpark of an earlier wait that the spin resolved) parks again.
            let mut spun = false;
            while wait.as_mut().poll(&mut cx).is_pending() {
                if !spun {
                    spun = true;
                    if blocker.spin(&wait, None) {
                        continue;
                    }
                }
                blocker.park(None);
            }
        });
    }

    /// Blocks the current thread until it consumes a completion or `timeout` has passed
    /// (the kernel's `wait_for_completion_timeout()` for threads).
    ///
    /// Returns `Ok(())` if a completion was consumed, `Err(TimedOut)` otherwise. A
    /// completion that arrives at the deadline wins: when the deadline passes, the wait
    /// looks once more, as the kernel's `do_wait_for_common` does, and takes a completion
    /// handed to it meanwhile or banked by then. Only a wait that can get nothing times
    /// out, and it keeps nothing.
    /// A zero `timeout` is a poll, as in the kernel: it never queues or parks, and returns
    /// `Ok(())` only if a completion could be taken at once (or after
    /// [`complete_all`](Self::complete_all)). A `timeout` too large to represent as a
    /// deadline, such as [`Duration::MAX`], waits forever.
    ///
    /// # Where it may be called from
    ///
    /// The same places as [`wait_blocking`](Self::wait_blocking): threads that may block,
    /// never async tasks or interrupt handlers (on an async runtime's thread it stalls
    /// every task of that thread until it returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::{Completion, TimedOut};
    /// use std::time::Duration;
    ///
    /// let c = Completion::new();
    /// assert_eq!(c.wait_blocking_timeout(Duration::from_millis(1)), Err(TimedOut));
    /// c.complete();
    /// assert_eq!(c.wait_blocking_timeout(Duration::from_millis(1)), Ok(()));
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> Result<(), TimedOut> {
        if timeout.is_zero() {
            // A poll: never queue.
            return if self.try_wait() {
                Ok(())
            } else {
                Err(TimedOut)
            };
        }
        self.wait_blocking_until(Instant::now().checked_add(timeout))
    }

    /// Blocks the current thread until it consumes a completion or `deadline` has passed:
    /// [`wait_blocking_timeout`](Self::wait_blocking_timeout) with an absolute deadline, so
    /// a retry loop that calls it again with the same `deadline` never waits longer than
    /// the first call allowed.
    ///
    /// The deadline is a `std::time::Instant`; a `tokio::time::Instant` (what
    /// `wait_deadline(TokioTimer, ..)` takes) converts with `.into_std()`.
    ///
    /// Returns `Ok(())` if a completion was consumed, `Err(TimedOut)` otherwise. A
    /// `deadline` already past is a poll (as a zero timeout): it never queues or parks, and
    /// returns `Ok(())` only if a completion can be taken at once (or after
    /// [`complete_all`](Self::complete_all)). When the deadline passes, the wait checks once
    /// more, as the kernel does: a completion handed to it meanwhile, or one banked by
    /// then, is taken and the result is `Ok(())`; nothing is ever lost.
    ///
    /// # Where it may be called from
    ///
    /// The same places as [`wait_blocking`](Self::wait_blocking): threads that may block,
    /// never async tasks or interrupt handlers.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::{Completion, TimedOut};
    /// use std::time::{Duration, Instant};
    ///
    /// let c = Completion::new();
    /// let deadline = Instant::now() + Duration::from_millis(20);
    /// c.complete();
    /// assert_eq!(c.wait_blocking_deadline(deadline), Ok(()));
    /// // Nothing banked any more: waits until the deadline, then times out.
    /// assert_eq!(c.wait_blocking_deadline(deadline), Err(TimedOut));
    /// // The same deadline again: already past, so a poll that returns at once.
    /// assert_eq!(c.wait_blocking_deadline(deadline), Err(TimedOut));
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn wait_blocking_deadline(&self, deadline: Instant) -> Result<(), TimedOut> {
        if deadline <= Instant::now() {
            // Already past: a poll, never queue.
            return if self.try_wait() {
                Ok(())
            } else {
                Err(TimedOut)
            };
        }
        self.wait_blocking_until(Some(deadline))
    }

    /// Blocks until a completion is consumed (`Ok`) or `deadline` passes (`None`: never).
    fn wait_blocking_until(&self, deadline: Option<Instant>) -> Result<(), TimedOut> {
        if self.try_wait() {
            return Ok(());
        }
        let mut wait = pin!(self.wait());
        with_blocker(|blocker| {
            let mut cx = Context::from_waker(&blocker.waker);
            let mut spun = false;
            loop {
                if wait.as_mut().poll(&mut cx).is_ready() {
                    return Ok(());
                }
                if !spun {
                    spun = true;
                    if blocker.spin(&wait, deadline) {
                        continue;
                    }
                }
                match deadline {
                    None => blocker.park(None),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            // The kernel's last look at `x->done`: a completion handed to
                            // this wait meanwhile, or banked by now, is taken.
                            return match wait.as_mut().give_up() {
                                true => Ok(()),
                                false => Err(TimedOut),
                            };
                        }
                        blocker.park(Some(deadline - now));
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Completion;

    /// The spin's policy, and the accounting of woken threads behind `crowded`, in one test:
    /// both read the process-wide `WOKEN`, which a second test running beside it would move.
    #[test]
    fn the_spin_adapts_and_a_wake_counts_only_a_parked_thread() {
        let blocker = Blocker::new();
        let parallel = thread::available_parallelism().map_or(1, |n| n.get()) > 1;
        if parallel {
            spin_policy(&blocker);
        } else {
            assert_eq!(blocker.spin_ns.get(), 0, "one CPU: never spin");
        }
        woken_accounting(&blocker);
    }

    fn spin_policy(blocker: &Blocker) {
        let c = Completion::new();
        let mut wait = pin!(c.wait());
        let mut cx = Context::from_waker(&blocker.waker);
        assert!(wait.as_mut().poll(&mut cx).is_pending(), "queued");
        assert!(!wait.is_resolved());
        // A thread starts with the whole budget; each spin that finds nothing halves it,
        // and a budget below SPIN_MIN_NS is none.
        assert_eq!(blocker.spin_ns.get(), SPIN_MAX_NS);
        for budget in [8_000, 4_000, 2_000, 1_000, 0] {
            assert!(!blocker.spin(&wait, None));
            assert_eq!(blocker.spin_ns.get(), budget);
        }
        // Without a budget a wait does not spin, but every SPIN_PROBE_EVERY-th one spins
        // with the whole budget; a probe that finds nothing leaves the budget at none.
        for round in 0..2 {
            for n in 1..SPIN_PROBE_EVERY {
                assert!(!blocker.spin(&wait, None));
                assert_eq!(blocker.since_probe.get(), n, "round {round}");
            }
            if round == 1 {
                c.complete(); // handed to `wait`: this probe finds it
                assert!(wait.is_resolved());
            }
            assert_eq!(blocker.spin(&wait, None), round == 1);
            assert_eq!(blocker.since_probe.get(), 0);
            let budget = if round == 1 { SPIN_MAX_NS } else { 0 };
            assert_eq!(blocker.spin_ns.get(), budget, "round {round}");
        }
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        // While woken threads that have not run yet fill every CPU, a wait does not spin
        // and keeps its budget.
        let mut wait = pin!(c.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        WOKEN.fetch_add(cpus(), Relaxed);
        assert!(crowded());
        assert!(!blocker.spin(&wait, None));
        assert_eq!(blocker.spin_ns.get(), SPIN_MAX_NS);
        WOKEN.fetch_sub(cpus(), Relaxed);
        assert!(!crowded());
    }

    fn woken_accounting(blocker: &Blocker) {
        let state = || blocker.unparker.state.load(Relaxed);
        let woken = WOKEN.load(Relaxed);
        // A wake of a running thread leaves only std's unpark token: the park that follows
        // returns at once, and nothing was counted.
        blocker.waker.wake_by_ref();
        assert_eq!(state(), RUNNING);
        assert_eq!(WOKEN.load(Relaxed), woken);
        blocker.park(None);
        assert_eq!((state(), WOKEN.load(Relaxed)), (RUNNING, woken));
        // The wake of a parked thread marks it woken and counts it until it runs again
        // (here by hand: the state `park` sets, then what `park` does when it returns).
        blocker.unparker.state.store(PARKED, Relaxed);
        blocker.waker.wake_by_ref();
        assert_eq!((state(), WOKEN.load(Relaxed)), (UNPARKED, woken + 1));
        thread::park(); // the token of that wake: returns at once
        assert_eq!(blocker.unparker.state.swap(RUNNING, Relaxed), UNPARKED);
        WOKEN.fetch_sub(1, Relaxed);
        // A park lasts until the wake; the wake of the parked thread counts it until it runs.
        let waker = blocker.waker.clone();
        let woke = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waking = thread::spawn({
            let woke = woke.clone();
            move || {
                thread::sleep(Duration::from_millis(20));
                woke.store(true, Relaxed);
                waker.wake();
            }
        });
        blocker.park(None);
        assert!(woke.load(Relaxed), "the park returned before the wake");
        assert_eq!((state(), WOKEN.load(Relaxed)), (RUNNING, woken));
        waking.join().unwrap();
        // A timed park that nobody ends counts nothing either.
        blocker.park(Some(Duration::from_millis(1)));
        assert_eq!((state(), WOKEN.load(Relaxed)), (RUNNING, woken));
    }
}
