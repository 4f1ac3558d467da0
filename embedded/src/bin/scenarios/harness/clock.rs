//! Time, all on SysTick: one interrupt per millisecond advances a tick count that drives
//!
//! - an `embassy-time` driver of our own ([`SysTickDriver`]: the `embassy-time-driver`
//!   `Driver` trait, alarms kept in an `embassy-time-queue-utils` queue and checked on
//!   every tick), so `EmbassyTimer` and `embassy_time::Timer` work;
//! - [`TickSleep`], a sleep future that needs no embassy-time at all: the closure timer
//!   [`tick_timer`] for `wait_timeout`.
//!
//! [`host_micros`] reads the host's monotonic clock through semihosting, to check the tick
//! against real time.

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use cortex_m::peripheral::scb::SystemHandler;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

use super::chip;

/// Ticks per second: embassy-time's `tick-hz-1_000`, and the unit of [`ticks`].
pub const TICK_HZ: u32 = 1_000;
const _: () = assert!(embassy_time_driver::TICK_HZ == TICK_HZ as u64);

/// Milliseconds since [`start`].
static TICKS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));
/// embassy-time's alarms.
static ALARMS: Mutex<RefCell<Queue>> = Mutex::new(RefCell::new(Queue::new()));
/// The earliest alarm in [`ALARMS`] (`u64::MAX`: none).
static NEXT_ALARM: Mutex<Cell<u64>> = Mutex::new(Cell::new(u64::MAX));

/// How many [`TickSleep`]s (of different tasks) can wait at once without polling busily.
const SLEEPER_SLOTS: usize = 8;
/// Wakers of pending [`TickSleep`]s, all woken on the next tick.
static SLEEPERS: Mutex<RefCell<[Option<Waker>; SLEEPER_SLOTS]>> =
    Mutex::new(RefCell::new([const { None }; SLEEPER_SLOTS]));

/// Starts the 1 ms SysTick interrupt on the core clock, at the lowest priority.
pub fn start(syst: &mut SYST, scb: &mut SCB) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(chip::CORE_HZ / TICK_HZ - 1);
    syst.clear_current();
    // SAFETY: no priority-based critical section is in use (critical sections mask all
    // interrupts), so changing a priority cannot break one.
    unsafe { scb.set_priority(SystemHandler::SysTick, chip::PRIO_LOW) };
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Milliseconds since [`start`]: the clock of both embassy-time and [`TickSleep`].
pub fn ticks() -> u64 {
    critical_section::with(|cs| TICKS.borrow(cs).get())
}

/// SysTick's control and status register: counter enabled, interrupt enabled, and the flag
/// "counted to 0 since last read" (cleared by reading).
const SYST_CSR_TICKINT: u32 = 1 << 1;
const SYST_CSR_COUNTFLAG: u32 = 1 << 16;

/// Proof that SysTick's interrupt is held back; give it to [`release_tick`].
#[must_use]
pub struct TickHeld(());

/// Holds back SysTick's interrupt (the counter runs on) until [`release_tick`], so that
/// nothing but the code under measurement writes below the stack pointer. Keep it short:
/// more than a tick held is delivered as one tick, as when the core is late for a tick.
pub fn hold_tick() -> TickHeld {
    critical_section::with(|_| {
        // SAFETY: after `start`, only this module touches SysTick, inside critical sections.
        let syst = unsafe { &*SYST::PTR };
        // Reading clears COUNTFLAG, set by ticks already delivered.
        let csr = syst.csr.read();
        // SAFETY: as above; clears TICKINT only.
        unsafe {
            syst.csr
                .write(csr & !(SYST_CSR_TICKINT | SYST_CSR_COUNTFLAG))
        };
        // Counted to 0 between the read and the write (pended itself: TICKINT was set) or
        // after the write (not pended): pend it, once. It is taken as this section ends.
        if syst.csr.read() & SYST_CSR_COUNTFLAG != 0 {
            SCB::set_pendst();
        }
    });
    TickHeld(())
}

/// Lets SysTick interrupt again, delivering the tick that came due while it was held.
pub fn release_tick(_held: TickHeld) {
    critical_section::with(|_| {
        // SAFETY: as in `hold_tick`.
        let syst = unsafe { &*SYST::PTR };
        let csr = syst.csr.read();
        // SAFETY: as in `hold_tick`; sets TICKINT again.
        unsafe {
            syst.csr
                .write((csr | SYST_CSR_TICKINT) & !SYST_CSR_COUNTFLAG)
        };
        // Counted to 0 while held (first read), or between the read and the write (second
        // read). With TICKINT set a tick pends itself; pending it again is harmless.
        if (csr | syst.csr.read()) & SYST_CSR_COUNTFLAG != 0 {
            SCB::set_pendst();
        }
    });
}

