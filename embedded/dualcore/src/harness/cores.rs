//! The two cores: which one is running ([`this_core`]), starting core 1 ([`start_core1`]),
//! one embassy executor per core with a pender that wakes the right core ([`run`],
//! `__pender`), the MHU doorbell, the interrupt dispatch (`DefaultHandler`), core 1's
//! interrupts ([`fire_core1`], [`core1_timer_start`]), and jobs that core 0 hands to core 1
//! ([`run_on_core1`], [`core1_done`], [`core1_finished`]).
//!
//! Starting core 1: core 0 copies its own vector table (cortex-m-rt's, at the start of
//! SSRAM1) into [`CORE1_VECTORS`], replaces the initial stack pointer (the top of
//! [`CORE1_STACK`]) and the reset vector ([`core1_reset`]), writes its address to the
//! SSE-200's INITSVTOR1 and clears CPUWAIT: core 1 leaves reset at that vector, on its own
//! stack, with the statics already initialised by core 0.
//!
//! Waking: each core's executor loop ([`run`]) sleeps in WFI when it has nothing to poll.
//! `__pender(core)` (the executor asking for a poll) marks that core's executor pending and,
//! if that core is another one and asleep, rings its MHU0 doorbell (IRQ 6 of that core
//! only), which ends its WFI. A core marks itself asleep before it looks at its pending
//! flag for the last time, and a pender marks the flag before it looks at the sleep flag
//! (both sequentially consistent): either the sleeper sees the flag or the pender sees the
//! sleeper and rings.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::{NVIC, SCB};
use cortex_m_rt::exception;
use embassy_executor::{raw, Spawner};

use super::chip::{self, CORE1_TIMER_IRQ, DOORBELL_IRQ, SIGNAL_IRQ, STORM_IRQ};
use super::{clock, irq};

/// Core 1's stack.
const CORE1_STACK_SIZE: usize = 32 * 1024;
#[repr(C, align(8))]
struct Stack(UnsafeCell<[u8; CORE1_STACK_SIZE]>);
// SAFETY: only core 1 uses it, as its stack.
unsafe impl Sync for Stack {}
static CORE1_STACK: Stack = Stack(UnsafeCell::new([0; CORE1_STACK_SIZE]));

/// cortex-m-rt's vector table on Armv8-M Mainline: 16 system entries and 480 interrupts.
const VECTORS: usize = 16 + 480;
/// Core 1's vector table (VTOR needs it aligned to its size rounded up to a power of two).
#[repr(C, align(2048))]
struct VectorTable(UnsafeCell<[usize; VECTORS]>);
// SAFETY: written by core 0 before core 1 starts, read only by core 1's hardware after.
unsafe impl Sync for VectorTable {}
static CORE1_VECTORS: VectorTable = VectorTable(UnsafeCell::new([0; VECTORS]));

/// The core running this code: 1 on core 1's stack, else 0. Cheaper than reading
/// CPU_IDENTITY (a device register; `main` checks that both agree on both cores), and
/// right in handlers too (each core's handlers run on its own main stack).
#[inline(always)]
pub fn this_core() -> usize {
    let sp: usize;
    // SAFETY: reads a register.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    let base = CORE1_STACK.0.get() as usize;
    usize::from(sp.wrapping_sub(base) <= CORE1_STACK_SIZE)
}

/// CPU_IDENTITY, the board's own answer.
pub fn cpu_identity() -> u32 {
    // SAFETY: a read-only register of the SSE-200.
    unsafe { read_volatile(chip::CPU_IDENTITY) }
}

/// Per core: the executor has work (set by `__pender`, cleared before each poll).
static PENDING: [AtomicBool; 2] = [const { AtomicBool::new(false) }; 2];
/// Per core: about to sleep or sleeping in WFI.
static ASLEEP: [AtomicBool; 2] = [const { AtomicBool::new(false) }; 2];

