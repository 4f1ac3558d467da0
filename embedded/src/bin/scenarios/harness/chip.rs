//! What differs between the two chips: interrupt names and numbers, the core clock, and the
//! peripheral timer that drives the storm. Everything else is shared.
//!
//! Two interrupts besides SysTick:
//! - SIGNAL: an interrupt no peripheral raises, pended by software through the NVIC;
//! - STORM: a periodic hardware timer.
//!
//! This module depends on nothing else in the firmware: what the two handlers run is
//! passed in by [`irq`](super::irq), which binds them with [`bind_interrupts!`].

pub use imp::*;

/// Interrupt priorities (the top bits are the implemented ones: 2 on Cortex-M0, 3 on the
/// LM3S6965): the storm timer can preempt the signal handler and SysTick, the signal
/// handler can preempt SysTick.
pub const PRIO_STORM: u8 = 0x00;
pub const PRIO_SIGNAL: u8 = 0x40;
pub const PRIO_LOW: u8 = 0xC0;

#[cfg(chip = "lm3s6965")]
mod imp {
    use core::ptr::write_volatile;

    pub use lm3s6965::Interrupt;

    pub const NAME: &str = "Cortex-M3, TI LM3S6965 (QEMU lm3s6965evb)";
    /// QEMU's lm3s6965evb runs the core (and SysTick's core clock source) at 12.5 MHz: its
    /// system control model derives the period from the reset value of RCC.SYSDIV
    /// (5 ns x 16). Measured against the host clock: 6 x 2^24 cycles took 8.05 s.
    pub const CORE_HZ: u32 = 12_500_000;

    /// GPIO port A: nothing drives its line in this firmware.
    pub const SIGNAL_IRQ: Interrupt = Interrupt::GPIOA;
    /// General-purpose timer 0, half A.
    pub const STORM_IRQ: Interrupt = Interrupt::TIMER_0A;

    /// The attribute that makes a function an interrupt handler, and the interrupt names it
    /// checks the function's name against.
    pub use lm3s6965::interrupt;

    /// Defines the handlers of this chip's two interrupts: SIGNAL runs `$signal()`, STORM
    /// acknowledges its timer and runs `$storm()`. Invoked once, by `irq`.
    macro_rules! bind_interrupts {
        (signal: $signal:path, storm: $storm:path $(,)?) => {
            #[$crate::harness::chip::interrupt]
            fn GPIOA() {
                // `#[interrupt]` checks the name against the chip's `interrupt` enum.
                use $crate::harness::chip::interrupt;
                $signal();
            }

            #[$crate::harness::chip::interrupt]
            fn TIMER_0A() {
                use $crate::harness::chip::interrupt;
                $crate::harness::chip::storm_timer_ack();
                $storm();
            }
        };
    }
    pub(crate) use bind_interrupts;

    /// Acknowledges timer 0's time-out (GPTMICR.TATOCINT), in its handler.
    #[inline(always)]
    pub fn storm_timer_ack() {
        // SAFETY: a write-1-to-clear register of timer 0, which only this firmware uses.
        unsafe { write_volatile(GPTM0_ICR, 1) };
    }

    const RCGC1: *mut u32 = 0x400F_E104 as *mut u32;
    const GPTM0: usize = 0x4003_0000;
    const GPTM0_CFG: *mut u32 = GPTM0 as *mut u32;
    const GPTM0_TAMR: *mut u32 = (GPTM0 + 0x004) as *mut u32;
    const GPTM0_CTL: *mut u32 = (GPTM0 + 0x00C) as *mut u32;
    const GPTM0_IMR: *mut u32 = (GPTM0 + 0x018) as *mut u32;
    const GPTM0_ICR: *mut u32 = (GPTM0 + 0x024) as *mut u32;
    const GPTM0_TAILR: *mut u32 = (GPTM0 + 0x028) as *mut u32;