#[exception]
fn SysTick() {
    let mut sleepers = [const { None }; SLEEPER_SLOTS];
    critical_section::with(|cs| {
        let now = TICKS.borrow(cs).get() + 1;
        TICKS.borrow(cs).set(now);
        let next = NEXT_ALARM.borrow(cs);
        if now >= next.get() {
            // Wakes every expired alarm, returns the next one.
            next.set(ALARMS.borrow_ref_mut(cs).next_expiration(now));
        }
        let mut slots = SLEEPERS.borrow_ref_mut(cs);
        for (taken, slot) in sleepers.iter_mut().zip(slots.iter_mut()) {
            *taken = slot.take();
        }
    });
    // Every pending `TickSleep` polls again and re-registers if its deadline is ahead.
    for waker in sleepers.into_iter().flatten() {
        waker.wake();
    }
}

/// The embassy-time driver: `now()` is the tick count, alarms fire on the first tick at or
/// after their deadline.
struct SysTickDriver;

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        ticks()
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut alarms = ALARMS.borrow_ref_mut(cs);
            if alarms.schedule_wake(at, waker) {
                // Also wakes `waker` at once if `at` has passed already.
                let now = TICKS.borrow(cs).get();
                NEXT_ALARM.borrow(cs).set(alarms.next_expiration(now));
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver);

/// `duration` in ticks, rounded up (a sleep never ends early), saturating.
pub fn duration_to_ticks(duration: Duration) -> u64 {
    let ticks = duration
        .as_nanos()
        .saturating_mul(u128::from(TICK_HZ))
        .div_ceil(1_000_000_000);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// `duration` as an embassy-time duration (in ticks, rounded up, saturating).
pub fn embassy_duration(duration: Duration) -> embassy_time::Duration {
    embassy_time::Duration::from_ticks(duration_to_ticks(duration))
}

/// The closure timer: sleeps on the SysTick count, no embassy-time involved.
pub fn tick_timer(d: Duration) -> TickSleep {
    TickSleep::new(d)
}

/// A sleep on the SysTick count, with no embassy-time involved: the deadline is set when
/// it is created (as `Timer::sleep` demands) and it is ready on the first tick at or after.
pub struct TickSleep {
    deadline: u64,
}

impl TickSleep {
    /// A sleep of `duration` from now (saturating: `Duration::MAX` sleeps forever).
    pub fn new(duration: Duration) -> Self {
        Self {
            deadline: ticks().saturating_add(duration_to_ticks(duration)),
        }
    }
}

impl Future for TickSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        critical_section::with(|cs| {
            if TICKS.borrow(cs).get() >= self.deadline {
                return Poll::Ready(());
            }
            let mut slots = SLEEPERS.borrow_ref_mut(cs);
            if slots.iter().flatten().any(|w| w.will_wake(cx.waker())) {
                return Poll::Pending;
            }
            match slots.iter_mut().find(|slot| slot.is_none()) {
                Some(slot) => *slot = Some(cx.waker().clone()),
                // Every slot taken: ask to be polled again (busy, but never late).
                None => cx.waker().wake_by_ref(),
            }
            Poll::Pending
        })
    }
}

/// The host's monotonic clock in microseconds (semihosting `SYS_ELAPSED` / `SYS_TICKFREQ`),
/// or `None` if the emulator does not provide it.
pub fn host_micros() -> Option<u64> {
    let mut elapsed = [0u32; 2];
    // SAFETY: SYS_ELAPSED writes two words (low, high) to the block `r1` points to;
    // SYS_TICKFREQ takes no argument.
    let (status, freq) = unsafe {
        (
            cortex_m_semihosting::syscall1(
                cortex_m_semihosting::nr::ELAPSED,
                elapsed.as_mut_ptr() as usize,
            ),
            cortex_m_semihosting::syscall1(cortex_m_semihosting::nr::TICKFREQ, 0),
        )
    };
    if status != 0 || freq == 0 || freq == usize::MAX {
        return None;
    }
    let ticks = u64::from(elapsed[0]) | (u64::from(elapsed[1]) << 32);
    Some((u128::from(ticks) * 1_000_000 / freq as u128) as u64)
}
