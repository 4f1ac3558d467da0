//! The lock that guards a `Completion`'s waiter queue, and the [`Lock`] type parameter
//! that chooses it.
//!
//! A plain `Completion` (no type argument) uses [`DefaultLock`]: a `std` mutex with the
//! `std` feature, a spinlock without it. No other feature changes it, and turning `std`
//! on changes what is inside `DefaultLock`, never its type: features stay additive.
//!
//! Interrupt handlers need a lock that masks interrupts, so firmware names it, once, in
//! the declaration of the `static`:
//!
//! | lock                          | feature            | `complete()` from an interrupt handler |
//! |-------------------------------|--------------------|----------------------------------------|
//! | [`CriticalSectionLock`]       | `critical-section` | yes                                    |
//! | embassy `CriticalSectionRawMutex` | `embassy-sync` | yes                                    |
//! | [`DefaultLock`] = [`StdLock`] | `std` (default)    | no (it may block)                      |
//! | [`DefaultLock`] without `std`, [`SpinLock`] | —    | no (it may deadlock against the code it interrupted) |
//!
//! Every hold of the lock is bounded: at most one batch (32 waiters; 8 on 32-bit targets) of list work, never
//! a call into user code (wakers are taken out and run after unlocking), and never a
//! nested lock of the same queue.

/// A lock type for [`Completion<L>`](crate::Completion): what guards its waiter queue.
///
/// The lock is only taken to touch the queue (a waiter joins, leaves, or is handed a
/// completion); banked completions, `try_wait` and `is_done` never take it. Each hold
/// is short and bounded, and no user code (no waker) runs while it is held.
///
/// Implemented by [`DefaultLock`] (which is [`StdLock`] with the `std` feature),
/// [`CriticalSectionLock`], [`SpinLock`] and, with the `embassy-sync` feature, every
/// [`embassy_sync` `RawMutex`][raw] (such as `CriticalSectionRawMutex`,
/// `ThreadModeRawMutex` or `NoopRawMutex`), whose `unsafe` contract guarantees the mutual
/// exclusion the queue relies on. The trait is sealed: the waiter queue's soundness
/// depends on it, so it cannot be implemented elsewhere. (The "Implementors" section
/// below shows one blanket impl over the sealed trait, `RawLock`: the types this
/// paragraph names are all of them.)
///
/// A `Completion<L>` is `Send` when `L` is, and `Sync` when `L` is `Send + Sync`: with
/// embassy's `NoopRawMutex` it stays on one executor, as the lock demands.
///
/// # A lock that panics
///
/// An embassy `RawMutex` may panic when it is locked (`ThreadModeRawMutex` does, outside
/// thread mode), and its contract does not forbid a panic *after* it ran the critical
/// section either (a release-side assertion). The completion stays sound and usable in
/// both cases, and every completion is still consumed exactly once or banked:
///
/// - **Before its closure**: the operation that needed the lock panics without having
///   changed anything (a `complete()` posts nothing; a poll does not queue).
/// - **After its closure**: what the critical section did stands, and the unwinding acts on
///   it before the panic propagates: a `complete()` or `complete_n()` that handed
///   completions wakes those waiters; a poll that took a completion leaves its wait
///   holding it (its next poll is `Ready`; dropping it passes it on); a wait that passed
///   on a completion it was handed is finished, so the completion is passed on once.
///
/// One place cannot unwind: the `Drop` of a wait future that is queued (its node must be
/// unlinked, under the lock, before its memory goes) or that must pass on a completion
/// handed to it, and `complete_all`/`complete_waiters` releasing waiters from a list on
/// their own stack. If the lock panics there, the process **aborts**, with a message that
/// names the operation ("the lock panicked while a queued wait was being dropped", "...
/// while a dropped wait was passing on its completion", "... while complete_waiters() was
/// releasing waiters"), rather than free a node that is still linked.
///
/// # Which lock
///
/// | situation | lock |
/// |---|---|
/// | `complete()` from an interrupt handler (single-core microcontroller) | [`CriticalSectionLock`] or embassy `CriticalSectionRawMutex` |
/// | multi-core microcontroller (RP2040, ESP32), with or without interrupts | [`CriticalSectionLock`] with the HAL's multi-core `critical-section` implementation |
/// | threads and async tasks on an OS | [`DefaultLock`] (leave `L` out) |
/// | tasks only, no OS, no interrupt ever completes it | [`SpinLock`], or embassy `NoopRawMutex` on one executor |
///
/// [raw]: https://docs.rs/embassy-sync/latest/embassy_sync/blocking_mutex/raw/trait.RawMutex.html
///
/// # Examples
///
/// Firmware names its lock once, in the `static` (feature `critical-section`):
///
/// ```
/// # #[cfg(feature = "critical-section")] {
/// use async_completion::{Completion, CriticalSectionLock};
///
/// static DMA_DONE: Completion<CriticalSectionLock> = Completion::with_lock();
///
/// fn dma_irq_handler() {
///     DMA_DONE.complete(); // interrupt-safe: the lock masks interrupts
/// }
/// # dma_irq_handler();
/// # assert!(DMA_DONE.try_wait());
/// # }
/// ```
///
/// A spinlock regardless of features, e.g. for a completion only ever completed from
/// async tasks on a target without an OS:
///
/// ```
/// use async_completion::{Completion, SpinLock};
///
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

