//! [`WaitOr`] and [`WaitTimeout`]: a wait raced against another future.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::FusedFuture;
use pin_project_lite::pin_project;

use crate::waiters::{DONE, IDLE};
use crate::{DefaultLock, Lock, TimedOut, Wait};

pin_project! {
    /// Future returned by [`Completion::wait_or`](crate::Completion::wait_or): a
    /// [`Wait`] raced against another future. The kernel's `_interruptible` and
    /// `_killable` waits, with the interruption as any future you like.
    ///
    /// Resolves to `Ok(())` when the wait consumed a completion, or `Err(o)` when the other
    /// future finished first with `o`. The wait is polled first, so when both are ready the
    /// completion wins.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe like [`Wait`]. When the other future wins, the wait leaves the queue
    /// before `Err` is returned, and a completion that had already been handed to it is
    /// passed on (to the next waiter, or back to the count): nothing is lost. Dropping a
    /// `WaitOr` drops both futures, with the same guarantee.
    ///
    /// # Where it may be polled from
    ///
    /// Any async task that can poll the other future. It is `Send` when the other future
    /// is `Send` and the lock `Send + Sync` (every lock but embassy's `NoopRawMutex`), and
    /// allocates nothing beyond what the other future does.
    ///
    /// # Pinning
    ///
    /// `!Unpin`, like [`Wait`] (its queue node lives inside it): pin it with
    /// [`core::pin::pin!`] or `Box::pin` to poll it by hand; `.await` does that for you.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready`, with the message "`WaitOr` polled after
    /// it returned `Ready`": its `Err` value was moved out, so unlike the other wait
    /// futures it cannot return its output again. `futures::select!` checks
    /// [`is_terminated`](FusedFuture::is_terminated) first; in a `tokio::select!` loop,
    /// `break` out of the loop or disable the branch once it fired (`, if !done`).
    ///
    /// # Examples
    ///
    /// Stop waiting when a shutdown signal arrives:
    ///
    /// ```
    /// use async_completion::Completion;
    /// use futures::channel::oneshot;
    ///
    /// # futures::executor::block_on(async {
    /// let job_done = Completion::new();
    /// let (shutdown_tx, shutdown_rx) = oneshot::channel::<&str>();
    ///
    /// shutdown_tx.send("shutting down").unwrap();
    /// match job_done.wait_or(shutdown_rx).await {
    ///     Ok(()) => println!("job done"),
    ///     Err(reason) => assert_eq!(reason, Ok("shutting down")),
    /// }
    /// # });
    /// ```
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    #[project(!Unpin)]
    pub struct WaitOr<'a, F, L: Lock = DefaultLock> {
        #[pin]
        wait: Wait<'a, L>,
        #[pin]
        other: F,
    }
}

impl<'a, F, L: Lock> WaitOr<'a, F, L> {
    pub(crate) fn new(wait: Wait<'a, L>, other: F) -> Self {
        Self { wait, other }
    }
}

impl<F: Future, L: Lock> Future for WaitOr<'_, F, L> {
    type Output = Result<(), F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let status = this.wait.status();
        assert!(status < DONE, "`WaitOr` polled after it returned `Ready`");
        match race(this.wait.as_mut(), status, this.other, cx) {
            // `other` won: the wait leaves the queue, passing on a completion handed to it.
            Poll::Ready(Err(output)) => {
                this.wait.cancel();
                Poll::Ready(Err(output))
            }
            poll => poll,
        }
    }
}

/// One poll of a wait raced against `other`: `Ok(())` when the wait consumed a completion,
/// `Err(o)` when `other` finished first (the caller then cancels the wait or, for a
/// timeout, gives it up).
///
/// The wait goes first, so a completion wins a tie. On the first poll it goes first
/// lock-free: a banked completion (or `complete_all`) is taken at once; otherwise `other`
/// is polled *before* the wait queues, so an `other` that is ready at once costs no waker
/// clone, no lock and no queueing. Only when `other` is pending does the wait queue (and a
/// completion that arrived in between is taken then).
#[inline]
fn race<L: Lock, F: Future>(
    mut wait: Pin<&mut Wait<'_, L>>,
    status: u8,
    other: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), F::Output>> {
    if wait.as_mut().poll_race(status, cx.waker()) {
        return Poll::Ready(Ok(()));
    }
    if let Poll::Ready(output) = other.poll(cx) {
        return Poll::Ready(Err(output));
    }
    // `other` is pending. A wait still idle (this is its first poll: `poll_race` found
    // nothing, and only the owner moves a wait out of `IDLE`) queues now, or takes a
    // completion that arrived meanwhile; a queued one has its waker stored already.
    if status == IDLE {
        wait.poll_queue(cx.waker()).map(Ok)
    } else {
        Poll::Pending
    }
}

