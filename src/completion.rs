//! [`Completion`]: the public type and its methods.

use core::fmt;
use core::panic::{RefUnwindSafe, UnwindSafe};

use core::future::IntoFuture;
use core::time::Duration;

use crate::lock::Lock;
use crate::loom::{loom_const_fn, Ordering};
use crate::state::{ALL, MAX_COUNT, WAITERS};
use crate::waiters::Queue;
use crate::{DefaultLock, RunUntilDone, Timer, Wait, WaitOr, WaitTimeout};

/// A "wait for completion" barrier: the Linux kernel's `struct completion` for async Rust.
///
/// A `Completion` holds a count of posted completions, a sticky *completed-for-all* flag
/// and a FIFO queue of waiters. One side calls [`complete`](Self::complete) (or
/// [`complete_all`](Self::complete_all)); the other side awaits [`wait`](Self::wait).
/// Either may come first.
///
/// | call | effect |
/// |---|---|
/// | [`complete`](Self::complete) | hands one completion to the oldest queued waiter, or banks it |
/// | [`complete_all`](Self::complete_all) | releases every waiter, now and until [`reinit`](Self::reinit) |
/// | [`wait`](Self::wait) | future: consumes one completion, queueing (FIFO) until one is handed to it |
/// | [`try_wait`](Self::try_wait) | consumes a banked completion without waiting |
/// | [`is_done`](Self::is_done) | whether `try_wait` would succeed; consumes nothing |
/// | [`reinit`](Self::reinit) | count to 0 and flag cleared; queued waiters stay queued |
///
/// It is 24 bytes on x86-64 (16 as a `Completion<CriticalSectionLock>`), never allocates, and
/// [`new`](Completion::new) is `const`, so it can be a `static`. A plain `Completion` is
/// `Send + Sync`: share it as a `static`, in an `Arc`, or by reference with scoped threads
/// and joined futures. With a named lock, `Completion<L>` is `Send` when `L` is, and `Sync`
/// when `L` is `Send + Sync`: every lock but embassy's `NoopRawMutex`, which keeps its
/// completion on one executor.
/// The [crate documentation](crate#semantics) spells out every guarantee.
///
/// The type parameter `L` is the [`Lock`] that guards the waiter queue. Leave it out for
/// the [`DefaultLock`] (chosen by the `std` feature alone); name it (and build the completion
/// with [`with_lock`](Completion::with_lock)) to pick one per instance, e.g. an embassy
/// `RawMutex` with the `embassy-sync` feature.
///
/// # Examples
///
/// ```
/// use async_completion::Completion;
///
/// static SETUP_DONE: Completion = Completion::new();
///
/// # futures::executor::block_on(async {
/// // CPU#2: do setup, then
/// SETUP_DONE.complete();
///
/// // CPU#1: run non-dependent code, then
/// SETUP_DONE.wait().await;
/// # });
/// ```
pub struct Completion<L: Lock = DefaultLock> {
    queue: Queue<L>,
}

impl Completion {
    loom_const_fn! {
        /// A new completion: "not done" (count 0, flag clear, nobody waiting). The kernel's
        /// `DECLARE_COMPLETION` / `init_completion`.
        ///
        /// A `const fn`: usable in `static` and `const` initializers, on every target.
        /// It uses the [`DefaultLock`]; [`with_lock`](Completion::with_lock) builds a
        /// `Completion` with another [`Lock`].
        ///
        /// ```
        /// use async_completion::Completion;
        /// static READY: Completion = Completion::new();
        /// assert!(!READY.is_done());
        /// ```
        ///
        /// # A warning on an OS without `std`
        ///
        /// Built for a target with an operating system (`unix` or `windows`) with the `std`
        /// feature off, the default lock is a spinlock, which is rarely what a program on an
        /// OS wants: that happens when a library depends on this crate with
        /// `default-features = false` and does not forward `std`, so every plain
        /// `Completion` it makes spins in its users' std programs. `new()` is then marked
        /// deprecated, so that library's build warns at each call. Forward the feature
        /// (`std = ["async-completion/std"]` in the library's own `std` feature), or, if a
        /// spinlock is what you want, say so: `Completion::<SpinLock>::with_lock()`. See
        /// [Using it in a library](crate#using-it-in-a-library).
        #[cfg_attr(
            all(not(feature = "std"), not(loom), any(unix, windows)),
            deprecated(
                note = "without the `std` feature this `Completion` spins, on an OS: enable \
                        `async-completion/std` (a library: forward it from its own `std` \
                        feature), or name the lock, `Completion::<SpinLock>::with_lock()`"
            )
        )]
        pub fn new() -> Self {
            Self { queue: Queue::new() }
        }
    }
}

