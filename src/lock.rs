//! The per-`Completion` lock that guards the waiter queue.
//!
//! Which lock is used is chosen by feature, in this order:
//!
//! | feature            | lock                                   | `complete()` from an interrupt handler |
//! |--------------------|----------------------------------------|----------------------------------------|
//! | `critical-section` | [`critical_section::with`]             | yes                                    |
//! | `std`              | `std::sync::Mutex<()>` (futex, parks)  | no (it may block)                      |
//! | neither            | a test-and-test-and-set spinlock       | no (it may deadlock against the thread it interrupted) |
//!
//! Every hold of the lock is bounded: at most one batch (32 waiters) of list work,
//! and never a call into user code (wakers are taken out and run after unlocking).

use crate::loom::loom_const_fn;

/// A mutual-exclusion lock with a closure API.
#[derive(Debug)]
pub(crate) struct RawLock {
    #[cfg(loom)]
    inner: loom::sync::Mutex<()>,
    #[cfg(all(not(loom), not(feature = "critical-section"), feature = "std"))]
    inner: std::sync::Mutex<()>,
    #[cfg(all(not(loom), not(feature = "critical-section"), not(feature = "std")))]
    locked: crate::loom::AtomicBool,
}

impl RawLock {
    loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                #[cfg(loom)]
                inner: loom::sync::Mutex::new(()),
                #[cfg(all(not(loom), not(feature = "critical-section"), feature = "std"))]
                inner: std::sync::Mutex::new(()),
                #[cfg(all(not(loom), not(feature = "critical-section"), not(feature = "std")))]
                locked: crate::loom::AtomicBool::new(false),
            }
        }
    }

    /// Runs `f` with the lock held.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(loom)]
        {
            let _guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            f()
        }
        #[cfg(all(not(loom), feature = "critical-section"))]
        {
            critical_section::with(|_| f())
        }
        #[cfg(all(not(loom), not(feature = "critical-section"), feature = "std"))]
        {
            // Nothing that can panic runs under the lock, but a poisoned lock must never
            // turn into a panic or a deadlock later: ignore poisoning.
            let _guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            f()
        }
        #[cfg(all(not(loom), not(feature = "critical-section"), not(feature = "std")))]
        {
            let _guard = spin::SpinGuard::acquire(&self.locked);
            f()
        }
    }
}

#[cfg(all(not(loom), not(feature = "critical-section"), not(feature = "std")))]
mod spin {
    use crate::loom::{AtomicBool, Ordering};

    /// Holds the spinlock; releases it on drop (also when unwinding).
    pub(super) struct SpinGuard<'a>(&'a AtomicBool);

    impl<'a> SpinGuard<'a> {
        pub(super) fn acquire(locked: &'a AtomicBool) -> Self {
            loop {
                if locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Self(locked);
                }
                while locked.load(Ordering::Relaxed) {
                    core::hint::spin_loop();
                }
            }
        }
    }

    impl Drop for SpinGuard<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
}
