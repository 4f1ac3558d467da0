//! `Completion<CriticalSectionRawMutex>` (embassy-sync's lock) completed, and completed for
//! all, from an interrupt handler.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, EmbassyTimer};
use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;

use crate::harness::clock::ticks;
use crate::harness::irq::fire;
use crate::harness::probe::{poll_once, until};
use crate::harness::{check, tasks_done, Check, TASK_DONE};

/// The completion under test, on embassy-sync's lock.
static C: Completion<CriticalSectionRawMutex> = Completion::with_lock();
static QUEUED: AtomicBool = AtomicBool::new(false);
static RESULT: AtomicU32 = AtomicU32::new(0); // 0: none, 1: Ok, 2: TimedOut

#[embassy_executor::task]
async fn waiter() {
    QUEUED.store(true, Release);
    let r = C.wait_timeout(EmbassyTimer, Duration::from_secs(2)).await;
    RESULT.store(if r.is_ok() { 1 } else { 2 }, Release);
    TASK_DONE.complete();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    spawner.spawn(waiter().unwrap());
    check!(
        c,
        until(|| QUEUED.load(Acquire)).await,
        "the waiter never ran"
    );
    let t0 = ticks();
    check!(
        c,
        fire(|| C.complete()),
        "the interrupt handler did not run"
    );
    check!(
        c,
        !C.is_done(),
        "complete() banked although a waiter was queued"
    );
    let done = tasks_done(1, Duration::from_secs(3)).await;
    let waited = ticks() - t0;
    check!(
        c,
        done && RESULT.load(Acquire) == 1,
        "the waiter got {} (1: Ok, 2: TimedOut)",
        RESULT.load(Acquire)
    );
    check!(
        c,
        waited < 2_000,
        "the waiter resumed only after {} ms",
        waited
    );

    check!(
        c,
        fire(|| C.complete()),
        "the interrupt handler did not run"
    );
    let taken = (0..3).filter(|_| C.try_wait()).count();
    check!(
        c,
        taken == 1,
        "{} try_wait() succeeded after one banked complete()",
        taken
    );
    check!(
        c,
        fire(|| C.complete_all()),
        "the interrupt handler did not run"
    );
    let sticky = poll_once(C.wait()).await.is_some() && C.try_wait() && C.is_done();
    check!(c, sticky, "not sticky after complete_all()");
    C.reinit();
    check!(
        c,
        !C.is_done() && poll_once(C.wait()).await.is_none(),
        "still done after reinit()"
    );
    c.finish(
        "Completion<CriticalSectionRawMutex> (embassy-sync) from an IRQ",
        format_args!(
            "queued task resumed after {} ms; banked 1 -> {} taken; complete_all sticky until reinit()",
            waited, taken
        ),
    )
}
