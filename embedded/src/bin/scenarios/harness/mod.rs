//! What every scenario shares: the checks ([`Check`], [`check!`]), the completion helper
//! tasks signal when they finish ([`TASK_DONE`], [`tasks_done`]), and the machinery in the
//! submodules. Nothing here names a scenario.
//!
//! The modules depend on each other in one direction only:
//! `irq` -> `clock` -> `chip`, `irq` -> `chip`, `irq` -> `stack`; `probe` stands alone.

mod check;
pub mod chip;
pub mod clock;
pub mod irq;
pub mod probe;
pub mod stack;

use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use embassy_time::with_timeout;

pub(crate) use check::check;
pub use check::Check;

/// Counts finished helper tasks: each `complete()`s it once when done; `wait` takes one.
pub static TASK_DONE: Completion<CriticalSectionLock> = Completion::with_lock();

/// Waits for `n` helper tasks to finish, at most `limit`; whether they all did.
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
