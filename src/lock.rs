//! The lock that guards a `Completion`'s waiter queue, and the [`Lock`] type parameter
//! that chooses it.
//!
//! `Completion` (with no type argument) uses [`DefaultLock`], chosen by feature:
//!
//! | features                  | `DefaultLock`             | `complete()` from an interrupt handler |
//! |---------------------------|---------------------------|----------------------------------------|
//! | `critical-section` (wins) | [`CriticalSectionLock`]   | yes                                    |
//! | `std`                     | [`StdLock`]               | no (it may block)                      |
//! | neither                   | [`SpinLock`]              | no (it may deadlock against the code it interrupted) |
//!
//! `Completion<L>` picks a lock per instance instead; with the `embassy-sync` feature every
//! embassy `RawMutex` is a [`Lock`] too.
//!
//! Every hold of the lock is bounded: at most one batch (32 waiters) of list work, never
//! a call into user code (wakers are taken out and run after unlocking), and never a
//! nested lock of the same queue.

/// A lock type for [`Completion<L>`](crate::Completion): what guards its waiter queue.
///
/// The lock is only taken to touch the queue (a waiter joins, leaves, or is handed a
/// completion); banked completions, `try_wait` and `is_done` never take it. Each hold
/// is short and bounded, and no user code (no waker) runs while it is held.
///
/// Implemented by [`StdLock`], [`CriticalSectionLock`], [`SpinLock`] and, with the
/// `embassy-sync` feature, every [`embassy_sync` `RawMutex`][raw] (such as
/// `CriticalSectionRawMutex`, `ThreadModeRawMutex` or `NoopRawMutex`), whose `unsafe`
/// contract guarantees the mutual exclusion the queue relies on. The trait is sealed: the
/// waiter queue's soundness depends on it, so it cannot be implemented elsewhere.
///
/// A `Completion<L>` is `Send` when `L` is, and `Sync` when `L` is `Send + Sync`: with
/// embassy's `NoopRawMutex` it stays on one executor, as the lock demands.
///
/// [raw]: https://docs.rs/embassy-sync/latest/embassy_sync/blocking_mutex/raw/trait.RawMutex.html
///
/// # Examples
///
/// ```
/// use async_completion::{Completion, SpinLock};
///
/// // The spinlock regardless of features, e.g. for a completion only ever completed from
/// // async tasks on a target without an OS.
/// static DONE: Completion<SpinLock> = Completion::with_lock();
/// DONE.complete();
/// assert!(DONE.try_wait());
/// ```
pub trait Lock: sealed::RawLock {}

// Every lock of the sealed set is a `Lock`.
impl<T: sealed::RawLock> Lock for T {}

pub(crate) mod sealed {
    /// What the waiter queue needs from its lock. Private: implementations must provide
    /// mutual exclusion between every context that can reach the same queue (the list's
    /// invariant I1 depends on it).
    pub trait RawLock: Sized {
        /// An unlocked lock.
        #[cfg(not(loom))]
        const INIT: Self;

        /// An unlocked lock (loom's mutex cannot be built in a `const`).
        #[cfg(loom)]
        fn init() -> Self;

        /// Runs `f` with the lock held. `f` never takes the same lock again.
        fn with<R>(&self, f: impl FnOnce() -> R) -> R;
    }
}

/// An unlocked `L`, in a `const` context where loom allows it.
#[cfg(not(loom))]
macro_rules! lock_init {
    ($l:ty) => {
        <$l as $crate::lock::sealed::RawLock>::INIT
    };
}
#[cfg(loom)]
macro_rules! lock_init {
    ($l:ty) => {
        <$l as $crate::lock::sealed::RawLock>::init()
    };
}
pub(crate) use lock_init;

