//! `complete_all()` in an interrupt handler releases every queued task, waking them in FIFO
//! order (recorded by their wakers, inside the handler), and all of them run (embassy
//! polls a batch of woken tasks in reverse order); it stays done, and `complete()`
//! changes nothing, until `reinit()`.

use core::sync::atomic::{AtomicBool, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, TimedOut};
use embassy_executor::Spawner;

use crate::harness::clock::tick_timer;
use crate::harness::irq::fire;
use crate::harness::probe::{poll_once, recorded, until, SharedLog, WAKE_LOG};
use crate::harness::{check, tasks_done, Check, TASK_DONE};

const WAITERS: usize = 3;
/// The completion under test.
static C: Completion<CriticalSectionLock> = Completion::with_lock();
static QUEUED: [AtomicBool; WAITERS] = [const { AtomicBool::new(false) }; WAITERS];
static RUN_LOG: SharedLog = SharedLog::new();

#[embassy_executor::task(pool_size = WAITERS)]
async fn waiter(id: u8) {
    QUEUED[usize::from(id)].store(true, Release);
    recorded(id, C.wait()).await;
    RUN_LOG.push(id);
    TASK_DONE.complete();
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    WAKE_LOG.clear();
    RUN_LOG.clear();
    // Queue the waiters one by one, so the queue order is 0, 1, 2 by construction.
    for id in 0..WAITERS as u8 {
        spawner.spawn(waiter(id).unwrap());
        let queued = until(|| QUEUED[usize::from(id)].load(Acquire)).await;
        check!(c, queued, "waiter {} never ran", id);
    }
    check!(c, !C.is_done(), "done before complete_all()");

    check!(
        c,
        fire(|| C.complete_all()),
        "the interrupt handler did not run"
    );
    // The handler woke every waiter, oldest first; none has run yet.
    let woken = WAKE_LOG.get();
    check!(
        c,
        woken.as_slice() == [0, 1, 2],
        "woken in order {:?}, expected [0, 1, 2] (FIFO)",
        woken
    );
    check!(
        c,
        RUN_LOG.get().len() == 0,
        "a waiter ran inside the handler"
    );
    check!(c, C.is_done(), "not done right after complete_all()");

    let all_ran = tasks_done(WAITERS, Duration::from_secs(2)).await;
    let ran = RUN_LOG.get();
    let mut seen = [false; WAITERS];
    for &id in ran.as_slice() {
        seen[usize::from(id)] = true;
    }
    check!(
        c,
        all_ran && ran.len() == WAITERS && seen.iter().all(|&s| s),
        "released waiters that ran: {:?}",
        ran
    );

    // Sticky: every try_wait and wait succeeds without consuming; complete() changes nothing.
    check!(
        c,
        (0..5).all(|_| C.try_wait()),
        "try_wait() failed after complete_all()"
    );
    let late = poll_once(C.wait_timeout(tick_timer, Duration::from_millis(50))).await;
    check!(
        c,
        late == Some(Ok(())),
        "a new wait after complete_all() was not ready at once: {:?}",
        late
    );
    check!(
        c,
        fire(|| C.complete()),
        "the interrupt handler did not run"
    );
    check!(
        c,
        C.is_done(),
        "not done after complete() following complete_all()"
    );

    C.reinit();
    check!(c, !C.is_done(), "done after reinit()");
    check!(
        c,
        !C.try_wait(),
        "try_wait() succeeded after reinit(): complete() after complete_all() was banked"
    );
    let after = C.wait_timeout(tick_timer, Duration::from_millis(5)).await;
    check!(
        c,
        after == Err(TimedOut),
        "a wait after reinit() got {:?}",
        after
    );
    c.finish(
        "IRQ complete_all() releases every queued task",
        format_args!(
            "queued [0, 1, 2], woken {:?} in the handler (FIFO), polled {:?} by embassy; sticky until reinit()",
            woken, ran
        ),
    )
}