impl<L: Lock> Completion<L> {
    /// The largest number of completions that can be banked, `u32::MAX - 2`, the same for
    /// every lock. Further [`complete`](Self::complete) calls with nobody waiting are
    /// dropped (saturation); they never turn into the completed-for-all state.
    ///
    /// Name the type to read it: `<Completion>::MAX_COUNT` for a plain `Completion` (a
    /// bare `Completion::MAX_COUNT` is an expression path, where Rust does not fill in the
    /// default lock), `Completion::<L>::MAX_COUNT` for a named or generic lock.
    ///
    /// ```
    /// use async_completion::{Completion, Lock, SpinLock};
    ///
    /// assert_eq!(<Completion>::MAX_COUNT, u32::MAX - 2);
    /// assert_eq!(Completion::<SpinLock>::MAX_COUNT, u32::MAX - 2);
    ///
    /// fn headroom<L: Lock>(banked: u32) -> u32 {
    ///     Completion::<L>::MAX_COUNT - banked
    /// }
    /// assert_eq!(headroom::<SpinLock>(1), u32::MAX - 3);
    /// # #[cfg(feature = "critical-section")]
    /// # assert_eq!(Completion::<async_completion::CriticalSectionLock>::MAX_COUNT, u32::MAX - 2);
    /// # #[cfg(feature = "embassy-sync")]
    /// # assert_eq!(
    /// #     Completion::<embassy_sync::blocking_mutex::raw::NoopRawMutex>::MAX_COUNT,
    /// #     u32::MAX - 2
    /// # );
    /// ```
    pub const MAX_COUNT: u32 = MAX_COUNT;

    loom_const_fn! {
        /// A new completion, "not done", whose waiter queue is guarded by the lock type
        /// `L` (see [`Lock`]); [`new`](Completion::new) is the same with the
        /// [`DefaultLock`].
        ///
        /// A `const fn`: usable in `static` and `const` initializers.
        ///
        /// ```
        /// use async_completion::{Completion, SpinLock};
        /// static READY: Completion<SpinLock> = Completion::with_lock();
        /// READY.complete_all();
        /// assert!(READY.is_done());
        /// ```
        ///
        /// With the `embassy-sync` feature, any embassy `RawMutex`:
        ///
        /// ```
        /// # #[cfg(feature = "embassy-sync")] {
        /// use async_completion::Completion;
        /// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
        /// static IRQ_DONE: Completion<CriticalSectionRawMutex> = Completion::with_lock();
        /// IRQ_DONE.complete();
        /// assert!(IRQ_DONE.try_wait());
        /// # }
        /// ```
        pub fn with_lock() -> Self {
            Self { queue: Queue::new() }
        }
    }

    /// Posts one completion (the kernel's `complete()`).
    ///
    /// If a waiter is queued, the completion is handed directly to the oldest one, which
    /// is woken; nothing else can take it. Otherwise the count is incremented (saturating
    /// at [`MAX_COUNT`](Completion::MAX_COUNT)). After [`complete_all`](Self::complete_all) and
    /// until [`reinit`](Self::reinit) it does nothing.
    ///
    /// Everything written before `complete()` is visible to the task whose wait consumes it.
    ///
    /// # Where it may be called from
    ///
    /// Anywhere: async tasks, threads, and interrupt handlers when the completion's lock
    /// is interrupt-safe: a `Completion<CriticalSectionLock>` (feature `critical-section`)
    /// or `Completion<CriticalSectionRawMutex>` (feature `embassy-sync`). Turning on a
    /// feature does not change the lock of a plain `Completion`, which is not for interrupt
    /// handlers (see [`DefaultLock`]). It never blocks for long (the lock is held for O(1) work),
    /// never allocates, and wakes the waiter after releasing the lock. With nobody
    /// waiting it is one atomic compare-and-swap.
    ///
    /// # Panics
    ///
    /// Only if the woken waiter's waker panics; the hand-off has happened by then. If the
    /// lock itself panics (an embassy `RawMutex` may) before its critical section, nothing
    /// was posted; after it, the hand-off stands and the waiter is woken before the panic
    /// propagates (see [`Lock`](crate::Lock), "A lock that panics").
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// let c = Completion::new();
    /// c.complete();
    /// c.complete();
    /// assert!(c.try_wait());
    /// assert!(c.try_wait());
    /// assert!(!c.try_wait());
    /// ```
    #[inline]
    pub fn complete(&self) {
        self.queue.complete_one();
    }

