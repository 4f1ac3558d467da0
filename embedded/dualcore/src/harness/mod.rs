//! What the dual-core scenarios share. Some modules are the single-core firmware's own,
//! included by path, so that both firmwares measure the same way: `check` (the `[PASS]` /
//! `[FAIL]` lines), `clock` (SysTick on core 0: the embassy-time driver and `TickSleep`),
//! `irq` (core 0's SIGNAL interrupt and storm timer, the stack measurement), `probe`,
//! `stack`. The rest is this board's:
//!
//! - `chip`: the SSE-200's interrupt lines, registers and timers (depends on nothing);
//! - `cs`: the multi-core critical section (interrupts masked + a cross-core spin lock);
//! - `cores`: core identity, starting core 1, an executor per core and the pender that
//!   wakes the other core (MHU doorbell), interrupt dispatch, jobs for core 1;
//! - `overlap`: the shared counter and snapshots that show the cores overlapped;
//! - `storm`: the two-core storm engine with counting wakers.
//!
//! Nothing here names a scenario.

#[path = "../../../src/bin/scenarios/harness/check.rs"]
mod check;
pub mod chip;
#[path = "../../../src/bin/scenarios/harness/clock.rs"]
pub mod clock;
pub mod cores;
pub mod cs;
#[allow(dead_code)] // the storm machinery: used by the single-core firmware and scenario 7
#[path = "../../../src/bin/scenarios/harness/irq.rs"]
pub mod irq;
pub mod overlap;
#[allow(dead_code)] // not every probe is used here
#[path = "../../../src/bin/scenarios/harness/probe.rs"]
pub mod probe;
#[path = "../../../src/bin/scenarios/harness/stack.rs"]
pub mod stack;
pub mod storm;

use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_time::with_timeout;

pub(crate) use check::check;
pub use check::Check;

/// Counts finished helper tasks on core 0: each `complete()`s it once when done.
pub static TASK_DONE: Completion<CriticalSectionLock> = Completion::with_lock();

/// Waits for `n` helper tasks to finish, at most `limit` each; whether they all did.
pub async fn tasks_done(n: usize, limit: Duration) -> bool {
    for _ in 0..n {
        if with_timeout(clock::embassy_duration(limit), TASK_DONE.wait())
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// The host's clock in microseconds since `start` (semihosting; 0 if unavailable).
pub fn host_us_since(start: u64) -> u64 {
    clock::host_micros().map_or(0, |now| now.saturating_sub(start))
}

/// The host's clock now (semihosting; 0 if unavailable).
pub fn host_now() -> u64 {
    clock::host_micros().unwrap_or(0)
}