/// The lock [`Completion`](crate::Completion) uses when no lock type is named; chosen by
/// feature (`critical-section`, else `std`, else the spinlock). See [`Lock`].
#[cfg(all(not(loom), feature = "critical-section"))]
pub type DefaultLock = CriticalSectionLock;
/// The lock [`Completion`](crate::Completion) uses when no lock type is named; chosen by
/// feature (`critical-section`, else `std`, else the spinlock). See [`Lock`].
#[cfg(all(not(loom), not(feature = "critical-section"), feature = "std"))]
pub type DefaultLock = StdLock;
/// The lock [`Completion`](crate::Completion) uses when no lock type is named; chosen by
/// feature (`critical-section`, else `std`, else the spinlock). See [`Lock`].
#[cfg(all(not(loom), not(feature = "critical-section"), not(feature = "std")))]
pub type DefaultLock = SpinLock;
/// Under `--cfg loom`, the default lock is loom's mutex, so loom sees every lock hold.
#[cfg(loom)]
pub type DefaultLock = LoomLock;

/// A [`Lock`] built on [`std::sync::Mutex`] (feature `std`): threads that find it held
/// sleep in the kernel instead of spinning. Not for interrupt handlers.
///
/// Poisoning is ignored: nothing that can panic runs under the lock.
///
/// ```
/// use async_completion::{Completion, StdLock};
/// let c: Completion<StdLock> = Completion::with_lock();
/// c.complete();
/// assert!(c.try_wait());
/// ```
#[cfg(all(not(loom), feature = "std"))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug)]
pub struct StdLock(std::sync::Mutex<()>);

#[cfg(all(not(loom), feature = "std"))]
impl sealed::RawLock for StdLock {
    const INIT: Self = Self(std::sync::Mutex::new(()));

    #[inline]
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}

/// A [`Lock`] that is a [`critical_section::with`] (feature `critical-section`): on a
/// single-core microcontroller it masks interrupts for the few instructions the queue
/// needs, so `complete()` may be called from an interrupt handler. Zero-sized.
///
/// ```
/// use async_completion::{Completion, CriticalSectionLock};
/// static IRQ_DONE: Completion<CriticalSectionLock> = Completion::with_lock();
/// IRQ_DONE.complete(); // e.g. from an interrupt handler
/// assert!(IRQ_DONE.try_wait());
/// ```
#[cfg(all(not(loom), feature = "critical-section"))]
#[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
#[derive(Debug)]
pub struct CriticalSectionLock(());

#[cfg(all(not(loom), feature = "critical-section"))]
impl sealed::RawLock for CriticalSectionLock {
    const INIT: Self = Self(());

    #[inline]
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        critical_section::with(|_| f())
    }
}

/// A test-and-test-and-set spinlock [`Lock`], available with any features: for targets
/// without an OS when `complete()` is never called from an interrupt handler (an
/// interrupt that spins on a lock held by the code it interrupted never returns).
///
/// ```
/// use async_completion::{Completion, SpinLock};
/// let c: Completion<SpinLock> = Completion::with_lock();
/// c.complete();
/// assert!(c.try_wait());
/// ```
#[cfg(not(loom))]
#[derive(Debug)]
pub struct SpinLock(crate::loom::AtomicBool);

#[cfg(not(loom))]
impl sealed::RawLock for SpinLock {
    const INIT: Self = Self(crate::loom::AtomicBool::new(false));

    #[inline]
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        use crate::loom::Ordering::{Acquire, Relaxed, Release};

        /// Releases the lock on drop (also when unwinding).
        struct Unlock<'a>(&'a crate::loom::AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Release);
            }
        }

        while self
            .0
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            while self.0.load(Relaxed) {
                core::hint::spin_loop();
            }
        }
        let _unlock = Unlock(&self.0);
        f()
    }
}

/// Every embassy `RawMutex` is a [`Lock`] (feature `embassy-sync`).
#[cfg(feature = "embassy-sync")]
impl<M: embassy_sync::blocking_mutex::raw::RawMutex> sealed::RawLock for M {
    #[cfg(not(loom))]
    const INIT: Self = M::INIT;

    #[cfg(loom)]
    fn init() -> Self {
        M::INIT
    }

    #[inline]
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        self.lock(f)
    }
}

/// loom's mutex, so loom explores every lock hold (only under `--cfg loom`).
#[cfg(loom)]
#[doc(hidden)]
#[derive(Debug)]
pub struct LoomLock(loom::sync::Mutex<()>);

#[cfg(loom)]
impl sealed::RawLock for LoomLock {
    fn init() -> Self {
        Self(loom::sync::Mutex::new(()))
    }

    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}
