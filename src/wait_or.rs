//! [`WaitOr`] and [`WaitTimeout`]: a wait raced against another future.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::FusedFuture;
use pin_project_lite::pin_project;

use crate::{TimedOut, Wait};

pin_project! {
    /// Future returned by [`Completion::wait_or`](crate::Completion::wait_or): a
    /// [`Wait`] raced against another future. The kernel's `_interruptible` and
    /// `_killable` waits, with the interruption as any future you like.
    ///
    /// Resolves to `Ok(())` when the wait consumed a completion, or `Err(o)` when the other
    /// future finished first with `o`. The wait is polled first, so when both are ready the
    /// completion wins.
    ///
    /// # Cancellation
    ///
    /// Cancel safe like [`Wait`]. When the other future wins, the wait leaves the queue
    /// before `Err` is returned, and a completion that had already been handed to it is
    /// passed on (to the next waiter, or back to the count): nothing is lost.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready` (check
    /// [`is_terminated`](FusedFuture::is_terminated) first, as `select!` does).
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    pub struct WaitOr<'a, F> {
        #[pin]
        wait: Wait<'a>,
        #[pin]
        other: F,
    }
}

impl<'a, F> WaitOr<'a, F> {
    pub(crate) fn new(wait: Wait<'a>, other: F) -> Self {
        Self { wait, other }
    }
}

impl<F: Future> Future for WaitOr<'_, F> {
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

impl<F: Future> FusedFuture for WaitOr<'_, F> {
    fn is_terminated(&self) -> bool {
        self.wait.is_terminated()
    }
}

impl<F> fmt::Debug for WaitOr<'_, F> {
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
    /// # Cancellation
    ///
    /// Cancel safe: a completion handed to a wait that then times out, or is dropped, is
    /// passed on to the next waiter or back to the count.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    pub struct WaitTimeout<'a, S> {
        #[pin]
        inner: WaitOr<'a, S>,
    }
}

impl<'a, S> WaitTimeout<'a, S> {
    pub(crate) fn new(wait: Wait<'a>, sleep: S) -> Self {
        Self {
            inner: WaitOr::new(wait, sleep),
        }
    }
}

impl<S: Future> Future for WaitTimeout<'_, S> {
    type Output = Result<(), TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|result| result.map_err(|_| TimedOut))
    }
}

impl<S: Future> FusedFuture for WaitTimeout<'_, S> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<S> fmt::Debug for WaitTimeout<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitTimeout")
            .field("wait", &self.inner.wait)
            .finish_non_exhaustive()
    }
}
