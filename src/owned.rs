//! [`OwnedWait`]: a `'static` wait on an `Arc<Completion>` (feature `alloc`).

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::FusedFuture;
use pin_project_lite::pin_project;

use crate::waiters::Waiter;
use crate::{Completion, DefaultLock, Lock};

pin_project! {
    /// Future returned by [`Completion::wait_owned`]: a [`Wait`](crate::Wait) that owns an
    /// `Arc` of its completion, so it is `'static` and can be handed to `spawn`.
    ///
    /// Same semantics and same size as [`Wait`](crate::Wait); it keeps the completion alive
    /// until it is dropped.
    ///
    /// # Cancel safety
    ///
    /// As [`Wait`](crate::Wait): dropping it leaves the queue, and a completion that was
    /// handed to it but not yet returned by a poll is passed on to the next waiter, or
    /// banked. Aborting a spawned `wait_owned()` task therefore loses nothing.
    ///
    /// # Where it may be polled from
    ///
    /// Any async task on any executor. It is `'static`, and `Send + Sync` when its lock is
    /// `Send + Sync` (every lock but embassy's `NoopRawMutex`; a plain `OwnedWait` is), so
    /// it can be spawned on multi-threaded runtimes. Needs the `alloc` feature and a target
    /// with pointer-sized atomics (for `Arc`).
    ///
    /// # Pinning
    ///
    /// `!Unpin`, like [`Wait`](crate::Wait) (its queue node lives inside it): pin it with
    /// [`core::pin::pin!`] or `Box::pin` to poll it by hand; `.await` does that for you.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let c = Arc::new(Completion::new());
    /// let wait = c.clone().wait_owned();
    /// drop(c); // the future keeps the completion alive
    /// wait.completion().complete();
    /// wait.await;
    /// # });
    /// ```
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    #[project(!Unpin)]
    pub struct OwnedWait<L: Lock = DefaultLock> {
        #[pin]
        waiter: Waiter<Arc<Completion<L>>>,
    }
}

impl<L: Lock> Completion<L> {
    /// Like [`wait`](Self::wait), but the future owns an `Arc` of the completion, so it is
    /// `'static` (tokio's `Notify::notified_owned` and `Semaphore::acquire_owned` follow
    /// the same pattern).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait): see [`OwnedWait`].
    ///
    /// # Where it may be called from
    ///
    /// Anywhere; the future is polled by any async task, typically handed to `spawn`.
    /// Creating it only moves the `Arc` in: no allocation, no queueing before its first
    /// poll.
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let c = Arc::new(Completion::new());
    /// let task = tokio::spawn(c.clone().wait_owned());
    /// c.complete();
    /// task.await.unwrap();
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn wait_owned(self: Arc<Self>) -> OwnedWait<L> {
        OwnedWait {
            waiter: Waiter::new(self),
        }
    }
}

impl<L: Lock> OwnedWait<L> {
    /// The completion this future waits on.
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// let c = Arc::new(Completion::new());
    /// let wait = c.clone().wait_owned();
    /// assert!(Arc::ptr_eq(wait.completion(), &c));
    /// ```
    pub fn completion(&self) -> &Arc<Completion<L>> {
        self.waiter.queue_ref()
    }

    /// Queues this wait now, before its first poll: see [`Wait::enable`](crate::Wait::enable),
    /// which this is for the owned wait. Returns `true` if the wait already holds a
    /// completion (its next poll is `Ready`).
    ///
    /// ```
    /// use async_completion::Completion;
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let c = Arc::new(Completion::new());
    /// let mut wait = Box::pin(c.clone().wait_owned());
    /// assert!(!wait.as_mut().enable());
    /// c.complete(); // handed to the enabled wait: nobody else can take it
    /// assert!(!c.try_wait());
    /// wait.await;
    /// # });
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().enable(waiter)
    }
}

impl<L: Lock> Future for OwnedWait<L> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().poll_wait(waiter, cx.waker())
    }
}

impl<L: Lock> FusedFuture for OwnedWait<L> {
    fn is_terminated(&self) -> bool {
        self.waiter.is_finished()
    }
}

impl<L: Lock> fmt::Debug for OwnedWait<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWait")
            .field("state", &self.waiter.status_name())
            .finish()
    }
}

/// The wait's state, as `Debug` shows it (feature `defmt`).
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<L: Lock> defmt::Format for OwnedWait<L> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "OwnedWait {{ state: {=str} }}",
            self.waiter.status_name()
        );
    }
}
