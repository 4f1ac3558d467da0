//! The same storm on a plain `Completion`: without `std` its lock is the crate's spin
//! lock (`async_completion::SpinLock`, the `DefaultLock` without `std`), which is right
//! for code that never completes from an interrupt handler, here both cores' thread mode.
//! The same checks (`harness/storm.rs`): nothing lost, duplicated or stranded; posted =
//! consumed + banked exactly; the cores overlapped. (The spin lock lives inside the
//! crate, so its contention is not counted; the critical-section counts shown are the
//! harness's own.)

use async_completion::Completion;
use embassy_executor::Spawner;

use crate::harness::storm::{self, Barrier};
use crate::harness::Check;

/// Operations per core.
const ITERATIONS: u32 = 2_000_000;

static S: Completion = Completion::new();
static BARRIER: Barrier = Barrier::new();

fn core1_job(_: Spawner) {
    storm::core1_part(&S, ITERATIONS, &BARRIER);
}

pub async fn run(_spawner: Spawner, mut c: Check) -> bool {
    let r = storm::two_core_storm(&S, ITERATIONS, &BARRIER, core1_job).await;
    r.check(&mut c, false);
    c.finish(
        "storm on a plain Completion (SpinLock) from both cores' thread mode",
        format_args!("{}", r),
    )
}
