//! What happens when an interrupt wants the spin lock that the code it interrupted holds:
//! a plain `Completion` (without `std` its lock is the crate's `SpinLock`) used by thread
//! mode on core 0 and completed by core 0's own timer interrupt. Thread mode keeps waits
//! queued, so `complete()` in the handler needs the lock; sooner or later the interrupt
//! lands while thread mode holds it, and the handler spins on a lock whose holder cannot
//! run until the handler returns. A release build spins there forever (the chip hangs);
//! a debug build gives up after 2^26 turns and panics with a message naming the cause and
//! the cure, `CriticalSectionLock`. The firmware's panic handler catches the message and
//! this scenario checks it.
//!
//! Runs only in the debug build (`cargo build`: debug assertions on, the crate's included), as the
//! only scenario: the panic ends the run. If the interrupt never lands in a hold within
//! 30 s, the scenario fails (and ends) instead of hanging.

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicU32, Ordering::*};
use core::task::{Context, Waker};

use async_completion::Completion;
use embassy_executor::Spawner;

use crate::harness::{check, chip, clock, host_now, irq, Check};

/// The number this scenario has in the list (it runs alone, in its own build).
const NUMBER: u8 = 8;
const PERIOD_US: u32 = 20;

static PLAIN: Completion = Completion::new();
static ITERATIONS: AtomicU32 = AtomicU32::new(0);
/// The host's clock (low 32 bits of microseconds) when the storm began.
static STARTED_US: AtomicU32 = AtomicU32::new(0);

/// Judges the panic (called by the firmware's panic handler).
fn judge(message: &str) -> bool {
    let mut c = Check::new(NUMBER);
    let ms = (host_now() as u32).wrapping_sub(STARTED_US.load(Relaxed)) / 1000;
    check!(
        c,
        message.contains("CriticalSectionLock"),
        "the panic does not name CriticalSectionLock"
    );
    check!(
        c,
        message.contains("its holder is not running"),
        "the panic does not say the holder is not running"
    );
    c.finish(
        "an interrupt wanting the spin lock thread mode holds: the debug build panics naming the cure",
        format_args!(
            "core 0's timer interrupt ({} us) spun on the plain Completion's SpinLock held by the thread mode it interrupted; the debug build panicked {} ms (host time) after the storm began, {} thread-mode iterations in (SysTick stops while the handler spins), naming CriticalSectionLock",
            PERIOD_US,
            ms,
            ITERATIONS.load(Relaxed)
        ),
    )
}

pub async fn run(_spawner: Spawner, mut c: Check) -> bool {
    crate::expect_panic(judge);
    STARTED_US.store(host_now() as u32, Relaxed);
    irq::storm_start(|| PLAIN.complete(), u32::MAX, u32::MAX, PERIOD_US);
    let mut cx = Context::from_waker(Waker::noop());
    let t0 = clock::ticks();
    while clock::ticks() - t0 < 30_000 {
        let mut a = pin!(PLAIN.wait());
        let _ = a.as_mut().poll(&mut cx);
        {
            let mut b = pin!(PLAIN.wait());
            let _ = b.as_mut().poll(&mut cx);
            let _ = a.as_mut().poll(&mut cx);
        }
        ITERATIONS.fetch_add(1, Relaxed);
    }
    chip::storm_timer_stop();
    check!(
        c,
        false,
        "in 30 s ({} iterations) the interrupt never landed while thread mode held the lock",
        ITERATIONS.load(Relaxed)
    );
    c.finish(
        "an interrupt wanting the spin lock thread mode holds: the debug build panics naming the cure",
        format_args!("no panic"),
    )
}