    /// Posts `n` completions: the same as calling [`complete`](Self::complete) `n` times,
    /// but waking the served waiters in batches of up to 32 per lock hold (8 on 32-bit targets).
    ///
    /// The `n` oldest queued waiters are handed one completion each, in FIFO order; what is
    /// left once the queue is empty is banked (saturating at
    /// [`MAX_COUNT`](Completion::MAX_COUNT)). `complete_n(0)` does nothing, and so does any call
    /// after [`complete_all`](Self::complete_all), until [`reinit`](Self::reinit).
    ///
    /// # Where it may be called from
    ///
    /// Anywhere [`complete`](Self::complete) may be: async tasks, threads, and interrupt
    /// handlers on a completion with an interrupt-safe lock (`Completion<CriticalSectionLock>`).
    /// It never allocates; each lock hold
    /// serves at most 32 waiters (8 on 32-bit targets), whose wakers run after the lock is released.
    ///
    /// # Panics
    ///
    /// If a woken waiter's waker panics, `complete_n` finishes first: the other waiters of
    /// that batch are still woken and the rest of `n` is still handed out (FIFO) or
    /// banked; then the panic propagates to the caller. If the lock itself panics (an
    /// embassy `RawMutex` may), the waiters served by the lock holds that ran are woken, and
    /// the completions not handed out yet are not posted.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// let c = Completion::new();
    /// c.complete_n(3);
    /// assert!(c.try_wait() && c.try_wait() && c.try_wait());
    /// assert!(!c.try_wait());
    /// ```
    pub fn complete_n(&self, n: u32) {
        self.queue.complete_n(n);
    }

    /// Completes for all (the kernel's `complete_all()`): releases every wait, and until
    /// [`reinit`](Self::reinit) every [`wait`](Self::wait) is ready at once and
    /// [`try_wait`](Self::try_wait) returns `true` without consuming anything.
    ///
    /// Every wait queued at the call (polled, or [enabled](crate::Wait::enable)) is
    /// released: it stays released even if `reinit` comes before its next poll, which is
    /// `Ready`. A wait not queued yet is not released by the call: its first poll sees the
    /// flag, so it is `Ready` until `reinit`; first polled after `reinit`, it waits for the
    /// next completion, as a wait created after `reinit` does. Queued waiters
    /// are woken in batches of 32 (8 on 32-bit targets), the lock being released between
    /// batches, so the lock is never held for more than one batch of work. The release is
    /// atomic to polls: once [`is_done`](Self::is_done) says `true`, or one released wait
    /// polls `Ready`, every wait this call released polls `Ready`, woken yet or not.
    /// Calling it again is harmless (idempotent).
    ///
    /// # Where it may be called from
    ///
    /// Anywhere [`complete`](Self::complete) may be. With nobody queued it is one atomic
    /// compare-and-swap (the flag), and takes no lock.
    ///
    /// # Panics
    ///
    /// Only if a waker panics, and only once every waiter of this call is released and
    /// woken: the other wakers still run (in the remaining batches too), then the first
    /// panic propagates to the caller. (A second waker panicking during that unwind aborts
    /// the process, as any panic during unwinding does.)
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// # futures::executor::block_on(async {
    /// let c = Completion::new();
    /// c.complete_all();
    /// c.wait().await;
    /// c.wait().await; // sticky: nothing was consumed
    /// assert!(c.try_wait() && c.is_done());
    /// # });
    /// ```
    pub fn complete_all(&self) {
        self.queue.complete_all();
    }

