//! `complete()` in an interrupt handler hands the completion to a task queued in `wait()`:
//! not banked (`try_wait` cannot take it), and the task resumes.

use core::sync::atomic::{AtomicBool, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_executor::Spawner;

use crate::harness::clock::ticks;
use crate::harness::irq::{self, fire};
use crate::harness::probe::until;
use crate::harness::{check, tasks_done, Check, TASK_DONE};

/// The completion under test.
static C: Completion<CriticalSectionLock> = Completion::with_lock();
static QUEUED: AtomicBool = AtomicBool::new(false);
static RESUMED: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn waiter() {
    QUEUED.store(true, Release);
    C.wait().await;
    RESUMED.store(true, Release);
    TASK_DONE.complete();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    spawner.spawn(waiter().unwrap());
    // The flag is set in the same poll that queues the wait: once seen, the task waits.
    check!(
        c,
        until(|| QUEUED.load(Acquire)).await,
        "the waiter never ran"
    );
    check!(c, !C.is_done(), "done before anything was posted");
    check!(
        c,
        !C.try_wait(),
        "try_wait() succeeded before anything was posted"
    );

    let t0 = ticks();
    check!(
        c,
        fire(|| C.complete()),
        "the interrupt handler did not run"
    );
    // The handler handed the completion to the queued waiter: nothing is banked, nobody
    // else can take it, and the task has not run yet.
    check!(
        c,
        !C.is_done(),
        "complete() banked although a waiter was queued"
    );
    check!(
        c,
        !C.try_wait(),
        "try_wait() took the completion handed to the waiter"
    );
    check!(
        c,
        !RESUMED.load(Acquire),
        "the waiter ran inside the handler"
    );

    let done = tasks_done(1, Duration::from_secs(2)).await;
    check!(
        c,
        done && RESUMED.load(Acquire),
        "the waiter was not resumed"
    );
    check!(
        c,
        !C.is_done() && !C.try_wait(),
        "a completion was left over"
    );
    c.finish(
        "IRQ complete() resumes a task queued in wait()",
        format_args!(
            "handler ran in IRQ {}, handed off (not banked, try_wait false), task resumed after {} ms",
            irq::signal_irq_number(),
            ticks() - t0
        ),
    )
}
