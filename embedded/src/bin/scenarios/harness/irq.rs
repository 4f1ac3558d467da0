//! The interrupt side: running code in a real interrupt handler on demand ([`fire`]), with
//! its stack use measured ([`fire_measuring_stack`]), and the storm timer's handler that
//! runs a hook at a steady rate ([`storm_start`]).
//!
//! Depends on [`chip`] (which knows nothing of this module): the chip's handlers are bound
//! here to [`on_signal`] and [`on_storm_tick`].

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::scb::VectActive;
use cortex_m::peripheral::{NVIC, SCB};
use critical_section::Mutex;

use super::chip::{self, SIGNAL_IRQ, STORM_IRQ};
use super::{clock, stack};

chip::bind_interrupts!(signal: on_signal, storm: on_storm_tick);

/// Code for an interrupt handler to run.
type Hook = Option<fn()>;
/// What the next SIGNAL interrupt runs.
static HOOK: Mutex<Cell<Hook>> = Mutex::new(Cell::new(None));
/// SIGNAL handler runs so far (written by the handler only: load + store, no CAS needed).
static SIGNAL_RUNS: AtomicU32 = AtomicU32::new(0);
/// Whether the last SIGNAL handler run found itself in handler mode, in its own vector.
static IN_HANDLER_MODE: AtomicBool = AtomicBool::new(false);

/// Unmasks both interrupts, with their priorities.
pub fn init(nvic: &mut NVIC) {
    // SAFETY: the handlers exist (bound above) and share no data with the code they may
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
fn on_signal() {
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

/// What [`fire_measuring_stack`] saw.
#[derive(Clone, Copy, Debug)]
pub struct HandlerStack {
    /// The handler ran exactly once, in handler mode (as [`fire`] reports).
    pub ran: bool,
    /// Bytes of stack the handler wrote below the stack pointer it interrupted: the
    /// exception frame the core pushes (32 B, plus 4 to align it), the handler, and
    /// everything it called.
    pub depth: usize,
    /// The handler went at least as deep as the painted window: `depth` is a lower bound.
    pub beyond_window: bool,
}

/// [`fire`], measuring how deep the handler goes into the stack: paints up to `window`
/// bytes of free stack below the stack pointer, pends the interrupt (taken right there, on
/// that stack pointer), and finds the lowest word that no longer holds the paint, all in
/// one piece of assembly ([`stack::paint_run_scan!`]). SysTick's interrupt is held back
/// meanwhile (and delivered after), so only the SIGNAL handler writes below the stack
/// pointer; the storm timer must be stopped.
#[inline(never)]
pub fn fire_measuring_stack(hook: fn(), window: usize) -> HandlerStack {
    critical_section::with(|cs| HOOK.borrow(cs).set(Some(hook)));
    let before = SIGNAL_RUNS.load(Acquire);
    let bottom = (stack::sp().saturating_sub(window) & !3).max(stack::limit());
    let n = usize::from(SIGNAL_IRQ.number());
    // NVIC_ISPR<n / 32>: writing bit n % 32 pends interrupt n.
    let ispr = 0xE000_E200 + 4 * (n / 32);
    let tick = clock::hold_tick();
    // The pended interrupt is taken before the instruction after the barriers.
    let (sp, lowest) = stack::paint_run_scan!(
        bottom,
        "str {bit}, [{ispr}]\n dsb\n isb",
        ispr = in(reg) ispr,
        bit = in(reg) 1u32 << (n % 32),
    );
    clock::release_tick(tick);
    HandlerStack {
        ran: SIGNAL_RUNS.load(Acquire) == before + 1 && IN_HANDLER_MODE.load(Relaxed),
        depth: sp - lowest,
        beyond_window: lowest <= bottom,
    }
}

/// What the storm timer's handler runs on every tick, while it has some left to post.
static STORM_HOOK: Mutex<Cell<Hook>> = Mutex::new(Cell::new(None));
/// How many times the storm runs its hook in all.
static STORM_TOTAL: AtomicU32 = AtomicU32::new(0);
/// How many times it may have run it for now (it idles at this count).
static STORM_LIMIT: AtomicU32 = AtomicU32::new(0);
/// How many times it has run it (written by the handler only).
static STORM_POSTED: AtomicU32 = AtomicU32::new(0);

/// Starts the storm: the timer interrupt runs `post` (e.g. a `complete()`) every
/// `period_us`, `first` times, then idles until [`storm_continue`], then runs it until
/// `total` and stops itself.
pub fn storm_start(post: fn(), total: u32, first: u32, period_us: u32) {
    critical_section::with(|cs| STORM_HOOK.borrow(cs).set(Some(post)));
    STORM_POSTED.store(0, Relaxed);
    STORM_TOTAL.store(total, Relaxed);
    STORM_LIMIT.store(first.min(total), Release);
    chip::storm_timer_start(period_us);
}

/// Lets the storm post the rest.
pub fn storm_continue() {
    STORM_LIMIT.store(STORM_TOTAL.load(Relaxed), Release);
}

/// How many times the storm has run its hook so far.
pub fn storm_posted() -> u32 {
    STORM_POSTED.load(Acquire)
}

/// Called by the storm timer's handler.
fn on_storm_tick() {
    let posted = STORM_POSTED.load(Relaxed);
    if posted < STORM_LIMIT.load(Acquire) {
        if let Some(post) = critical_section::with(|cs| STORM_HOOK.borrow(cs).get()) {
            post();
        }
        STORM_POSTED.store(posted + 1, Release);
        if posted + 1 == STORM_TOTAL.load(Relaxed) {
            chip::storm_timer_stop();
        }
    }
}