    /// A pulse: releases every wait future queued at this moment (polled, or
    /// [enabled](crate::Wait::enable)), and wakes them. Each such wait's next poll is
    /// `Ready`; it consumes nothing (a banked completion stays banked). A wait that is not
    /// queued (created and neither polled nor enabled yet, or created after the call) is
    /// not reached. Unlike [`complete_all`](Self::complete_all) it is not sticky and banks
    /// nothing: the count and the completed-for-all flag stay as they are.
    ///
    /// This is `tokio::sync::Notify::notify_waiters()`, with one difference: tokio's
    /// pulse also reaches a `Notified` created before the call and never polled; here a
    /// wait ([`Wait`], [`OwnedWait`](crate::OwnedWait), [`WaitOr`], [`WaitTimeout`]...)
    /// receives a pulse once it is queued, so [`enable`](crate::Wait::enable) it (or poll
    /// it once) before doing what may send the pulse. (That keeps a wait's first poll one
    /// compare-and-swap, with no release count to read.) A pulsed wait that is dropped
    /// before it returns `Ready` passes nothing on (the pulse was for the waits of that
    /// moment, and banks nothing). Queued waits are woken in batches, the lock released
    /// between batches, as with `complete_all`; the release is atomic to polls (once one
    /// released wait polls `Ready`, every wait this call released does, woken yet or not).
    ///
    /// **Register, then check.** A waiter that registers ([`Wait::enable`], or a first
    /// poll that queues) and then reads a flag, against a notifier that writes the flag
    /// (`Release`) and then calls `complete_waiters()`: either the waiter sees the flag, or
    /// the pulse reaches it. This is tokio's `Notified::enable` idiom; see
    /// [`Wait::enable`].
    ///
    /// # Where it may be called from
    ///
    /// Anywhere [`complete`](Self::complete) may be. With nobody queued it is one atomic
    /// read-modify-write of the state word that changes nothing (the meeting point with a
    /// waiter queueing at the same time) and takes no lock.
    ///
    /// # Panics
    ///
    /// As [`complete_all`](Self::complete_all): only if a waker panics, after every pulsed
    /// wait was served and woken.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// use futures::poll;
    ///
    /// # futures::executor::block_on(async {
    /// let config_changed = Completion::new();
    /// let mut a = Box::pin(config_changed.wait());
    /// let mut b = Box::pin(config_changed.wait());
    /// assert!(poll!(a.as_mut()).is_pending()); // both queued
    /// assert!(poll!(b.as_mut()).is_pending());
    /// let mut late = Box::pin(config_changed.wait()); // created, not queued
    ///
    /// config_changed.complete_waiters();
    /// assert!(poll!(a.as_mut()).is_ready());
    /// assert!(poll!(b.as_mut()).is_ready());
    /// assert!(poll!(late.as_mut()).is_pending()); // not reached: it queues now
    /// // Nothing banked, nothing sticky: a later wait waits for the next pulse.
    /// assert!(!config_changed.is_done());
    /// # });
    /// ```
    pub fn complete_waiters(&self) {
        self.queue.complete_waiters();
    }

