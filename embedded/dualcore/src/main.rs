//! async-completion on the two Cortex-M33 cores of QEMU `mps2-an521` (SSE-200,
//! `thumbv8m.main-none-eabi`), under multi-threaded TCG: each core is a host thread, so the
//! cores really run at the same time. Core 0 boots, starts core 1 (its own vector table
//! and stack, INITSVTOR1, CPUWAIT = 0), and each core runs its own embassy executor; the
//! critical section masks the core's interrupts and takes a spin lock shared by both cores
//! (`harness/cs.rs`), as on an RP2040.
//!
//! Prints one line per scenario through semihosting and ends QEMU with exit status 0 only
//! if every check of every scenario held (1 otherwise; a hang is stopped by `run.sh`).
//! Scenarios that race the cores also fail when the cores did not overlap.
//!
//! Built with the debug profile (`cargo build`: debug assertions on), it runs one scenario only:
//! what the crate's debug build says when an interrupt wants the spin lock that the code
//! it interrupted holds.
//!
//! Layout as in the single-core firmware: `harness/` (what scenarios share; some of it is
//! that firmware's own modules, by path) and `scenario/<name>.rs`, one scenario each, an
//! `async fn run(spawner: Spawner, c: Check) -> bool` run on core 0, registered below.

#![no_std]
#![no_main]
// The debug build runs one scenario: most of the harness is unused there.
#![cfg_attr(debug_assertions, allow(dead_code, unused_imports))]

mod harness;

use core::fmt::Write as _;
use core::sync::atomic::{AtomicUsize, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;

use harness::{chip, clock, cores, irq, stack, Check};

/// Declares the scenarios (`scenario/<name>.rs`, one module each) and runs them in this
/// order under their numbers; `#[cfg]` picks which build runs which.
macro_rules! scenarios {
    ($($(#[cfg($cfg:meta)])* $(#[path = $path:literal])? $number:literal => $name:ident),+ $(,)?) => {
        mod scenario {
            $($(#[cfg($cfg)])* $(#[path = $path])? pub mod $name;)+
        }

        /// Runs every scenario of this build in order: how many passed, of how many.
        async fn run_scenarios(spawner: Spawner) -> (usize, usize) {
            let (mut total, mut passed) = (0usize, 0usize);
            $(
                $(#[cfg($cfg)])*
                {
                    total += 1;
                    if scenario::$name::run(spawner, Check::new($number)).await {
                        passed += 1;
                    }
                }
            )+
            (passed, total)
        }
    };
}

// To add a scenario: write `scenario/<name>.rs` and add it here.
scenarios! {
    #[cfg(not(debug_assertions))]
    1 => irq_completes_while_tasks_wait,
    #[cfg(not(debug_assertions))]
    2 => cross_core_wakeups,
    #[cfg(not(debug_assertions))]
    3 => storm_critical_section,
    #[cfg(not(debug_assertions))]
    4 => irq_complete_all_reinit,
    #[cfg(not(debug_assertions))]
    5 => timed_waits_race,
    #[cfg(not(debug_assertions))]
    6 => storm_plain_spin_lock,
    // The single-core firmware's own scenario (by path), measured on core 0 here.
    #[cfg(not(debug_assertions))]
    #[path = "../../../src/bin/scenarios/scenario/irq_stack.rs"]
    7 => irq_stack,
    // The debug build's only scenario: it ends the run with a panic.
    #[cfg(debug_assertions)]
    8 => irq_wants_held_spin_lock,
}

#[cortex_m_rt::entry]
fn main() -> ! {
    // Before any interrupt runs: the stack scenario reports how deep the stack went.
    stack::paint_free();
    let mut core = cortex_m::Peripherals::take().unwrap();
    clock::start(&mut core.SYST, &mut core.SCB);
    irq::init(&mut core.NVIC);
    cores::init_core0(&mut core.NVIC);
    cores::run(|spawner| spawner.spawn(main_task(spawner).unwrap()))
}

#[embassy_executor::task]
async fn main_task(spawner: Spawner) {
    let identity0 = cores::cpu_identity();
    let core0 = cores::this_core();
    cores::start_core1();
    let identity1 = cores::wait_core1_up(Duration::from_secs(5));
    // The tick against the host's clock: SysTick on the processor clock, CORE_HZ.
    let (h0, t0) = (harness::host_now(), clock::ticks());
    embassy_time::Timer::after_millis(200).await;
    let (host_ms, ticks) = (harness::host_us_since(h0) / 1000, clock::ticks() - t0);
    hprintln!(
        "async-completion dual-core firmware on {}: core 0 CPU_IDENTITY {} (stack says {}), core 1 {}; SysTick {} Hz processor clock, {} ticks in {} ms of host time; {} build; Completion<CriticalSectionLock> {} B, Completion {} B",
        chip::NAME,
        identity0,
        core0,
        match identity1 {
            Some(id) => id as i32,
            None => -1,
        },
        chip::CORE_HZ,
        ticks,
        host_ms,
        if cfg!(debug_assertions) { "debug (debug assertions)" } else { "release" },
        size_of::<Completion<CriticalSectionLock>>(),
        size_of::<Completion>(),
    );
    let (passed, total) = if identity0 != 0 || core0 != 0 || identity1 != Some(1) {
        hprintln!("[FAIL] core 1 did not start, or the cores are not who they say");
        (0, 1)
    } else {
        run_scenarios(spawner).await
    };
    hprintln!("{} of {} scenarios passed on {}", passed, total, chip::NAME);
    debug::exit(if passed == total {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
}

/// A panic the running scenario expects: it judges the message (printing its line) and
/// says whether it passed. Set by `expect_panic`.
static PANIC_JUDGE: AtomicUsize = AtomicUsize::new(0);

/// Makes the next panic the end of the run, judged by `judge` (for the scenario that
/// shows a panic's message).
#[allow(dead_code)]
pub fn expect_panic(judge: fn(&str) -> bool) {
    PANIC_JUDGE.store(judge as usize, Release);
}

/// The text of a panic, kept in a fixed buffer (the rest is cut).
struct Text {
    buf: [u8; 768],
    len: usize,
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let judge = PANIC_JUDGE.swap(0, AcqRel);
    if judge == 0 {
        hprintln!("PANIC on core {}: {}", cores::this_core(), info);
        debug::exit(debug::EXIT_FAILURE);
    } else {
        let mut text = Text {
            buf: [0; 768],
            len: 0,
        };
        let _ = write!(text, "{}", info.message());
        let message = core::str::from_utf8(&text.buf[..text.len]).unwrap_or("(not UTF-8)");
        hprintln!(
            "    caught panic on core {}: {}",
            cores::this_core(),
            message
        );
        // SAFETY: only `expect_panic` stores into PANIC_JUDGE, and only such a `fn`.
        let judge: fn(&str) -> bool =
            unsafe { core::mem::transmute::<usize, fn(&str) -> bool>(judge) };
        let ok = judge(message);
        hprintln!("{} of 1 scenarios passed on {}", u8::from(ok), chip::NAME);
        debug::exit(if ok {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    hprintln!("HARD FAULT on core {}: {:?}", cores::this_core(), frame);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