/// Counters for the evidence of cross-core wake-ups, per core (the target core).
pub struct WakeCounters {
    /// `__pender` calls made on the other core.
    pub pended_from_other: [AtomicU32; 2],
    /// ... that found this core asleep and rang its doorbell.
    pub doorbells: [AtomicU32; 2],
    /// Doorbell interrupts taken.
    pub doorbell_irqs: [AtomicU32; 2],
    /// Times the executor loop slept in WFI.
    pub sleeps: [AtomicU32; 2],
}
pub static WAKES: WakeCounters = WakeCounters {
    pended_from_other: [const { AtomicU32::new(0) }; 2],
    doorbells: [const { AtomicU32::new(0) }; 2],
    doorbell_irqs: [const { AtomicU32::new(0) }; 2],
    sleeps: [const { AtomicU32::new(0) }; 2],
};

/// A snapshot of [`WAKES`].
#[derive(Clone, Copy, Default, Debug)]
pub struct Wakes {
    pub pended_from_other: [u32; 2],
    pub doorbells: [u32; 2],
    pub doorbell_irqs: [u32; 2],
    pub sleeps: [u32; 2],
}

impl Wakes {
    pub fn now() -> Self {
        let get = |a: &[AtomicU32; 2]| [a[0].load(Relaxed), a[1].load(Relaxed)];
        Self {
            pended_from_other: get(&WAKES.pended_from_other),
            doorbells: get(&WAKES.doorbells),
            doorbell_irqs: get(&WAKES.doorbell_irqs),
            sleeps: get(&WAKES.sleeps),
        }
    }

    pub fn since(self, before: Self) -> Self {
        let d = |a: [u32; 2], b: [u32; 2]| [a[0].wrapping_sub(b[0]), a[1].wrapping_sub(b[1])];
        Self {
            pended_from_other: d(self.pended_from_other, before.pended_from_other),
            doorbells: d(self.doorbells, before.doorbells),
            doorbell_irqs: d(self.doorbell_irqs, before.doorbell_irqs),
            sleeps: d(self.sleeps, before.sleeps),
        }
    }
}

/// Adds one to a counter (any core, any context).
fn count(counter: &AtomicU32) {
    counter.fetch_add(1, Relaxed);
}

/// The executors call this when they have work: `context` is the core that runs them.
#[export_name = "__pender"]
fn pender(context: *mut ()) {
    let target = context as usize;
    PENDING[target].store(true, SeqCst);
    if target != this_core() {
        count(&WAKES.pended_from_other[target]);
        if ASLEEP[target].load(SeqCst) {
            count(&WAKES.doorbells[target]);
            chip::doorbell_ring(target);
        }
    }
}

/// One executor per core, created by [`run`] on that core.
struct ExecutorCell(UnsafeCell<MaybeUninit<raw::Executor>>);
// SAFETY: each cell is written once, by its own core, before anything else uses it.
unsafe impl Sync for ExecutorCell {}
static EXECUTORS: [ExecutorCell; 2] =
    [const { ExecutorCell(UnsafeCell::new(MaybeUninit::uninit())) }; 2];

/// Runs this core's executor forever, starting with the task `init` spawns: polls while
/// there is work, sleeps in WFI (woken by an interrupt: the doorbell, a timer, SysTick)
/// when there is none.
pub fn run(init: impl FnOnce(Spawner)) -> ! {
    let core = this_core();
    // SAFETY: this core's cell, written once, here, before any use.
    let executor: &'static raw::Executor =
        unsafe { (*EXECUTORS[core].0.get()).write(raw::Executor::new(core as *mut ())) };
    init(executor.spawner());
    loop {
        PENDING[core].store(false, SeqCst);
        // SAFETY: not reentrant: only this loop polls this core's executor.
        unsafe { executor.poll() };
        cortex_m::interrupt::disable();
        ASLEEP[core].store(true, SeqCst);
        if !PENDING[core].load(SeqCst) {
            count(&WAKES.sleeps[core]);
            // An interrupt pending (even masked, as here) ends WFI.
            cortex_m::asm::wfi();
        }
        ASLEEP[core].store(false, SeqCst);
        // SAFETY: the loop's own masking ends here; handlers run now.
        unsafe { cortex_m::interrupt::enable() };
    }
}