    /// Waits for a completion (the kernel's `wait_for_completion()`).
    ///
    /// The returned future is ready at once if the completion is completed for all or a
    /// banked completion can be taken (it takes one). Otherwise, on its first poll, it
    /// queues at the tail of the FIFO queue and resolves when a completion is handed to it.
    ///
    /// # Cancel safety
    ///
    /// Fully cancel safe: see [`Wait`]. Dropping the future never loses a completion.
    ///
    /// # Where it may be called from
    ///
    /// Any async task on any executor. It allocates nothing: the queue node lives inside
    /// the future. For OS threads use `wait_blocking` (feature `std`).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let c = Arc::new(Completion::new());
    /// let worker = std::thread::spawn({
    ///     let c = c.clone();
    ///     move || c.complete()
    /// });
    /// c.wait().await;
    /// worker.join().unwrap();
    /// # });
    /// ```
    #[inline]
    pub fn wait(&self) -> Wait<'_, L> {
        Wait::new(&self.queue)
    }

    /// Waits for a completion or for `other` to finish, whichever comes first: the
    /// kernel's `wait_for_completion_interruptible()` / `_killable()`, with the
    /// interruption as any future (a shutdown signal, a cancellation token, a channel).
    ///
    /// The returned [`WaitOr`] resolves to `Ok(())` when a completion was consumed, or to
    /// `Err(o)` when `other` finished first with `o`. The wait is polled first, so a
    /// completion wins a tie. On the first poll the wait looks for a completion lock-free
    /// and then polls `other` *before* it queues: an `other` that is ready at once costs no
    /// lock and no queueing.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait); in addition, when `other` wins, the wait leaves the queue
    /// at once, and a completion that was handed to it is passed on, not lost. Dropping
    /// the returned future also drops `other`.
    ///
    /// # Where it may be called from
    ///
    /// Any async task on any executor, as [`wait`](Self::wait). `other` is polled by the
    /// same task, after the wait, each time the future is polled.
    ///
    /// # Panics
    ///
    /// The returned [`WaitOr`] panics ("`WaitOr` polled after it returned `Ready`") if
    /// polled again after it returned `Ready`: `.await` and `futures::select!` never do
    /// that, a `tokio::select!` loop must `break` or disable the branch (see
    /// [the crate docs](crate#select-in-a-loop)).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// # futures::executor::block_on(async {
    /// let c = Completion::new();
    /// let shutdown = async { "shutting down" };
    /// assert_eq!(c.wait_or(shutdown).await, Err("shutting down"));
    /// c.complete();
    /// assert_eq!(c.wait_or(core::future::pending::<()>()).await, Ok(()));
    /// # });
    /// ```
    ///
    /// # In a spawned task
    ///
    /// As for [`wait_timeout`](Self::wait_timeout) ("In a spawned task"): the `'static` form is
    /// an `async move` block over a clone of an `Arc<Completion>`; it is `Send` when `other`
    /// is.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use async_completion::Completion;
    ///
    /// fn spawnable<F: core::future::Future + Send + 'static>(f: F) -> F {
    ///     f
    /// }
    /// # futures::executor::block_on(async {
    /// let done = Arc::new(Completion::new());
    /// let (tx, rx) = futures::channel::oneshot::channel::<&str>();
    /// let task = spawnable({
    ///     let done = done.clone();
    ///     async move { done.wait_or(rx).await }
    /// });
    /// tx.send("cancelled").unwrap();
    /// assert_eq!(task.await, Err(Ok("cancelled")));
    /// # });
    /// ```
    pub fn wait_or<F: IntoFuture>(&self, other: F) -> WaitOr<'_, F::IntoFuture, L> {
        WaitOr::new(self.wait(), other.into_future())
    }

    /// Waits for a completion for at most `timeout`, measured on `timer` (the kernel's
    /// `wait_for_completion_timeout()`), returning `Ok(())` or `Err(TimedOut)`.
    ///
    /// The sleep is created by this call, so the deadline counts from now, not from the
    /// first poll. This is [`wait_or`](Self::wait_or)`(timer.sleep(timeout))` with the
    /// error mapped to [`TimedOut`](crate::TimedOut), except on a tie: when the timer
    /// fires, the wait looks once more, as the kernel's `do_wait_for_common` checks
    /// `x->done` after the timeout. A completion handed to it meanwhile (even from inside
    /// the timer's own poll), one banked by then, or [`complete_all`](Self::complete_all)
    /// makes the result `Ok(())`, and that completion is consumed. Only a wait that can
    /// get nothing returns `Err(TimedOut)`. (`wait_or` differs: its other future's output
    /// cannot be dropped, so it returns `Err(o)` and passes the completion on.)
    ///
    /// A zero `timeout` is a poll, as in the kernel: the timer is not called, the wait
    /// never queues, and the future's first poll returns `Ok(())` if a completion can be
    /// taken (or after [`complete_all`](Self::complete_all)), `Err(TimedOut)` otherwise.
    /// [`Duration::MAX`] waits forever with every adapter of this crate, and never panics.
    ///
    /// `timer` is [`TokioTimer`](crate::TokioTimer), [`AsyncIoTimer`](crate::AsyncIoTimer),
    /// [`EmbassyTimer`](crate::EmbassyTimer) (each behind its feature) or any closure
    /// `Fn(Duration) -> impl Future`.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait): dropping the returned future, or its timing out, never
    /// loses a completion; one handed to it is passed on to the next waiter, or banked.
    ///
    /// # Where it may be called from
    ///
    /// Any async task whose runtime drives `timer`'s sleeps: a tokio runtime with the time
    /// driver for `TokioTimer`, anywhere for `AsyncIoTimer` (async-io drives its own
    /// timers), an embassy time driver for `EmbassyTimer`.
    ///
    /// # Panics
    ///
    /// If `timer.sleep` panics, here rather than at the first poll, as the sleep is created
    /// by this call: [`TokioTimer`](crate::TokioTimer) outside a tokio runtime with the
    /// time driver enabled does. (A zero timeout never calls the timer.) Polled again after
    /// it returned `Ready`, the [`WaitTimeout`] returns the same result; it never panics.
    ///
    /// # Examples
    ///
    /// [`TokioTimer`](crate::TokioTimer)'s page has a tokio example. With a closure as
    /// the timer, runnable anywhere:
    ///
    /// ```
    /// use async_completion::{Completion, TimedOut};
    /// use std::time::Duration;
    /// # futures::executor::block_on(async {
    /// let c = Completion::new();
    /// let expired = |_: Duration| async {};
    /// assert_eq!(c.wait_timeout(expired, Duration::from_millis(5)).await, Err(TimedOut));
    /// # });
    /// ```
    ///
    /// # In a spawned task
    ///
    /// The future borrows the completion. For a `'static` one (to `spawn` it), keep the
    /// completion in an `Arc` and move a clone into an `async move` block: the block owns
    /// the `Arc` and the wait borrows from it, and it is `Send` when the timer's sleep is.
    /// This keeps this method's semantics (a zero timeout is a poll; ties go to the
    /// completion). tokio users may also write `tokio::time::timeout(d, c.clone().wait_owned())`,
    /// as with `Notify::notified_owned()`: equally cancel safe, with tokio's rules for ties.
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// use async_completion::{Completion, TokioTimer};
    ///
    /// let reply = Arc::new(Completion::new());
    /// let waiter = tokio::spawn({
    ///     let reply = reply.clone();
    ///     async move { reply.wait_timeout(TokioTimer, Duration::from_secs(5)).await }
    /// });
    /// reply.complete();
    /// assert_eq!(waiter.await.unwrap(), Ok(()));
    /// # });
    /// ```
    pub fn wait_timeout<T: Timer>(
        &self,
        timer: T,
        timeout: Duration,
    ) -> WaitTimeout<'_, T::Sleep, L> {
        let sleep = if timeout.is_zero() {
            None // a poll: no sleep, no queueing
        } else {
            Some(timer.sleep(timeout))
        };
        WaitTimeout::new(self.wait(), sleep)
    }

    /// Waits for a completion until `deadline`, on `timer`'s clock: the deadline form of
    /// [`wait_timeout`](Self::wait_timeout), for retry loops and for several waits that
    /// share one deadline. Returns `Ok(())` or `Err(TimedOut)`.
    ///
    /// `timer` is a [`Clock`](crate::Clock): [`TokioTimer`](crate::TokioTimer) with a
    /// `tokio::time::Instant`, [`AsyncIoTimer`](crate::AsyncIoTimer) with a
    /// `std::time::Instant`, [`EmbassyTimer`](crate::EmbassyTimer) with an
    /// `embassy_time::Instant`. A `deadline` already past (`deadline <= timer.now()`) is a
    /// poll, like a zero timeout: the timer's sleep is not created, the wait never queues,
    /// and the result is `Ok(())` only if a completion can be taken at once (or after
    /// [`complete_all`](Self::complete_all)). Calling it again with the same deadline never
    /// waits past it. Ties are resolved as in `wait_timeout`: a completion available when
    /// the timer fires is taken, and the result is `Ok(())`.
    ///
    /// # Cancel safety
    ///
    /// As [`wait_timeout`](Self::wait_timeout): dropping the future never loses a
    /// completion.
    ///
    /// # Where it may be called from
    ///
    /// Any async task whose runtime drives `timer`'s sleeps, as for `wait_timeout`.
    ///
    /// # Examples
    ///
    /// A retry loop under one overall deadline, on tokio (feature `tokio`): each attempt
    /// waits at most 30 ms, and never past the overall deadline, however many attempts
    /// there are. (Completions are counted: a reply that arrives late, after its attempt
    /// gave up, is banked and would satisfy the next wait. Drain stale ones with
    /// `while reply.try_wait() {}` before sending again, or tag replies in a result slot.)
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// use async_completion::{Completion, TimedOut, TokioTimer};
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// let reply = Completion::new();
    /// let deadline = Instant::now() + Duration::from_millis(100);
    /// let mut attempts = 0;
    /// let outcome = loop {
    ///     while reply.try_wait() {} // forget late replies to earlier attempts
    ///     attempts += 1; // ... send the request ...
    ///     let attempt_ends = deadline.min(Instant::now() + Duration::from_millis(30));
    ///     match reply.wait_deadline(TokioTimer, attempt_ends).await {
    ///         Ok(()) => break Ok(()),
    ///         Err(TimedOut) if Instant::now() >= deadline => break Err(TimedOut),
    ///         Err(TimedOut) => continue, // retry, still under the overall deadline
    ///     }
    /// };
    /// assert_eq!(outcome, Err(TimedOut)); // nobody ever replies here
    /// assert_eq!(attempts, 4); // at 0, 30, 60 and 90 ms; the last one ends at 100 ms
    /// # });
    /// ```
    ///
    /// # In a spawned task
    ///
    /// As for [`wait_timeout`](Self::wait_timeout) ("In a spawned task"): an `async move` block
    /// over a clone of an `Arc<Completion>` is the `'static` form,
    /// `async move { done.wait_deadline(TokioTimer, deadline).await }`.
    pub fn wait_deadline<T: crate::Clock>(
        &self,
        timer: T,
        deadline: T::Instant,
    ) -> WaitTimeout<'_, T::Sleep, L> {
        let sleep = if deadline <= timer.now() {
            None // already past: a poll, no sleep, no queueing
        } else {
            Some(timer.sleep_until(deadline))
        };
        WaitTimeout::new(self.wait(), sleep)
    }

    /// Runs `fut` until it finishes or a completion is taken, whichever comes first:
    /// `Some(output)` if `fut` finished, `None` if the wait won (tokio-util's
    /// `CancellationToken::run_until_cancelled`, with [`complete_all`](Self::complete_all)
    /// as the cancellation).
    ///
    /// The wait is polled first, as in [`wait_or`](Self::wait_or) (this is `wait_or` with
    /// the result turned around): when both are ready, the completion wins and `fut` is
    /// dropped unfinished. When `fut` wins, the wait leaves the queue and a completion
    /// handed to it meanwhile is passed on.
    ///
    /// # Cancel safety
    ///
    /// As [`wait_or`](Self::wait_or). Dropping the returned future drops `fut`.
    ///
    /// # Where it may be called from
    ///
    /// Any async task on any executor.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready`, like [`WaitOr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// # futures::executor::block_on(async {
    /// let shutdown = Completion::new();
    /// assert_eq!(shutdown.run_until_done(async { 42 }).await, Some(42));
    /// shutdown.complete_all();
    /// assert_eq!(shutdown.run_until_done(core::future::pending::<u8>()).await, None);
    /// # });
    /// ```
    ///
    /// # In a spawned task
    ///
    /// tokio-util's `run_until_cancelled_owned` is an `async move` block over a clone of an
    /// `Arc<Completion>`, as for [`wait_timeout`](Self::wait_timeout):
    /// `async move { shutdown.run_until_done(job).await }`.
    pub fn run_until_done<F: IntoFuture>(&self, fut: F) -> RunUntilDone<'_, F::IntoFuture, L> {
        RunUntilDone::new(self.wait_or(fut))
    }

    /// Takes one banked completion without waiting (the kernel's
    /// `try_wait_for_completion()`): `true` if one was taken or the completion is
    /// completed for all (then nothing is consumed), `false` otherwise. Never queues.
    ///
    /// While waiters are queued nothing is banked, so this returns `false`: a completion
    /// always goes to the oldest waiter. A `true` makes everything written before the
    /// `complete()` it consumed (or before `complete_all()`) visible to the caller.
    ///
    /// # Where it may be called from
    ///
    /// Anywhere, including interrupt handlers with any lock: it is lock-free (one load
    /// and, when a completion is banked, one compare-and-swap).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// let c = Completion::new();
    /// assert!(!c.try_wait());
    /// c.complete();
    /// assert!(c.try_wait());
    /// ```
    #[inline]
    #[must_use = "`try_wait` may consume a completion: ignoring whether it did loses track of it"]
    pub fn try_wait(&self) -> bool {
        self.queue.try_take()
    }

    /// Whether a [`try_wait`](Self::try_wait) now would succeed (the kernel's
    /// `completion_done()`): a completion is banked, or the completion is completed for
    /// all. Consumes nothing. It says nothing about waiters: while any are queued it is
    /// `false`, and after `complete_all` it is `true` whether or not released waiters have
    /// run yet.
    ///
    /// # Where it may be called from
    ///
    /// Anywhere, including interrupt handlers with any lock: it is one atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// let c = Completion::new();
    /// assert!(!c.is_done());
    /// c.complete();
    /// assert!(c.is_done());
    /// assert!(c.is_done()); // still there
    /// ```
    #[inline]
    #[must_use = "`is_done` only reads the state; it consumes nothing"]
    pub fn is_done(&self) -> bool {
        self.queue.is_done()
    }

    /// Resets to "not done" (the kernel's `reinit_completion()`): the count goes to 0 and
    /// the completed-for-all flag is cleared. Queued waiters stay queued, and waiters that
    /// were already released stay released.
    ///
    /// Memory-safe at any time. As in the kernel, calling it while completions or waits
    /// may still be racing with it makes the outcome depend on who came first: reinit
    /// only between uses.
    ///
    /// # Where it may be called from
    ///
    /// Anywhere, including interrupt handlers with any lock: it is lock-free (a
    /// compare-and-swap loop on the state word).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// let c = Completion::new();
    /// c.complete_all();
    /// c.reinit();
    /// assert!(!c.is_done());
    /// ```
    pub fn reinit(&self) {
        self.queue.reinit();
    }
}

