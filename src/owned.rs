//! [`OwnedWait`]: a `'static` wait on an `Arc<Completion>` (feature `alloc`).

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::FusedFuture;
use pin_project_lite::pin_project;

use crate::waiters::{Waiter, DONE};
use crate::Completion;

pin_project! {
    /// Future returned by [`Completion::wait_owned`]: a [`Wait`](crate::Wait) that owns an
    /// `Arc` of its completion, so it is `'static` and can be handed to `spawn`.
    ///
    /// Same semantics, same cancel safety and same size as [`Wait`](crate::Wait).
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub struct OwnedWait {
        #[pin]
        waiter: Waiter<Arc<Completion>>,
    }
}

impl Completion {
    /// Like [`wait`](Self::wait), but the future owns an `Arc` of the completion, so it is
    /// `'static` (tokio's `Notify::notified_owned` and `Semaphore::acquire_owned` follow
    /// the same pattern).
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
    pub fn wait_owned(self: Arc<Self>) -> OwnedWait {
        OwnedWait {
            waiter: Waiter::new(self),
        }
    }
}

impl OwnedWait {
    /// The completion this future waits on.
    pub fn completion(&self) -> &Arc<Completion> {
        self.waiter.queue_ref()
    }
}

impl Future for OwnedWait {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().poll_wait(waiter, cx.waker())
    }
}

impl FusedFuture for OwnedWait {
    fn is_terminated(&self) -> bool {
        self.waiter.status() == DONE
    }
}

impl fmt::Debug for OwnedWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWait")
            .field("state", &self.waiter.status_name())
            .finish()
    }
}