/// Starts core 1: its vector table and stack, INITSVTOR1, CPUWAIT = 0. Core 1 runs
/// [`core1_reset`].
pub fn start_core1() {
    // SAFETY: core 1 is held in CPUWAIT, so nothing reads the table while it is written;
    // core 0's table is cortex-m-rt's, VECTORS words at VTOR.
    unsafe {
        let table = &mut *CORE1_VECTORS.0.get();
        let own = (*SCB::PTR).vtor.read() as *const usize;
        for (i, entry) in table.iter_mut().enumerate() {
            *entry = read_volatile(own.add(i));
        }
        table[0] = CORE1_STACK.0.get() as usize + CORE1_STACK_SIZE;
        table[1] = core1_reset as *const () as usize;
        cortex_m::asm::dsb();
        write_volatile(chip::INITSVTOR1, table.as_ptr() as u32);
        write_volatile(chip::CPUWAIT, 0);
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }
}

/// What core 1 runs first, by the task spawned on its executor.
static CORE1_UP: AtomicBool = AtomicBool::new(false);
/// CPU_IDENTITY as core 1 read it.
static CORE1_IDENTITY: AtomicU32 = AtomicU32::new(u32::MAX);

/// Core 1's reset vector: its interrupts, then its executor (with the job runner).
extern "C" fn core1_reset() -> ! {
    CORE1_IDENTITY.store(cpu_identity(), Relaxed);
    // SAFETY: core 1's own NVIC; the handlers (`DefaultHandler`) exist for these lines and
    // share data with thread mode only through atomics and critical sections.
    unsafe {
        let mut nvic = cortex_m::Peripherals::steal().NVIC;
        nvic.set_priority(DOORBELL_IRQ, chip::PRIO_LOW);
        nvic.set_priority(SIGNAL_IRQ, chip::PRIO_SIGNAL);
        nvic.set_priority(CORE1_TIMER_IRQ, chip::PRIO_STORM);
        NVIC::unmask(DOORBELL_IRQ);
        NVIC::unmask(SIGNAL_IRQ);
        NVIC::unmask(CORE1_TIMER_IRQ);
    }
    run(|spawner| spawner.spawn(job_runner(spawner).unwrap()))
}

/// Core 0's share of the interrupt set-up: the doorbell (`irq::init` does the rest).
pub fn init_core0(nvic: &mut NVIC) {
    // SAFETY: as in `core1_reset`, for core 0's NVIC.
    unsafe {
        nvic.set_priority(DOORBELL_IRQ, chip::PRIO_LOW);
        NVIC::unmask(DOORBELL_IRQ);
    }
}

/// Waits (at most `limit`) until core 1 runs its executor; what CPU_IDENTITY said there.
pub fn wait_core1_up(limit: Duration) -> Option<u32> {
    let deadline = clock::ticks() + clock::duration_to_ticks(limit);
    while !CORE1_UP.load(Acquire) {
        if clock::ticks() > deadline {
            return None;
        }
    }
    Some(CORE1_IDENTITY.load(Relaxed))
}

/// A job for core 1: runs in its job-runner task with core 1's spawner. It (or the tasks
/// it spawns) calls [`core1_done`] when finished.
pub type Job = fn(Spawner);
static JOB: AtomicUsize = AtomicUsize::new(0);
/// Completed by core 0 when a job is waiting for core 1.
static JOB_READY: Completion<CriticalSectionLock> = Completion::with_lock();
/// Completed by core 1 when a part of a job is finished.
static CORE1_DONE: Completion<CriticalSectionLock> = Completion::with_lock();

