//! [`WaitOr`] and [`WaitTimeout`]: a wait raced against another future.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::FusedFuture;
use pin_project_lite::pin_project;

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
    /// is, and allocates nothing beyond what the other future does.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready` (check
    /// [`is_terminated`](FusedFuture::is_terminated) first, as `select!` does).
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
        assert!(
            !this.wait.is_terminated(),
            "`WaitOr` polled after completion"
        );
        if this.wait.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        match this.other.poll(cx) {
            Poll::Ready(output) => {
                this.wait.cancel();
                Poll::Ready(Err(output))
            }
            Poll::Pending => Poll::Pending,
        }
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
    /// It is a [`WaitOr`] whose other future is the sleep, created when `wait_timeout` was
    /// called: the deadline counts from that call, not from the first poll. When the
    /// completion and the deadline arrive together, the completion wins.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a completion handed to a wait that then times out, or is dropped, is
    /// passed on to the next waiter or back to the count.
    ///
    /// # Where it may be polled from
    ///
    /// Any async task whose runtime drives the sleep (see
    /// [`wait_timeout`](crate::Completion::wait_timeout)). It is `Send` when the sleep is.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
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
    pub struct WaitTimeout<'a, S, L: Lock = DefaultLock> {
        #[pin]
        inner: WaitOr<'a, S, L>,
    }
}

impl<'a, S, L: Lock> WaitTimeout<'a, S, L> {
    pub(crate) fn new(wait: Wait<'a, L>, sleep: S) -> Self {
        Self {
            inner: WaitOr::new(wait, sleep),
        }
    }
}

impl<S: Future, L: Lock> Future for WaitTimeout<'_, S, L> {
    type Output = Result<(), TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|result| result.map_err(|_| TimedOut))
    }
}

impl<S: Future, L: Lock> FusedFuture for WaitTimeout<'_, S, L> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<S, L: Lock> fmt::Debug for WaitTimeout<'_, S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitTimeout")
            .field("wait", &self.inner.wait)
            .finish_non_exhaustive()
    }
}
