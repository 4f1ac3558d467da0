//! Blocking waits for OS threads (feature `std`), on the same FIFO queue as async waits.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Waker};
use std::sync::Arc;
use std::task::Wake;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::{Completion, Lock, TimedOut, Wait};

/// How many times a blocking wait looks for its completion (one atomic load each, with a
/// spin-loop hint in between) before it parks the thread. A completion that arrives within
/// these few microseconds spares both threads a futex round trip (the completer's
/// `unpark` of a thread that is not parked is one atomic swap). The same bound as std's
/// `Mutex` spin.
const SPIN_CHECKS: u32 = 100;

/// Spins briefly until `wait` is resolved; `true` if it was.
fn spin_until_resolved<L: Lock>(wait: &Wait<'_, L>) -> bool {
    for _ in 0..SPIN_CHECKS {
        if wait.is_resolved() {
            return true;
        }
        core::hint::spin_loop();
    }
    wait.is_resolved()
}

/// Wakes a parked thread.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

std::thread_local! {
    /// One waker per thread, made on its first blocking wait: later waits allocate nothing.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

/// Runs `f` with a waker that unparks the current thread.
fn with_thread_waker<R>(f: impl FnOnce(&Waker) -> R) -> R {
    let mut f = Some(f);
    let mut run = |waker: &Waker| (f.take().expect("called once"))(waker);
    match THREAD_WAKER.try_with(|waker| run(waker)) {
        Ok(result) => result,
        // Thread-local storage is being torn down: make a one-off waker.
        Err(_) => run(&Waker::from(Arc::new(Unparker(thread::current())))),
    }
}

impl<L: Lock> Completion<L> {
    /// Blocks the current thread until it consumes a completion (the kernel's
    /// `wait_for_completion()` for threads).
    ///
    /// The thread joins the same FIFO queue as async waiters, so threads and tasks can
    /// wait on one `Completion` and are served in the order they queued. Once queued, the
    /// thread checks for its completion a bounded number of times (100 atomic loads with a
    /// spin-loop hint, a few microseconds; no lock taken) and then parks until woken, so a
    /// completion that arrives quickly costs no futex sleep and wake-up. Returns at once if a completion is banked or after
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
        with_thread_waker(|waker| {
            let mut cx = Context::from_waker(waker);
            while wait.as_mut().poll(&mut cx).is_pending() {
                if !spin_until_resolved(&wait) {
                    thread::park();
                }
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
        with_thread_waker(|waker| {
            let mut cx = Context::from_waker(waker);
            loop {
                if wait.as_mut().poll(&mut cx).is_ready() {
                    return Ok(());
                }
                if spin_until_resolved(&wait) {
                    continue;
                }
                match deadline {
                    None => thread::park(),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            // The kernel's last look at `x->done`: a completion handed to
                            // this wait meanwhile, or banked by now, is taken.
                            return match wait.as_mut().give_up().0 {
                                true => Ok(()),
                                false => Err(TimedOut),
                            };
                        }
                        thread::park_timeout(deadline - now);
                    }
                }
            }
        })
    }
}
