//! What every scenario shares: the checks ([`Check`], [`check!`]), the completion helper
//! tasks signal when they finish ([`TASK_DONE`], [`tasks_done`]), and the machinery in the
//! submodules. Nothing here names a scenario.
//!
//! The modules depend on each other in one direction only:
//! `irq` -> `clock` -> `chip`, `irq` -> `chip`, `irq` -> `stack`; `probe` stands alone.

pub mod chip;
pub mod clock;
pub mod irq;
pub mod probe;
pub mod stack;

use core::fmt;
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock};
use cortex_m_semihosting::hprintln;
use embassy_time::with_timeout;

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

/// The checks of one scenario: a failed one prints a line at once and fails the scenario.
pub struct Check {
    /// The scenario's number, in the order `main` runs them.
    number: u8,
    failures: u32,
}

impl Check {
    /// The checks of scenario `number`.
    pub fn new(number: u8) -> Self {
        Self {
            number,
            failures: 0,
        }
    }

    pub fn that(&mut self, ok: bool, what: fmt::Arguments<'_>) {
        if !ok {
            hprintln!("    check failed: {}", what);
            self.failures += 1;
        }
    }

    /// Prints the scenario's line; whether every check held.
    pub fn finish(self, title: &str, details: fmt::Arguments<'_>) -> bool {
        let ok = self.failures == 0;
        hprintln!(
            "[{}] {} {}: {}",
            if ok { "PASS" } else { "FAIL" },
            self.number,
            title,
            details
        );
        ok
    }
}

/// `check!(c, condition, "format", args..)`: records a check in `c`, printing the message
/// if `condition` is false.
macro_rules! check {
    ($c:expr, $cond:expr, $($what:tt)+) => {
        $c.that($cond, format_args!($($what)+))
    };
}
pub(crate) use check;
