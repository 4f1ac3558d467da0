//! What differs between the two chips: interrupt names and numbers, the core clock, and the
//! peripheral timer that drives the storm. Everything else is shared.
//!
//! Two interrupts besides SysTick:
//! - SIGNAL: an interrupt no peripheral raises, pended by software through the NVIC; its
//!   handler runs whatever hook [`crate::irq::fire`] installed;
//! - STORM: a periodic hardware timer, whose handler posts completions.

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

    use lm3s6965::interrupt;
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

    #[interrupt]
    fn GPIOA() {
        crate::irq::on_signal();
    }

    #[interrupt]
    fn TIMER_0A() {
        // GPTMICR.TATOCINT: acknowledge the time-out.
        // SAFETY: a write-1-to-clear register of timer 0, which only this firmware uses.
        unsafe { write_volatile(GPTM0_ICR, 1) };
        crate::irq::on_storm_tick();
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
    use nrf51_pac::{interrupt, TIMER0};

    pub const NAME: &str = "Cortex-M0, Nordic nRF51822 (QEMU microbit)";
    /// The nRF51's 16 MHz HCLK (QEMU's microbit: the same; measured against the host
    /// clock: 6 x 2^24 cycles took 6.29 s).
    pub const CORE_HZ: u32 = 16_000_000;

    /// Software interrupt 0: reserved for software, nothing raises it.
    pub const SIGNAL_IRQ: Interrupt = Interrupt::SWI0;
    pub const STORM_IRQ: Interrupt = Interrupt::TIMER0;

    #[interrupt]
    fn SWI0() {
        crate::irq::on_signal();
    }

    #[interrupt]
    fn TIMER0() {
        // SAFETY: TIMER0 is only used here and in `storm_timer_*`, never concurrently
        // (the handler does not preempt itself; start/stop run with it idle or in it).
        let timer = unsafe { &*TIMER0::ptr() };
        timer.events_compare[0].write(|w| unsafe { w.bits(0) });
        crate::irq::on_storm_tick();
    }

    /// Starts TIMER0 at 1 MHz, compare 0 every `period_us`, cleared by a shortcut.
    pub fn storm_timer_start(period_us: u32) {
        // SAFETY: see `TIMER0()`.
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
        // SAFETY: see `TIMER0()`.
        let timer = unsafe { &*TIMER0::ptr() };
        timer.tasks_stop.write(|w| unsafe { w.bits(1) });
        timer.intenclr.write(|w| w.compare0().clear());
        timer.events_compare[0].write(|w| unsafe { w.bits(0) });
    }
}
