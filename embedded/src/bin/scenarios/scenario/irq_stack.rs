//! How much stack an interrupt handler that calls `complete_all()` or `complete()` takes,
//! measured on the chip: the free stack below the interrupted code is painted, the
//! interrupt pended, and the lowest word the handler overwrote found
//! (`irq::fire_measuring_stack`). Each figure counts from the stack pointer the interrupt
//! found: the 32 B exception frame the core pushes, the harness's handler around the hook
//! (its share is what an empty hook takes), and the call with every waker it wakes
//! (embassy's). `complete_all()` collects the wakers in a `WakeBatch` on the stack; the
//! bounds below make a regression fail the scenario.
//!
//! Also reports how deep the stack went over all the scenarios before this one (painted
//! at start-up by `main`), against the room the chip has for it.

use core::sync::atomic::{AtomicBool, Ordering::*};
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_executor::Spawner;

use crate::harness::irq::{self, HandlerStack};
use crate::harness::probe::until;
use crate::harness::{check, stack, tasks_done, Check, TASK_DONE};

/// `complete_all()` in an interrupt handler, exception frame included, at most (bytes).
/// Measured 288 B on the Cortex-M3 and 292 B on the Cortex-M0: one `WakeBatch` of 8
/// wakers on 32-bit targets, and `Drain::drop` takes no batch of its own. (680 / 692 B
/// before, with two batches of 32.) 312 B on core 0 of the dual-core Cortex-M33 firmware
/// (`../../../../dualcore`, which runs this file too, with its multi-core critical section).
const COMPLETE_ALL_BOUND: usize = 384;
/// `complete()` in an interrupt handler, handing off or banking, at most (bytes).
/// Measured 48 B (Cortex-M3) and 80 B (Cortex-M0) handing off; 96 B on the Cortex-M33.
const COMPLETE_BOUND: usize = 128;
/// How far below the interrupted stack pointer the measurement paints.
const WINDOW: usize = 2048;
/// Waiters queued when `complete_all()` runs.
const WAITERS: usize = 4;

/// The completion under test.
static C: Completion<CriticalSectionLock> = Completion::with_lock();
/// One slot per waiter task: set when it is about to queue.
static QUEUED: [AtomicBool; WAITERS + 1] = [const { AtomicBool::new(false) }; WAITERS + 1];

#[embassy_executor::task(pool_size = WAITERS + 1)]
async fn waiter(id: usize) {
    QUEUED[id].store(true, Release);
    C.wait().await;
    TASK_DONE.complete();
}

/// Spawns the waiters `ids`, one at a time, and waits until each has queued.
async fn queue(spawner: Spawner, ids: core::ops::Range<usize>) -> bool {
    let mut all = true;
    for id in ids {
        QUEUED[id].store(false, Relaxed);
        spawner.spawn(waiter(id).unwrap());
        // The flag is set in the same poll that queues the wait: once seen, the task waits.
        all &= until(|| QUEUED[id].load(Acquire)).await;
    }
    all
}

/// Checks one measurement: the handler ran, stayed in the painted window, and (if a bound
/// is given) within it.
fn measured(c: &mut Check, what: &str, m: HandlerStack, bound: Option<usize>) {
    check!(c, m.ran, "{}: the interrupt handler did not run", what);
    check!(
        c,
        !m.beyond_window,
        "{}: the handler went beyond the {} B painted",
        what,
        WINDOW
    );
    if let Some(bound) = bound {
        check!(
            c,
            m.depth <= bound,
            "{}: {} B of stack, more than the bound of {} B",
            what,
            m.depth,
            bound
        );
    }
}

pub async fn run(spawner: Spawner, mut c: Check) -> bool {
    // First, before any painting below: the deepest point of the scenarios so far.
    let deepest = stack::deepest();
    let room = stack::top() - stack::limit();

    // The harness alone: the exception frame and the handler around an empty hook.
    let empty = irq::fire_measuring_stack(|| {}, WINDOW);
    measured(&mut c, "empty hook", empty, None);

    // complete() with nobody waiting: banked.
    let banked = irq::fire_measuring_stack(|| C.complete(), WINDOW);
    measured(&mut c, "complete(), banked", banked, Some(COMPLETE_BOUND));
    check!(c, C.try_wait(), "complete() with nobody waiting was not banked");

    // complete() handing the completion to a queued waiter, waking it.
    check!(c, queue(spawner, 0..1).await, "the waiter never ran");
    let handed = irq::fire_measuring_stack(|| C.complete(), WINDOW);
    measured(&mut c, "complete(), handed off", handed, Some(COMPLETE_BOUND));
    check!(c, !C.is_done(), "complete() banked although a waiter was queued");
    check!(
        c,
        tasks_done(1, Duration::from_secs(2)).await,
        "the waiter was not resumed"
    );

    // complete_all() releasing WAITERS queued waiters, waking each.
    check!(
        c,
        queue(spawner, 1..WAITERS + 1).await,
        "a waiter never ran"
    );
    let all = irq::fire_measuring_stack(|| C.complete_all(), WINDOW);
    measured(&mut c, "complete_all()", all, Some(COMPLETE_ALL_BOUND));
    check!(
        c,
        tasks_done(WAITERS, Duration::from_secs(2)).await,
        "the released waiters did not all run"
    );
    check!(c, C.is_done(), "not done after complete_all()");
    C.reinit();

    check!(
        c,
        deepest < room,
        "the stack went {} B deep, all of the {} B it has",
        deepest,
        room
    );
    c.finish(
        "stack of an interrupt handler calling complete_all() / complete()",
        format_args!(
            "complete_all() in IRQ: {} B of stack ({} waiters released; {} B more than an empty handler's {} B), complete() in IRQ: {} B handing off, {} B banking; bounds {} / {} B; deepest stack in the scenarios before: {} of {} B",
            all.depth,
            WAITERS,
            all.depth.saturating_sub(empty.depth),
            empty.depth,
            handed.depth,
            banked.depth,
            COMPLETE_ALL_BOUND,
            COMPLETE_BOUND,
            deepest,
            room
        ),
    )
}
