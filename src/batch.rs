//! A fixed-size batch of wakers, collected under the lock and woken after it.

use core::task::Waker;

use crate::waiters::BATCH;

/// Up to [`BATCH`] wakers, woken together once the lock is released.
pub(crate) struct WakeBatch {
    wakers: [Option<Waker>; BATCH],
    len: usize,
}

impl WakeBatch {
    pub(crate) const fn new() -> Self {
        // A named constant rather than an inline `const { None }` block: the crate's MSRV
        // (1.70) predates inline const.
        const EMPTY: Option<Waker> = None;
        Self {
            wakers: [EMPTY; BATCH],
            len: 0,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Adds a waker; the caller checks [`is_full`](Self::is_full) first.
    pub(crate) fn push(&mut self, waker: Waker) {
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes every waker in the batch, oldest first, and empties it. If a waker panics, the
    /// ones after it are dropped without being woken.
    pub(crate) fn wake_all(&mut self) {
        let len = core::mem::take(&mut self.len);
        for slot in &mut self.wakers[..len] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
    }

    /// Drops every waker in the batch without waking it.
    pub(crate) fn clear(&mut self) {
        let len = core::mem::take(&mut self.len);
        self.wakers[..len].iter_mut().for_each(|slot| *slot = None);
    }
}
