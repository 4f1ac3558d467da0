//! The interrupt side: running code in a real interrupt handler on demand ([`fire`]), and
//! the storm timer's handler that posts completions.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};

use async_completion::{Completion, CriticalSectionLock};
use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::scb::VectActive;
use cortex_m::peripheral::{NVIC, SCB};
use critical_section::Mutex;

use crate::chip::{self, SIGNAL_IRQ, STORM_IRQ};

/// Code for the SIGNAL handler to run.
type Hook = Option<fn()>;
/// What the next SIGNAL interrupt runs.
static HOOK: Mutex<Cell<Hook>> = Mutex::new(Cell::new(None));
/// SIGNAL handler runs so far (written by the handler only: load + store, no CAS needed).
static SIGNAL_RUNS: AtomicU32 = AtomicU32::new(0);
/// Whether the last SIGNAL handler run found itself in handler mode, in its own vector.
static IN_HANDLER_MODE: AtomicBool = AtomicBool::new(false);

/// Unmasks both interrupts, with their priorities.
pub fn init(nvic: &mut NVIC) {
    // SAFETY: the handlers exist (chip.rs) and share no data with the code they may
    // preempt except through critical sections and atomics.
    unsafe {
        nvic.set_priority(SIGNAL_IRQ, chip::PRIO_SIGNAL);
        nvic.set_priority(STORM_IRQ, chip::PRIO_STORM);
        NVIC::unmask(SIGNAL_IRQ);
        NVIC::unmask(STORM_IRQ);
    }
}

/// The SIGNAL interrupt's number, for reports.
pub fn signal_irq_number() -> u16 {
    SIGNAL_IRQ.number()
}

/// Called by the SIGNAL handler.
pub fn on_signal() {
    let in_handler = matches!(
        SCB::vect_active(),
        VectActive::Interrupt { irqn } if u16::from(irqn) == SIGNAL_IRQ.number()
    );
    IN_HANDLER_MODE.store(in_handler, Relaxed);
    if let Some(hook) = critical_section::with(|cs| HOOK.borrow(cs).take()) {
        hook();
    }
    SIGNAL_RUNS.store(SIGNAL_RUNS.load(Relaxed) + 1, Release);
}

/// Runs `hook` in the SIGNAL interrupt handler: pends the interrupt through the NVIC and
/// returns once the handler has run. `true` if it ran exactly once, in handler mode.
pub fn fire(hook: fn()) -> bool {
    critical_section::with(|cs| HOOK.borrow(cs).set(Some(hook)));
    let before = SIGNAL_RUNS.load(Acquire);
    NVIC::pend(SIGNAL_IRQ);
    // The pended interrupt is taken before the instruction after the barriers.
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    SIGNAL_RUNS.load(Acquire) == before + 1 && IN_HANDLER_MODE.load(Relaxed)
}

/// Completions posted by the storm timer's interrupt.
pub static STORM: Completion<CriticalSectionLock> = Completion::with_lock();
/// How many completions the storm posts in all.
static STORM_TOTAL: AtomicU32 = AtomicU32::new(0);
/// How many it may have posted for now (it idles at this count).
static STORM_LIMIT: AtomicU32 = AtomicU32::new(0);
/// How many it has posted (written by the handler only).
static STORM_POSTED: AtomicU32 = AtomicU32::new(0);

/// Starts the storm: the timer interrupt posts one completion every `period_us`, up to
/// `first` of them, then idles until [`storm_continue`], then posts the rest up to
/// `total` and stops itself.
pub fn storm_start(total: u32, first: u32, period_us: u32) {
    STORM_POSTED.store(0, Relaxed);
    STORM_TOTAL.store(total, Relaxed);
    STORM_LIMIT.store(first.min(total), Release);
    chip::storm_timer_start(period_us);
}

/// Lets the storm post the rest.
pub fn storm_continue() {
    STORM_LIMIT.store(STORM_TOTAL.load(Relaxed), Release);
}

/// Completions the storm has posted so far.
pub fn storm_posted() -> u32 {
    STORM_POSTED.load(Acquire)
}

/// Called by the storm timer's handler.
pub fn on_storm_tick() {
    let posted = STORM_POSTED.load(Relaxed);
    if posted < STORM_LIMIT.load(Acquire) {
        STORM.complete();
        STORM_POSTED.store(posted + 1, Release);
        if posted + 1 == STORM_TOTAL.load(Relaxed) {
            chip::storm_timer_stop();
        }
    }
}
