//! The storm on `Completion<CriticalSectionLock>`: both cores, in thread mode, run
//! millions of operations on one completion at the same time: `complete()`,
//! `complete_n(1..=3)`, `try_wait()`, and `wait()` futures polled by hand with counting
//! wakers, queued, re-polled and dropped while possibly handed a completion (the engine:
//! `harness/storm.rs`). Every wait's wakes are counted: none lost, duplicated or
//! stranded; posted = consumed + banked exactly; the cores overlapped and contended for
//! the critical-section lock.

use async_completion::{Completion, CriticalSectionLock};
use embassy_executor::Spawner;

use crate::harness::storm::{self, Barrier};
use crate::harness::Check;

/// Operations per core.
const ITERATIONS: u32 = 2_000_000;

static S: Completion<CriticalSectionLock> = Completion::with_lock();
static BARRIER: Barrier = Barrier::new();

fn core1_job(_: Spawner) {
    storm::core1_part(&S, ITERATIONS, &BARRIER);
}

pub async fn run(_spawner: Spawner, mut c: Check) -> bool {
    let r = storm::two_core_storm(&S, ITERATIONS, &BARRIER, core1_job).await;
    r.check(&mut c, true);
    c.finish(
        "storm on Completion<CriticalSectionLock> from both cores' thread mode",
        format_args!("{}", r),
    )
}
