//! async-completion on a microcontroller: real interrupt handlers call `complete()` and
//! `complete_all()`, embassy tasks wait, with and without timeouts. Runs under QEMU on a
//! Cortex-M3 (lm3s6965evb, `thumbv7m-none-eabi`) and a Cortex-M0 without compare-and-swap
//! (micro:bit, `thumbv6m-none-eabi`), from the same source.
//!
//! Prints one line per scenario through semihosting and ends QEMU with exit status 0 only
//! if every check of every scenario held (1 otherwise; a hang is stopped by `run.sh`).
//!
//! Layout: `harness/` holds what scenarios share (checks, chip, interrupts, clock, probes,
//! stack painting); `scenario/<name>.rs` holds one scenario each, an
//! `async fn run(spawner: Spawner, c: Check) -> bool`, registered once below.

#![no_std]
#![no_main]

mod harness;

use async_completion::{Completion, CriticalSectionLock};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;

use harness::{chip, clock, irq, stack, Check};

/// Declares the scenarios (`scenario/<name>.rs`, one module each) and runs them in this
/// order, numbered from 1.
macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {
        mod scenario {
            $(pub mod $name;)+
        }

        /// Runs every scenario in order: how many passed, of how many.
        async fn run_scenarios(spawner: Spawner) -> (usize, usize) {
            let (mut number, mut passed) = (0u8, 0usize);
            $(
                number += 1;
                if scenario::$name::run(spawner, Check::new(number)).await {
                    passed += 1;
                }
            )+
            (passed, usize::from(number))
        }
    };
}

// To add a scenario: write `scenario/<name>.rs` and add its name here.
scenarios! {
    irq_complete_resumes_waiter,
    irq_complete_is_banked,
    irq_complete_all,
    wait_timeout,
    embassy_raw_mutex,
    storm,
    irq_stack,
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    // Before any interrupt runs: `scenario/irq_stack.rs` reports how deep the stack went.
    stack::paint_free();
    let mut core = cortex_m::Peripherals::take().unwrap();
    clock::start(&mut core.SYST, &mut core.SCB);
    irq::init(&mut core.NVIC);
    hprintln!(
        "async-completion firmware on {}: SysTick {} Hz core clock, {} Hz tick; Completion<CriticalSectionLock> {} B, Wait {} B, WaitTimeout<EmbassyTimer> {} B",
        chip::NAME,
        chip::CORE_HZ,
        clock::TICK_HZ,
        size_of::<Completion<CriticalSectionLock>>(),
        size_of::<async_completion::Wait<'static, CriticalSectionLock>>(),
        size_of::<async_completion::WaitTimeout<'static, embassy_time::Timer, CriticalSectionLock>>(),
    );

    let (passed, total) = run_scenarios(spawner).await;
    hprintln!("{} of {} scenarios passed on {}", passed, total, chip::NAME);
    debug::exit(if passed == total {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("PANIC: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    hprintln!("HARD FAULT: {:?}", frame);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