impl<F: Future, L: Lock> FusedFuture for WaitOr<'_, F, L> {
    fn is_terminated(&self) -> bool {
        self.wait.is_terminated()
    }
}

impl<F, L: Lock> fmt::Debug for WaitOr<'_, F, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOr")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Completion::wait_timeout`](crate::Completion::wait_timeout):
    /// `Ok(())` when a completion was consumed, `Err(TimedOut)` when the timer's sleep
    /// finished first. The kernel's `wait_for_completion_timeout()`.
    ///
    /// It races a [`Wait`] against the sleep, created when `wait_timeout` was called: the
    /// deadline counts from that call, not from the first poll. Ties are the kernel's: when
    /// the wait sees its timer fire, a completion already handed to it, or banked, or
    /// `complete_all`, wins (`Ok(())`). A `complete()` from another task at the same
    /// instant is a race that the scheduler decides: if it lands after the wait gave up, it
    /// goes to the next waiter or is banked; nothing is lost either way.
    ///
    /// A zero timeout is a poll, as `wait_for_completion_timeout(x, 0)` is in the kernel:
    /// no sleep is created (the timer is not called) and the wait never queues; the first
    /// poll returns `Ok(())` if a completion could be taken (or after `complete_all`),
    /// `Err(TimedOut)` otherwise. [`Duration::MAX`](core::time::Duration::MAX) waits
    /// forever with every adapter of this crate, and never panics.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a completion handed to a wait that then times out, or is dropped, is
    /// passed on to the next waiter or back to the count.
    ///
    /// # Where it may be polled from
    ///
    /// Any async task whose runtime drives the sleep (see
    /// [`wait_timeout`](crate::Completion::wait_timeout)). It is `Send` when the sleep is
    /// `Send` and the lock `Send + Sync` (every lock but embassy's `NoopRawMutex`).
    ///
    /// # Pinning
    ///
    /// `!Unpin`, like [`Wait`] (its queue node lives inside it): pin it with
    /// [`core::pin::pin!`] or `Box::pin` to poll it by hand; `.await` does that for you.
    ///
    /// # Polled again after `Ready`
    ///
    /// Returns the same result again and consumes nothing, as [`Wait`] does; the sleep is
    /// dropped as soon as the result is known.
    ///
    /// # Examples
    ///
    /// With closures as timers (a sleep that is over at once, and one that never ends):
    ///
    /// ```
    /// use async_completion::{Completion, TimedOut};
    /// use futures::poll;
    /// use std::time::Duration;
    ///
    /// # futures::executor::block_on(async {
    /// let c = Completion::new();
    /// let expired = |_: Duration| core::future::ready(());
    /// let never = |_: Duration| core::future::pending::<()>();
    ///
    /// assert_eq!(c.wait_timeout(expired, Duration::from_secs(1)).await, Err(TimedOut));
    /// c.complete();
    /// // A completion and an expired deadline together: the completion wins.
    /// assert_eq!(c.wait_timeout(expired, Duration::from_secs(1)).await, Ok(()));
    ///
    /// // A zero timeout is a poll: the timer is not even called.
    /// assert_eq!(c.wait_timeout(never, Duration::ZERO).await, Err(TimedOut));
    ///
    /// // A timed wait that is dropped after it was handed a completion passes it on.
    /// let mut first = Box::pin(c.wait_timeout(never, Duration::from_secs(1)));
    /// let mut second = Box::pin(c.wait());
    /// assert!(poll!(first.as_mut()).is_pending());
    /// assert!(poll!(second.as_mut()).is_pending());
    /// c.complete(); // handed to `first`, the oldest waiter
    /// drop(first); // e.g. its task was aborted
    /// assert!(poll!(second.as_mut()).is_ready());
    /// # });
    /// ```
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    #[project(!Unpin)]
    pub struct WaitTimeout<'a, S, L: Lock = DefaultLock> {
        #[pin]
        wait: Wait<'a, L>,
        // `None` for a zero timeout (a poll: no sleep), and once the result is known (the
        // wait's final status records it).
        #[pin]
        sleep: Option<S>,
    }
}

