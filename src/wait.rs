//! The [`Wait`] future returned by [`Completion::wait`](crate::Completion::wait).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use futures_core::FusedFuture;
use pin_project_lite::pin_project;

use crate::waiters::{Queue, Waiter, DONE, LOST};
use crate::{DefaultLock, Lock};

pin_project! {
    /// Future returned by [`Completion::wait`](crate::Completion::wait): resolves once it
    /// has consumed one completion, or once the completion is completed for all.
    ///
    /// Creating it queues nothing and receives nothing: its first poll (or
    /// [`enable`](Self::enable)) is `Ready` at once if a completion is banked (consuming
    /// one) or `complete_all` was called (and no `reinit` since); otherwise it joins the
    /// tail of the FIFO queue. From then on a release
    /// ([`complete_waiters`](crate::Completion::complete_waiters) or
    /// [`complete_all`](crate::Completion::complete_all)) reaches it. A completion posted while it
    /// is queued is handed to it directly: nobody can take it in between.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, with nothing lost and nothing duplicated. Dropping a `Wait` that is
    /// queued removes it from the queue. Dropping one that was handed a completion but has
    /// not returned `Ready` passes that completion on, exactly like a fresh
    /// [`complete`](crate::Completion::complete): to the next queued waiter, or back to the
    /// count. Once it returned `Ready`, polling it again returns `Ready` and consumes
    /// nothing ([`FusedFuture::is_terminated`] is then `true`).
    ///
    /// # Pinning
    ///
    /// `Wait` is `!Unpin`: its queue node lives inside it, so it must not move once polled.
    /// `.await` pins it for you; to poll it by hand (or to keep its place in a `select!`
    /// loop), pin it with [`core::pin::pin!`] or `Box::pin`. (rustdoc does not list the
    /// `!Unpin` impl, which `pin-project-lite` hides.) Polling it unpinned does not compile,
    /// and the error names only public types: "`PhantomPinned` cannot be unpinned ...
    /// required for `Wait<'_>` to implement `Unpin`".
    ///
    /// ```compile_fail,E0277
    /// use async_completion::Completion;
    ///
    /// fn needs_unpin<T: Unpin>(_: &T) {}
    /// let c = Completion::new();
    /// needs_unpin(&c.wait()); // error[E0277]: `PhantomPinned` cannot be unpinned
    /// ```
    ///
    /// # Where it may be polled from
    ///
    /// Any async task on any executor; it needs nothing from the runtime. It is
    /// `Send + Sync` when its lock is `Send + Sync` (every lock but embassy's
    /// `NoopRawMutex`; a plain `Wait` is), so a task holding it can move between threads.
    /// It borrows the
    /// [`Completion`](crate::Completion); to spawn a waiter as a `'static` task use
    /// [`wait_owned`](crate::Completion::wait_owned). It allocates nothing: its queue node
    /// is inside it (48 bytes on x86-64).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// # futures::executor::block_on(async {
    /// let done = Completion::new();
    /// done.complete();
    /// done.wait().await; // a completion was banked: ready at once
    /// assert!(!done.try_wait());
    /// # });
    /// ```
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    #[project(!Unpin)]
    pub struct Wait<'a, L: Lock = DefaultLock> {
        #[pin]
        waiter: Waiter<&'a Queue<L>>,
    }
}

impl<'a, L: Lock> Wait<'a, L> {
    pub(crate) fn new(queue: &'a Queue<L>) -> Self {
        Self {
            waiter: Waiter::new(queue),
        }
    }

