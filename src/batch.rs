//! A fixed-size batch of wakers, collected under the lock and woken after it.
//!
//! A waker may panic when woken. The batch wakes the rest all the same: [`WakeBatch`]
//! wakes whatever it still holds when it is dropped, so a panic in one `wake()` unwinds
//! through the batch's `Drop`, which wakes the others before the panic reaches the caller.
//! (A second waker panicking during that unwind aborts the process, which is sound.)

use core::task::Waker;

/// How many waiters one lock hold serves at most (`complete_all`, `complete_n`,
/// `complete_waiters`): 32 on 64-bit targets; 8 on smaller ones (microcontrollers), where
/// the batch lives on an interrupt handler's stack and each lock hold may be a critical
/// section that delays every interrupt.
pub(crate) const BATCH: usize = if cfg!(loom) {
    2
} else if cfg!(target_pointer_width = "64") {
    32
} else {
    8
};

/// Up to [`BATCH`] wakers, woken together once the lock is released.
///
/// A slot may hold `None`: a waiter enabled (`Wait::enable`) but never polled has no
/// waker, and is served all the same.
pub(crate) struct WakeBatch {
    wakers: [Option<Waker>; BATCH],
    /// How many slots are filled.
    len: usize,
    /// The next slot to wake: the slots before it were taken out and woken.
    next: usize,
}

impl WakeBatch {
    pub(crate) const fn new() -> Self {
        Self {
            wakers: [const { None }; BATCH],
            len: 0,
            next: 0,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Adds a waker; the caller checks [`is_full`](Self::is_full) first, and has woken the
    /// previous contents ([`wake_all`](Self::wake_all)).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        self.wakers[self.len] = waker;
        self.len += 1;
    }

    /// Wakes every waker in the batch, oldest first, and empties it.
    ///
    /// Each waker is taken out of its slot before it is woken: if one panics, the others
    /// stay in the batch, and its `Drop` (run by the unwinding) wakes them.
    pub(crate) fn wake_all(&mut self) {
        while self.next < self.len {
            let waker = self.wakers[self.next].take();
            self.next += 1;
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        self.len = 0;
        self.next = 0;
    }
}

impl Drop for WakeBatch {
    /// Wakes what is left: only reached with wakers inside when one of them panicked.
    fn drop(&mut self) {
        self.wake_all();
    }
}
