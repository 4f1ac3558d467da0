//! The board: Arm MPS2+ AN521 under QEMU (`mps2-an521`), an SSE-200 subsystem with two
//! Cortex-M33 cores, used in the Secure state throughout (Secure aliases of every address,
//! bit 28 set). What this module holds: interrupt numbers, the clock, the register
//! addresses the dual-core harness uses, and the CMSDK timers. It depends on nothing else
//! in the firmware (the shared `irq` module binds its handlers through
//! [`bind_interrupts!`], as on the single-core chips).
//!
//! Each core has its own NVIC, SysTick and VTOR. An interrupt pended through a core's NVIC
//! is pending on that core only; a peripheral line wired to both NVICs interrupts the
//! core(s) that enabled it. No PAC: cortex-m-rt's default device table sends every
//! interrupt to `DefaultHandler`, which `cores` dispatches by core and number.

use core::ptr::write_volatile;

use cortex_m::interrupt::InterruptNumber;

pub const NAME: &str = "2 x Cortex-M33, Arm SSE-200 (QEMU mps2-an521)";

/// The core clock, which SysTick counts with CSR.CLKSOURCE = 1 (the SSE-200 wires no
/// reference clock to SysTick, so CLKSOURCE = 0 would never count): 20 MHz, the AN521's
/// SYSCLK, as QEMU models it; `main` checks the tick against the host's clock.
pub const CORE_HZ: u32 = 20_000_000;
/// The CMSDK timers count the same clock.
const TIMER_HZ: u32 = 20_000_000;

/// Interrupt lines used here (SSE-200 numbering).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u16)]
pub enum Interrupt {
    /// CMSDK APB timer 0: enabled in core 1's NVIC only (its periodic hardware interrupt).
    Timer0 = 3,
    /// CMSDK APB timer 1: enabled in core 0's NVIC only (the shared `irq` storm timer).
    Timer1 = 4,
    /// MHU0, the message-handling unit: each core's line 6 is its own doorbell.
    Mhu0 = 6,
    /// A line the SSE-200 reserves (27-31: nothing drives them), pended by software
    /// through a core's own NVIC, on each core: the SIGNAL interrupt.
    Signal = 30,
}

// SAFETY: the numbers are interrupt lines of the SSE-200's NVICs.
unsafe impl InterruptNumber for Interrupt {
    fn number(self) -> u16 {
        self as u16
    }
}

/// The SIGNAL interrupt, on whichever core pends it.
pub const SIGNAL_IRQ: Interrupt = Interrupt::Signal;
/// The shared `irq` module's storm timer, on core 0.
pub const STORM_IRQ: Interrupt = Interrupt::Timer1;
/// Core 1's periodic timer.
pub const CORE1_TIMER_IRQ: Interrupt = Interrupt::Timer0;
/// Each core's doorbell.
pub const DOORBELL_IRQ: Interrupt = Interrupt::Mhu0;

/// Interrupt priorities (the M33 of the SSE-200 implements 3 bits): the timers preempt
/// SIGNAL, which preempts SysTick and the doorbell.
pub const PRIO_STORM: u8 = 0x00;
pub const PRIO_SIGNAL: u8 = 0x40;
pub const PRIO_LOW: u8 = 0xC0;

/// CPU_IDENTITY: reads 0 on core 0, 1 on core 1.
pub const CPU_IDENTITY: *const u32 = 0x4001_F000 as *const u32;
/// SSE-200 system control: core 1's initial vector table (initial SP, reset vector) ...
pub const INITSVTOR1: *mut u32 = 0x5002_1114 as *mut u32;
/// ... and CPUWAIT: bit 1 holds core 1 in reset wait; clearing it starts core 1.
pub const CPUWAIT: *mut u32 = 0x5002_1118 as *mut u32;

/// MHU0 (Secure alias): set / clear registers of each core's doorbell interrupt.
const MHU0: usize = 0x5000_3000;
const MHU_INTR_SET: [usize; 2] = [MHU0 + 0x04, MHU0 + 0x14];
const MHU_INTR_CLR: [usize; 2] = [MHU0 + 0x08, MHU0 + 0x18];

/// Raises core `core`'s doorbell interrupt.
#[inline]
pub fn doorbell_ring(core: usize) {
    // SAFETY: a write-1-to-set register of MHU0, which only the doorbell uses.
    unsafe { write_volatile(MHU_INTR_SET[core] as *mut u32, 1) };
}

/// Clears core `core`'s doorbell interrupt (in its handler).
#[inline]
pub fn doorbell_clear(core: usize) {
    // SAFETY: the matching write-1-to-clear register.
    unsafe { write_volatile(MHU_INTR_CLR[core] as *mut u32, u32::MAX) };
}

/// A CMSDK APB timer (Secure alias): CTRL, VALUE, RELOAD, INTSTATUS/INTCLEAR.
#[derive(Clone, Copy)]
pub struct CmsdkTimer(usize);
pub const TIMER0: CmsdkTimer = CmsdkTimer(0x5000_0000);
pub const TIMER1: CmsdkTimer = CmsdkTimer(0x5000_1000);

impl CmsdkTimer {
    /// Starts the timer, interrupting every `period_us`.
    pub fn start(self, period_us: u32) {
        // SAFETY: the timer's documented registers; each timer has one user here.
        unsafe {
            write_volatile(self.0 as *mut u32, 0);
            write_volatile(
                (self.0 + 0x08) as *mut u32,
                TIMER_HZ / 1_000_000 * period_us - 1,
            );
            write_volatile(
                (self.0 + 0x04) as *mut u32,
                TIMER_HZ / 1_000_000 * period_us - 1,
            );
            write_volatile((self.0 + 0x0C) as *mut u32, 1);
            write_volatile(self.0 as *mut u32, 1 | 1 << 3); // enable, interrupt enable
        }
    }

    /// Stops it and clears its interrupt.
    pub fn stop(self) {
        // SAFETY: as in `start`.
        unsafe {
            write_volatile(self.0 as *mut u32, 0);
            write_volatile((self.0 + 0x0C) as *mut u32, 1);
        }
    }

    /// Acknowledges its interrupt, in its handler.
    #[inline(always)]
    pub fn ack(self) {
        // SAFETY: INTCLEAR, write 1 to clear.
        unsafe { write_volatile((self.0 + 0x0C) as *mut u32, 1) };
    }
}

/// For the shared `irq` module: the storm timer is timer 1, on core 0.
pub fn storm_timer_start(period_us: u32) {
    TIMER1.start(period_us);
}
pub fn storm_timer_stop() {
    TIMER1.stop();
}
#[inline(always)]
pub fn storm_timer_ack() {
    TIMER1.ack();
}

/// Defines the entry points of core 0's two `irq` interrupts, `signal_entry` (runs
/// `$signal()`) and `storm_entry` (acknowledges timer 1, runs `$storm()`), which
/// `cores::DefaultHandler` calls. Invoked once, by the shared `irq` module.
macro_rules! bind_interrupts {
    (signal: $signal:path, storm: $storm:path $(,)?) => {
        /// Core 0's SIGNAL interrupt.
        pub fn signal_entry() {
            $signal();
        }

        /// Core 0's storm timer interrupt.
        pub fn storm_entry() {
            $crate::harness::chip::storm_timer_ack();
            $storm();
        }
    };
}
pub(crate) use bind_interrupts;