    /// Starts timer 0 as a 32-bit periodic timer interrupting every `period_us`.
    pub fn storm_timer_start(period_us: u32) {
        // SAFETY: the documented register sequence for a periodic 32-bit timer, on a
        // peripheral nothing else in this firmware touches.
        unsafe {
            write_volatile(RCGC1, 1 << 16); // clock timer 0
            write_volatile(GPTM0_CTL, 0); // TAEN off while configuring
            write_volatile(GPTM0_CFG, 0); // 32-bit timer
            write_volatile(GPTM0_TAMR, 0x2); // periodic
            write_volatile(GPTM0_TAILR, (CORE_HZ / 100_000) * period_us / 10 - 1);
            write_volatile(GPTM0_ICR, 1);
            write_volatile(GPTM0_IMR, 1); // time-out interrupt
            write_volatile(GPTM0_CTL, 1); // TAEN
        }
    }

    /// Stops timer 0 (called from its own handler).
    pub fn storm_timer_stop() {
        // SAFETY: as in `storm_timer_start`.
        unsafe {
            write_volatile(GPTM0_CTL, 0);
            write_volatile(GPTM0_IMR, 0);
            write_volatile(GPTM0_ICR, 1);
        }
    }
}

#[cfg(chip = "nrf51")]
mod imp {
    pub use nrf51_pac::Interrupt;
    use nrf51_pac::TIMER0;

    pub const NAME: &str = "Cortex-M0, Nordic nRF51822 (QEMU microbit)";
    /// The nRF51's 16 MHz HCLK (QEMU's microbit: the same; measured against the host
    /// clock: 6 x 2^24 cycles took 6.29 s).
    pub const CORE_HZ: u32 = 16_000_000;

    /// Software interrupt 0: reserved for software, nothing raises it.
    pub const SIGNAL_IRQ: Interrupt = Interrupt::SWI0;
    pub const STORM_IRQ: Interrupt = Interrupt::TIMER0;

    /// The attribute that makes a function an interrupt handler, and the interrupt names it
    /// checks the function's name against.
    pub use nrf51_pac::interrupt;

    /// Defines the handlers of this chip's two interrupts: SIGNAL runs `$signal()`, STORM
    /// acknowledges its timer and runs `$storm()`. Invoked once, by `irq`.
    macro_rules! bind_interrupts {
        (signal: $signal:path, storm: $storm:path $(,)?) => {
            #[$crate::harness::chip::interrupt]
            fn SWI0() {
                // `#[interrupt]` checks the name against the chip's `interrupt` enum.
                use $crate::harness::chip::interrupt;
                $signal();
            }

            #[$crate::harness::chip::interrupt]
            fn TIMER0() {
                use $crate::harness::chip::interrupt;
                $crate::harness::chip::storm_timer_ack();
                $storm();
            }
        };
    }
    pub(crate) use bind_interrupts;

    /// Acknowledges TIMER0's compare event, in its handler.
    #[inline(always)]
    pub fn storm_timer_ack() {
        // SAFETY: TIMER0 is only used here and in `storm_timer_*`, never concurrently
        // (the handler does not preempt itself; start/stop run with it idle or in it).
        let timer = unsafe { &*TIMER0::ptr() };
        timer.events_compare[0].write(|w| unsafe { w.bits(0) });
    }

    /// Starts TIMER0 at 1 MHz, compare 0 every `period_us`, cleared by a shortcut.
    pub fn storm_timer_start(period_us: u32) {
        // SAFETY: see `storm_timer_ack`.
        let timer = unsafe { &*TIMER0::ptr() };
        timer.tasks_stop.write(|w| unsafe { w.bits(1) });
        timer.mode.write(|w| w.mode().timer());
        timer.bitmode.write(|w| w.bitmode()._32bit());
        timer.prescaler.write(|w| unsafe { w.prescaler().bits(4) }); // 16 MHz / 2^4
        timer.cc[0].write(|w| unsafe { w.bits(period_us) });
        timer.shorts.write(|w| w.compare0_clear().enabled());
        timer.events_compare[0].write(|w| unsafe { w.bits(0) });
        timer.intenset.write(|w| w.compare0().set());
        timer.tasks_clear.write(|w| unsafe { w.bits(1) });
        timer.tasks_start.write(|w| unsafe { w.bits(1) });
    }

    /// Stops TIMER0 (called from its own handler).
    pub fn storm_timer_stop() {
        // SAFETY: see `storm_timer_ack`.
        let timer = unsafe { &*TIMER0::ptr() };
        timer.tasks_stop.write(|w| unsafe { w.bits(1) });
        timer.intenclr.write(|w| w.compare0().clear());
        timer.events_compare[0].write(|w| unsafe { w.bits(0) });
    }
}
