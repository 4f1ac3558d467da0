//! `complete()` in an interrupt handler with nobody waiting is banked: exactly one
//! `try_wait` takes it.

use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, TimedOut};
use embassy_executor::Spawner;

use crate::harness::clock::tick_timer;
use crate::harness::irq::fire;
use crate::harness::{check, Check};

/// The completion under test.
static C: Completion<CriticalSectionLock> = Completion::with_lock();

pub async fn run(_spawner: Spawner, mut c: Check) -> bool {
    check!(
        c,
        fire(|| C.complete()),
        "the interrupt handler did not run"
    );
    check!(
        c,
        C.is_done(),
        "not done after complete() with nobody waiting"
    );
    check!(c, C.is_done(), "is_done() consumed the completion");
    let taken = (0..4).filter(|_| C.try_wait()).count();
    check!(
        c,
        taken == 1,
        "{} try_wait() succeeded, expected exactly 1",
        taken
    );
    check!(c, !C.is_done(), "done after the only completion was taken");
    let late = C.wait_timeout(tick_timer, Duration::from_millis(5)).await;
    check!(
        c,
        late == Err(TimedOut),
        "a wait after the bank was emptied got {:?}",
        late
    );

    // Three interrupts, three banked completions: exactly three takes.
    let ran = (0..3).filter(|_| fire(|| C.complete())).count();
    check!(c, ran == 3, "{} of 3 interrupt handlers ran", ran);
    let taken3 = (0..6).filter(|_| C.try_wait()).count();
    check!(
        c,
        taken3 == 3,
        "{} try_wait() succeeded after 3 banked, expected 3",
        taken3
    );
    c.finish(
        "IRQ complete() with nobody waiting is banked",
        format_args!(
            "1 posted -> {} taken by try_wait, then wait_timeout {:?}; 3 posted -> {} taken",
            taken, late, taken3
        ),
    )
}