impl<L: Lock> Completion<L> {
    /// The queue inside, for the owned wait future.
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    #[inline(always)]
    pub(crate) fn queue(&self) -> &Queue<L> {
        &self.queue
    }
}

impl Default for Completion {
    /// The same as [`Completion::new`]. Only for the [`DefaultLock`], so that
    /// `Completion::default()` needs no type annotation, as `Completion::new()` does not;
    /// a completion with another lock is built with [`Completion::with_lock`].
    ///
    /// ```
    /// use async_completion::Completion;
    ///
    /// let c = Completion::default();
    /// assert!(!c.is_done());
    ///
    /// #[derive(Default)]
    /// struct Device {
    ///     ready: Completion,
    /// }
    /// let dev = Device::default();
    /// dev.ready.complete();
    /// assert!(dev.ready.try_wait());
    /// ```
    fn default() -> Self {
        Self::with_lock()
    }
}

// A panic comes from user code only (a waker, a timer, another future, a lock's acquire),
// and each of those runs with the state word and the list consistent: wakers after the
// lock is released, a lock's acquire before anything changed (see `handoff` and `fault`;
// the one state that cannot unwind aborts instead). A `Completion` observed after a caught
// panic upholds every guarantee, which `tests/faults.rs` checks. Like tokio's `Notify`.
impl<L: Lock> UnwindSafe for Completion<L> {}
impl<L: Lock> RefUnwindSafe for Completion<L> {}

impl<L: Lock> Completion<L> {
    /// A snapshot of the state word: (banked count, completed for all, waiters queued).
    fn snapshot(&self) -> (u32, bool, bool) {
        let state = self.queue.state.load(Ordering::Relaxed);
        let count = if state <= MAX_COUNT { state } else { 0 };
        (count, state == ALL, state == WAITERS)
    }
}

impl<L: Lock> fmt::Debug for Completion<L> {
    /// Shows a snapshot of the state, e.g.
    /// `Completion { count: 3, completed_all: false, waiters: false }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, all, waiters) = self.snapshot();
        f.debug_struct("Completion")
            .field("count", &count)
            .field("completed_all", &all)
            .field("waiters", &waiters)
            .finish()
    }
}

/// The same snapshot as `Debug`, for firmware logs (feature `defmt`).
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<L: Lock> defmt::Format for Completion<L> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let (count, all, waiters) = self.snapshot();
        defmt::write!(
            f,
            "Completion {{ count: {=u32}, completed_all: {=bool}, waiters: {=bool} }}",
            count,
            all,
            waiters
        );
    }
}
