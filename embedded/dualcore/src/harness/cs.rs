//! The multi-core critical section, as a multi-core HAL provides one (the RP2040's masks
//! the core's interrupts and takes hardware spinlock 31): `critical_section::acquire`
//! masks **this core's** interrupts (PRIMASK) **and** takes a spin lock shared by both
//! cores, so that a critical section excludes the interrupt handlers of its own core and
//! everything on the other core. `CriticalSectionLock` and embassy's
//! `CriticalSectionRawMutex` run on it.
//!
//! Nesting: the lock records which core holds it. An acquire on the core that already
//! holds it (a nested `critical_section::with`) takes nothing and must not release it;
//! only the outermost release frees the lock, and each release puts PRIMASK back as its
//! acquire found it. Both facts travel in the `RawRestoreState` (a `u8`, feature
//! `restore-state-u8`): [`IRQS_WERE_ENABLED`] and [`TOOK_LOCK`]. Interrupts are masked
//! before the lock is tried, so an interrupt handler of the holding core never spins on
//! its own core's lock (it cannot run while the lock is held there).
//!
//! Contention is counted for the evidence that the cores overlapped: per core, the
//! acquisitions that found the lock held by the other core and the failed attempts
//! ([`counts`]). Each core writes only its own counters, with interrupts masked, so a
//! plain load and store suffices.

use core::sync::atomic::{AtomicU32, Ordering::*};

use super::cores::this_core;

/// The state bit: interrupts were enabled (PRIMASK clear) when this acquire began.
pub const IRQS_WERE_ENABLED: u8 = 1 << 0;
/// The state bit: this acquire took the spin lock (it is the outermost on its core).
pub const TOOK_LOCK: u8 = 1 << 1;

/// The spin lock: 0 free, else 1 + the number of the core holding it.
static OWNER: AtomicU32 = AtomicU32::new(0);

/// Per core: outermost acquisitions, acquisitions that found the lock held, failed
/// attempts (each a compare-and-swap that lost or a read that found it held).
static ACQUIRED: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];
static CONTENDED: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];
static FAILED: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];

struct MultiCoreCriticalSection;
critical_section::set_impl!(MultiCoreCriticalSection);

/// Adds one to a counter only this core writes, with its interrupts masked.
#[inline(always)]
fn bump(counter: &AtomicU32, by: u32) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

// SAFETY: mutual exclusion between every context of both cores: this core's interrupts
// are masked from acquire to the matching release, and the spin lock is held by this
// core from the outermost acquire to its release; a nested acquire on the holding core
// neither takes nor releases it.
unsafe impl critical_section::Impl for MultiCoreCriticalSection {
    unsafe fn acquire() -> u8 {
        // cortex-m's `Primask::Active`: PRIMASK clear, interrupts enabled.
        let enabled = cortex_m::register::primask::read().is_active();
        cortex_m::interrupt::disable();
        let core = this_core();
        let me = core as u32 + 1;
        // Only this core writes `me` into OWNER, and with its interrupts masked nothing on
        // this core can change it under us: if it reads `me`, this core holds the lock.
        if OWNER.load(Relaxed) == me {
            return if enabled { IRQS_WERE_ENABLED } else { 0 };
        }
        let mut failed = 0u32;
        while OWNER.compare_exchange(0, me, Acquire, Relaxed).is_err() {
            failed += 1;
            while OWNER.load(Relaxed) != 0 {
                failed += 1;
                core::hint::spin_loop();
            }
        }
        bump(&ACQUIRED[core], 1);
        if failed != 0 {
            bump(&CONTENDED[core], 1);
            bump(&FAILED[core], failed);
        }
        TOOK_LOCK | if enabled { IRQS_WERE_ENABLED } else { 0 }
    }

    unsafe fn release(state: u8) {
        if state & TOOK_LOCK != 0 {
            OWNER.store(0, Release);
        }
        if state & IRQS_WERE_ENABLED != 0 {
            // SAFETY: the matching acquire found interrupts enabled.
            unsafe { cortex_m::interrupt::enable() };
        }
    }
}

/// The lock's counters for one core, or their difference over a scenario.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Outermost critical sections entered.
    pub acquired: u32,
    /// ... of which found the lock held by the other core.
    pub contended: u32,
    /// Failed attempts while waiting for it.
    pub failed: u32,
}

impl Counts {
    /// What happened between `before` and `self`.
    pub fn since(self, before: Counts) -> Counts {
        Counts {
            acquired: self.acquired.wrapping_sub(before.acquired),
            contended: self.contended.wrapping_sub(before.contended),
            failed: self.failed.wrapping_sub(before.failed),
        }
    }
}

/// Both cores' counters so far.
pub fn counts() -> [Counts; 2] {
    core::array::from_fn(|core| Counts {
        acquired: ACQUIRED[core].load(Relaxed),
        contended: CONTENDED[core].load(Relaxed),
        failed: FAILED[core].load(Relaxed),
    })
}
