//! The harness every footprint binary shares (`#[path = "../common.rs"] mod common;`), so
//! that the binaries differ only in the primitive a waiting task and an interrupt handler
//! use. It contains, in every binary, the baseline included:
//!
//! - the embassy executor (`#[embassy_executor::main]`, thread mode) and one spawned
//!   waiter task (`run` below, each binary's `waiter`);
//! - SysTick at 1 kHz driving an embassy-time driver of our own (an
//!   `embassy-time-queue-utils` queue checked on every tick), as in `../src/bin/scenarios`;
//! - a real interrupt handler (GPIOA on the LM3S6965; on the SSE-200 of `mps2-an521`,
//!   which has no PAC here, line 30 through cortex-m-rt's `DefaultHandler`), pended
//!   through the NVIC, running the binary's `hook`;
//! - the driver task (`drive`): sleeps on `embassy_time::Timer` until the waiter is ready,
//!   fires the interrupt, sleeps until the waiter is done, exits QEMU via semihosting
//!   (status 0 only if the waiter reported success);
//! - a panic handler and a HardFault handler that exit QEMU with status 1.
//!
//! No formatting and no printing: `measure.sh` prints the results.

use core::cell::Cell;
use core::future::poll_fn;
use core::sync::atomic::{AtomicBool, Ordering::*};
use core::task::Poll;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use cortex_m_semihosting::debug;
use critical_section::Mutex;
use embassy_time::Timer;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;
use core::cell::RefCell;
use core::task::Waker;
#[cfg(chip = "lm3s6965")]
use lm3s6965::{interrupt, Interrupt};

/// QEMU's lm3s6965evb core clock (see `../src/bin/scenarios/harness/chip.rs`).
#[cfg(chip = "lm3s6965")]
const CORE_HZ: u32 = 12_500_000;
/// QEMU's mps2-an521 processor clock, which SysTick counts with CLKSOURCE = 1 (see
/// `../dualcore/src/harness/chip.rs`).
#[cfg(chip = "an521")]
const CORE_HZ: u32 = 20_000_000;

/// The SSE-200's reserved line 30 (nothing drives it): the interrupt, on core 0 (core 1
/// stays held in CPUWAIT, so the single-core critical section is right here).
#[cfg(chip = "an521")]
#[derive(Clone, Copy)]
enum Interrupt {
    GPIOA = 30,
}

// SAFETY: 30 is an interrupt line of the SSE-200's NVIC.
#[cfg(chip = "an521")]
unsafe impl cortex_m::interrupt::InterruptNumber for Interrupt {
    fn number(self) -> u16 {
        self as u16
    }
}
const TICK_HZ: u32 = 1_000;
const _: () = assert!(embassy_time_driver::TICK_HZ == TICK_HZ as u64);

// ------------------------------------------------------------------ time (SysTick driver)

static TICKS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));
static ALARMS: Mutex<RefCell<Queue>> = Mutex::new(RefCell::new(Queue::new()));
static NEXT_ALARM: Mutex<Cell<u64>> = Mutex::new(Cell::new(u64::MAX));

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let now = TICKS.borrow(cs).get() + 1;
        TICKS.borrow(cs).set(now);
        let next = NEXT_ALARM.borrow(cs);
        if now >= next.get() {
            next.set(ALARMS.borrow_ref_mut(cs).next_expiration(now));
        }
    });
}

struct SysTickDriver;

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| TICKS.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut alarms = ALARMS.borrow_ref_mut(cs);
            if alarms.schedule_wake(at, waker) {
                let now = TICKS.borrow(cs).get();
                NEXT_ALARM.borrow(cs).set(alarms.next_expiration(now));
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver);

// ------------------------------------------------------------------ the interrupt

/// What the GPIOA handler runs: the binary's `hook`.
static HOOK: Mutex<Cell<Option<fn()>>> = Mutex::new(Cell::new(None));

#[cfg(chip = "lm3s6965")]
#[interrupt]
fn GPIOA() {
    run_hook();
}

/// No PAC for the SSE-200: cortex-m-rt's default device table sends every interrupt here,
/// and only line 30 is ever enabled.
#[cfg(chip = "an521")]
#[exception]
unsafe fn DefaultHandler(_irqn: i16) {
    run_hook();
}

fn run_hook() {
    if let Some(hook) = critical_section::with(|cs| HOOK.borrow(cs).take()) {
        hook();
    }
}

/// Runs `hook` in the GPIOA interrupt handler (returns after it ran).
fn fire(hook: fn()) {
    critical_section::with(|cs| HOOK.borrow(cs).set(Some(hook)));
    NVIC::pend(Interrupt::GPIOA);
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

// ------------------------------------------------------------------ the harness

/// Set by the waiter once it is (about to be, in the same poll) waiting for the interrupt.
static READY: AtomicBool = AtomicBool::new(false);
/// Set by the waiter when it is done; `OK`: whether everything it saw was as expected.
static DONE: AtomicBool = AtomicBool::new(false);
static OK: AtomicBool = AtomicBool::new(false);

/// The waiter: it is about to wait for the interrupt (nothing fired before this).
pub fn ready() {
    READY.store(true, Release);
}

/// The waiter is done; `ok`: whether what it saw was as expected.
pub fn done(ok: bool) {
    OK.store(ok, Relaxed);
    DONE.store(true, Release);
}

/// Returns `Pending` once (waking itself), then `Ready`.
#[allow(dead_code)] // the baseline's only
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Starts SysTick and unmasks the interrupt.
pub fn init() {
    let mut core = cortex_m::Peripherals::take().unwrap();
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(CORE_HZ / TICK_HZ - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();
    // SAFETY: the handler shares data only through critical sections and atomics.
    unsafe { NVIC::unmask(Interrupt::GPIOA) };
}

/// Waits (on embassy-time, at most 5 s each) for the waiter to be ready, fires `hook` in
/// the interrupt handler, waits for the waiter to be done, and ends QEMU: status 0 only if
/// the waiter finished and reported success.
pub async fn drive(hook: fn()) -> ! {
    let mut ok = false;
    if until(&READY).await {
        fire(hook);
        ok = until(&DONE).await && OK.load(Relaxed);
    }
    exit(ok)
}

async fn until(flag: &AtomicBool) -> bool {
    for _ in 0..5_000 {
        if flag.load(Acquire) {
            return true;
        }
        Timer::after_millis(1).await;
    }
    false
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(false)
}

#[exception]
unsafe fn HardFault(_: &cortex_m_rt::ExceptionFrame) -> ! {
    exit(false)
}