#[embassy_executor::task]
async fn job_runner(spawner: Spawner) {
    CORE1_UP.store(true, Release);
    loop {
        JOB_READY.wait().await;
        let job = JOB.swap(0, Acquire);
        if job != 0 {
            // SAFETY: only `run_on_core1` stores into JOB, and only a `Job`.
            let job: Job = unsafe { core::mem::transmute::<usize, Job>(job) };
            job(spawner);
        }
    }
}

/// Hands `job` to core 1 (called on core 0).
pub fn run_on_core1(job: Job) {
    JOB.store(job as usize, Release);
    JOB_READY.complete();
}

/// Says, on core 1, that a job (or one of its tasks) is finished.
pub fn core1_done() {
    CORE1_DONE.complete();
}

/// Waits on core 0 for `n` [`core1_done`]s, each within `limit`; whether they came.
pub async fn core1_finished(n: usize, limit: Duration) -> bool {
    for _ in 0..n {
        if embassy_time::with_timeout(clock::embassy_duration(limit), CORE1_DONE.wait())
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// What core 1's SIGNAL handler runs (a `fn()` as `usize`, 0: nothing).
static CORE1_SIGNAL_HOOK: AtomicUsize = AtomicUsize::new(0);
/// Core 1's SIGNAL handler runs.
static CORE1_SIGNAL_RUNS: AtomicU32 = AtomicU32::new(0);
/// What core 1's timer handler runs.
static CORE1_TIMER_HOOK: AtomicUsize = AtomicUsize::new(0);

fn run_hook(hook: &AtomicUsize) {
    let f = hook.load(Acquire);
    if f != 0 {
        // SAFETY: only `fn()`s are stored in the hooks.
        let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
        f();
    }
}

/// Runs `hook` in core 1's SIGNAL interrupt handler (called in core 1's thread mode): pends
/// the interrupt in core 1's NVIC and returns after the handler ran. Whether it ran once.
pub fn fire_core1(hook: fn()) -> bool {
    CORE1_SIGNAL_HOOK.store(hook as usize, Release);
    let before = CORE1_SIGNAL_RUNS.load(Relaxed);
    NVIC::pend(SIGNAL_IRQ);
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    CORE1_SIGNAL_RUNS.load(Relaxed) == before.wrapping_add(1)
}

/// Starts core 1's timer (timer 0, enabled in core 1's NVIC only): its handler runs `hook`
/// every `period_us` until [`core1_timer_stop`].
pub fn core1_timer_start(hook: fn(), period_us: u32) {
    CORE1_TIMER_HOOK.store(hook as usize, Release);
    chip::TIMER0.start(period_us);
}

pub fn core1_timer_stop() {
    chip::TIMER0.stop();
    CORE1_TIMER_HOOK.store(0, Release);
    NVIC::unpend(CORE1_TIMER_IRQ);
}

/// Every interrupt of both cores comes here (cortex-m-rt's device table, no PAC), and is
/// dispatched by core and line.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    let core = this_core();
    let line = irqn as u16;
    if line == DOORBELL_IRQ.number() {
        chip::doorbell_clear(core);
        count(&WAKES.doorbell_irqs[core]);
    } else if core == 0 && line == SIGNAL_IRQ.number() {
        irq::signal_entry();
    } else if core == 0 && line == STORM_IRQ.number() {
        irq::storm_entry();
    } else if core == 1 && line == SIGNAL_IRQ.number() {
        run_hook(&CORE1_SIGNAL_HOOK);
        CORE1_SIGNAL_RUNS.store(CORE1_SIGNAL_RUNS.load(Relaxed).wrapping_add(1), Relaxed);
    } else if core == 1 && line == CORE1_TIMER_IRQ.number() {
        chip::TIMER0.ack();
        run_hook(&CORE1_TIMER_HOOK);
    } else {
        panic!("unexpected exception {} on core {}", irqn, core);
    }
}