/// The lock of a plain [`Completion`](crate::Completion), the one
/// [`Completion::new`](crate::Completion::new) and `Completion::default()` use.
///
/// With the `std` feature (the default) it is a [`std::sync::Mutex`]: threads that find it
/// held sleep in the kernel instead of spinning, and [`StdLock`] is another name for it.
/// Without `std` it is a spinlock, like [`SpinLock`]. No other feature changes it (in
/// particular not `critical-section`), and turning `std` on changes what is inside, never
/// the type: code that compiled without a feature compiles, unchanged, with it.
///
/// It is not for interrupt handlers: a handler that finds the lock held by the code it
/// interrupted would block or spin forever. Name an interrupt-safe lock instead,
/// [`CriticalSectionLock`] or an embassy `CriticalSectionRawMutex` (see [`Lock`]). Without
/// `std`, debug builds catch the mistake: a spin that cannot end (2^26 turns of the spin
/// loop, far beyond any hold of the lock) panics with a message that names
/// `CriticalSectionLock`, instead of hanging the chip; release builds spin.
///
/// Poisoning of the std mutex is ignored: nothing that can panic runs under the lock.
///
/// ```
/// use async_completion::{Completion, DefaultLock};
///
/// let c: Completion<DefaultLock> = Completion::new(); // the same as `Completion`
/// c.complete();
/// assert!(c.try_wait());
/// ```
#[cfg(not(loom))]
#[derive(Debug)]
pub struct DefaultLock(DefaultInner);

#[cfg(all(not(loom), feature = "std"))]
type DefaultInner = std::sync::Mutex<()>;
#[cfg(all(not(loom), not(feature = "std")))]
type DefaultInner = SpinLock;

#[cfg(all(not(loom), feature = "std"))]
impl sealed::RawLock for DefaultLock {
    const INIT: Self = Self(std::sync::Mutex::new(()));

    #[inline]
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}

#[cfg(all(not(loom), not(feature = "std")))]
impl sealed::RawLock for DefaultLock {
    const INIT: Self = Self(SpinLock::INIT);

    #[inline]
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.with(f)
    }
}

/// Under `--cfg loom`, the default lock is loom's mutex, so loom sees every lock hold.
#[cfg(loom)]
pub type DefaultLock = LoomLock;

/// The [`DefaultLock`] with the `std` feature: a [`std::sync::Mutex`]. Threads that find
/// it held sleep in the kernel instead of spinning. Not for interrupt handlers.
///
/// It is the lock of a plain `Completion` whenever `std` is on, whatever other features
/// are, so `Completion` and `Completion<StdLock>` are the same type.
///
/// ```
/// use async_completion::{Completion, StdLock};
/// let c: Completion<StdLock> = Completion::new();
/// c.complete();
/// assert!(c.try_wait());
/// ```
#[cfg(all(not(loom), feature = "std"))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub type StdLock = DefaultLock;

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

        #[cfg(debug_assertions)]
        let mut spins: u32 = 0;
        while self
            .0
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            while self.0.load(Relaxed) {
                #[cfg(debug_assertions)]
                {
                    spins += 1;
                    if spins == SPIN_LIMIT {
                        spun_too_long();
                    }
                }
                core::hint::spin_loop();
            }
        }
        let _unlock = Unlock(&self.0);
        f()
    }
}

/// How long a debug build lets [`SpinLock`] spin before it calls the wait hopeless. Every
/// hold of the lock is a few dozen instructions, so even a holder preempted by an OS is
/// back long before this (at least a few hundred milliseconds of spinning).
#[cfg(all(not(loom), debug_assertions))]
const SPIN_LIMIT: u32 = if cfg!(test) { 1 << 16 } else { 1 << 26 };

/// A spin that cannot end: on one core, an interrupt handler spinning on the lock held by
/// the code it interrupted never returns. Debug builds say so instead of hanging.
#[cfg(all(not(loom), debug_assertions))]
#[cold]
#[inline(never)]
fn spun_too_long() -> ! {
    panic!(
        "async-completion: the spin lock (`SpinLock`, or the `DefaultLock` without `std`) \
         has spun {} times: its holder is not running. An interrupt handler that calls \
         `complete()` while the code it interrupted holds the lock spins forever: give \
         such a completion an interrupt-safe lock, `Completion<CriticalSectionLock>` \
         (feature `critical-section`) or an embassy `CriticalSectionRawMutex`",
        SPIN_LIMIT
    )
}

#[cfg(all(test, not(loom), debug_assertions))]
mod tests {
    use super::sealed::RawLock;
    use super::SpinLock;

    #[test]
    #[cfg_attr(miri, ignore)] // 2^16 spins
    fn a_spin_that_cannot_end_panics_in_debug_builds_naming_the_interrupt_safe_lock() {
        let lock = SpinLock::INIT;
        // The same context taking the lock again stands for an interrupt handler that
        // interrupted the holder: the holder cannot run until the spinner gives up.
        let panic = std::panic::catch_unwind(|| lock.with(|| lock.with(|| ())))
            .expect_err("the nested acquisition gives up");
        let message = panic
            .downcast_ref::<std::string::String>()
            .expect("a formatted message");
        assert!(message.contains("CriticalSectionLock"), "{message}");
        assert!(message.contains("its holder is not running"), "{message}");
        // The outer hold was released by the unwinding: the lock still works.
        assert_eq!(lock.with(|| 7), 7);
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