impl<'a, S, L: Lock> WaitTimeout<'a, S, L> {
    /// A timed wait; `sleep` is `None` for a zero timeout.
    pub(crate) fn new(wait: Wait<'a, L>, sleep: Option<S>) -> Self {
        Self { wait, sleep }
    }
}

impl<S: Future, L: Lock> Future for WaitTimeout<'_, S, L> {
    type Output = Result<(), TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let status = this.wait.status();
        if let Some(result) = Wait::<L>::outcome(status) {
            return Poll::Ready(result);
        }
        let timed_out = match this.sleep.as_mut().as_pin_mut() {
            // No sleep is a zero timeout: take a completion now or time out, never queue
            // (`give_up` on a wait never polled takes one lock-free, or finds none).
            None => true,
            Some(sleep) => match race(this.wait.as_mut(), status, sleep, cx) {
                Poll::Ready(Ok(())) => false,
                Poll::Ready(Err(_)) => true,
                Poll::Pending => return Poll::Pending,
            },
        };
        // The timer fired. As in the kernel, which checks `x->done` once more after the
        // timeout, a completion handed to the wait meanwhile (even by the sleep's own poll),
        // a banked one, or `complete_all` wins. `give_up` records the result in the wait
        // before it drops the wait's waker (user code: it may panic).
        let result = match !timed_out || this.wait.as_mut().give_up() {
            true => Ok(()),
            false => Err(TimedOut),
        };
        // The result is recorded: if dropping the sleep panics, later polls still return it.
        this.sleep.set(None);
        Poll::Ready(result)
    }
}

impl<S: Future, L: Lock> FusedFuture for WaitTimeout<'_, S, L> {
    fn is_terminated(&self) -> bool {
        self.wait.is_terminated()
    }
}

impl<S, L: Lock> fmt::Debug for WaitTimeout<'_, S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitTimeout")
            .field("wait", &self.wait)
            .field("result", &self.wait.timed_result())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Completion::run_until_done`](crate::Completion::run_until_done):
    /// `Some(output)` when the future it runs finished first, `None` when a completion
    /// was taken first. [`WaitOr`] with the result turned around, like tokio-util's
    /// `run_until_cancelled`.
    ///
    /// # Cancel safety
    ///
    /// As [`WaitOr`]: a completion handed to the wait when the future wins is passed on;
    /// dropping it drops the future.
    ///
    /// # Pinning
    ///
    /// `!Unpin`, like [`Wait`]: `.await` pins it; to poll it by hand, pin it.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready`, as [`WaitOr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// # futures::executor::block_on(async {
    /// let stop = Completion::new();
    /// let job = async { "finished" };
    /// assert_eq!(stop.run_until_done(job).await, Some("finished"));
    /// # });
    /// ```
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    #[project(!Unpin)]
    pub struct RunUntilDone<'a, F, L: Lock = DefaultLock> {
        #[pin]
        inner: WaitOr<'a, F, L>,
    }
}

impl<'a, F, L: Lock> RunUntilDone<'a, F, L> {
    pub(crate) fn new(inner: WaitOr<'a, F, L>) -> Self {
        Self { inner }
    }
}

impl<F: Future, L: Lock> Future for RunUntilDone<'_, F, L> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(None),
            Poll::Ready(Err(output)) => Poll::Ready(Some(output)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future, L: Lock> FusedFuture for RunUntilDone<'_, F, L> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<F, L: Lock> fmt::Debug for RunUntilDone<'_, F, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilDone")
            .field("wait", &self.inner.wait)
            .finish_non_exhaustive()
    }
}

/// The inner wait's state (feature `defmt`).
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<F, L: Lock> defmt::Format for WaitOr<'_, F, L> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "WaitOr {{ wait: {}, .. }}", self.wait);
    }
}

/// The inner wait's state and the result once known (feature `defmt`).
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<S, L: Lock> defmt::Format for WaitTimeout<'_, S, L> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "WaitTimeout {{ wait: {}, result: {}, .. }}",
            self.wait,
            self.wait.timed_result()
        );
    }
}

/// The inner wait's state (feature `defmt`).
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<F, L: Lock> defmt::Format for RunUntilDone<'_, F, L> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "RunUntilDone {{ wait: {}, .. }}", self.inner.wait);
    }
}