    /// Queues this wait now, without waiting for its first poll: from this moment it
    /// keeps its place in the FIFO queue, is handed completions and is released by
    /// [`complete_all`](crate::Completion::complete_all) and
    /// [`complete_waiters`](crate::Completion::complete_waiters) like a polled wait.
    /// Returns `true` if it holds a completion already (one was banked and it took it, or
    /// `complete_all` happened, or it was released or handed one since it was enabled):
    /// then its next poll is `Ready`. Calling it again is harmless; on a wait
    /// that was polled it changes nothing.
    ///
    /// This is `tokio::sync::Notify`'s `Notified::enable`: register interest first, then
    /// do what may cause the completion (enable an interrupt, send a request, check a
    /// condition), then `.await`; nothing that happens in between is missed. In particular,
    /// against a notifier that writes a flag (`Release`) and then calls
    /// [`complete`](crate::Completion::complete), `complete_n`,
    /// [`complete_all`](crate::Completion::complete_all) or
    /// [`complete_waiters`](crate::Completion::complete_waiters): a waiter that enables and
    /// then reads the flag (`Acquire`) either sees it set, or the notifier's call reaches
    /// the wait. (A `complete_waiters` pulse reaches only waits that are queued, by a first
    /// poll or by `enable`: enable a wait before doing what may send the pulse, as with
    /// tokio's `notify_waiters`.) An enabled wait has no waker until its
    /// first poll, so a completion handed to it before then wakes nobody: the poll finds
    /// it.
    ///
    /// # Cancel safety
    ///
    /// As for a polled wait: dropping an enabled wait leaves the queue, and passes on a
    /// completion that was handed to it.
    ///
    /// # Where it may be called from
    ///
    /// Any async task or thread holding the pinned wait; it takes the lock briefly (never
    /// from an interrupt handler unless the completion's lock allows it).
    ///
    /// # Examples
    ///
    /// ```
    /// use async_completion::Completion;
    /// use core::pin::pin;
    /// use std::sync::atomic::{AtomicBool, Ordering::{Acquire, Release}};
    ///
    /// static READY: AtomicBool = AtomicBool::new(false);
    /// static CHANGED: Completion = Completion::new();
    ///
    /// fn notifier() {
    ///     READY.store(true, Release);
    ///     CHANGED.complete(); // reaches a waiter that enabled before it looked
    /// }
    ///
    /// # futures::executor::block_on(async {
    /// let mut wait = pin!(CHANGED.wait());
    /// // Register first, then check, then await: nothing in between is missed.
    /// if !wait.as_mut().enable() && !READY.load(Acquire) {
    ///     # notifier();
    ///     wait.await; // the notifier's complete() is handed to this wait
    /// }
    /// # });
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().enable(waiter)
    }

    /// Whether the next poll would be `Ready`: a completion was handed to this wait, it
    /// was released by `complete_all`, or it already returned `Ready`. One load, no lock;
    /// only meaningful after a first poll (an unpolled wait is never resolved).
    #[cfg(feature = "std")]
    pub(crate) fn is_resolved(&self) -> bool {
        use crate::waiters::{HANDED, RELEASED};
        matches!(self.waiter.status(), HANDED | RELEASED | DONE | LOST)
    }

    /// Polls the wait.
    #[inline(always)]
    pub(crate) fn poll_wait(self: Pin<&mut Self>, waker: &Waker) -> Poll<()> {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().poll_wait(waiter, waker)
    }

    /// Queues a wait never polled (or takes a completion that arrived since
    /// [`poll_race`](Self::poll_race) found none): the rest of a first poll.
    #[inline]
    pub(crate) fn poll_queue(self: Pin<&mut Self>, waker: &Waker) -> Poll<()> {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().poll_slow(waiter, waker)
    }

    /// The wait's status now (`Acquire`): a race reads it once per poll, and passes it to
    /// [`poll_race`](Self::poll_race), [`outcome`](Self::outcome) and `IDLE` checks.
    #[inline]
    pub(crate) fn status(&self) -> u8 {
        self.waiter.status()
    }

    /// A race's look at the wait, before its other future is polled, given the
    /// [`status`](Self::status) the caller just read: `true` once the wait is finished (it
    /// consumed a completion or saw `ALL`). A wait never polled takes a completion
    /// lock-free or changes nothing (it stays `IDLE`, for [`poll_queue`](Self::poll_queue)
    /// after the other future); a queued one is re-polled.
    #[inline]
    pub(crate) fn poll_race(self: Pin<&mut Self>, status: u8, waker: &Waker) -> bool {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().poll_race(waiter, status, waker)
    }

    /// A timed wait's result once it is finished: `Err(TimedOut)` if it gave up and got
    /// nothing, `Ok(())` if it finished otherwise; `None` while not finished.
    #[inline]
    pub(crate) fn timed_result(&self) -> Option<Result<(), crate::TimedOut>> {
        Self::outcome(self.status())
    }

    /// [`timed_result`](Self::timed_result) for a [`status`](Self::status) already read.
    #[inline]
    pub(crate) fn outcome(status: u8) -> Option<Result<(), crate::TimedOut>> {
        match status {
            LOST => Some(Err(crate::TimedOut)),
            DONE => Some(Ok(())),
            _ => None,
        }
    }

    /// Leaves the queue now, passing on a completion handed to this wait; afterwards the
    /// future is terminated and holds nothing. Used when another future won a race.
    pub(crate) fn cancel(self: Pin<&mut Self>) {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().cancel(waiter, false);
    }

    /// The timer of a timed wait fired: leaves the queue and returns whether the wait got
    /// a completion after all (SPEC §3 ties), which it then has consumed. Terminated after,
    /// with the outcome recorded ([`timed_result`](Self::timed_result)).
    pub(crate) fn give_up(self: Pin<&mut Self>) -> bool {
        let waiter = self.project().waiter.into_ref();
        waiter.queue().give_up(waiter)
    }
}

impl<L: Lock> Future for Wait<'_, L> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_wait(cx.waker())
    }
}

impl<L: Lock> FusedFuture for Wait<'_, L> {
    /// `true` once this future returned `Ready` (or was cancelled by a combinator).
    fn is_terminated(&self) -> bool {
        self.waiter.is_finished()
    }
}

impl<L: Lock> fmt::Debug for Wait<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("state", &self.waiter.status_name())
            .finish()
    }
}

/// The wait's state, as `Debug` shows it (feature `defmt`).
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<L: Lock> defmt::Format for Wait<'_, L> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Wait {{ state: {=str} }}", self.waiter.status_name());
    }
}
