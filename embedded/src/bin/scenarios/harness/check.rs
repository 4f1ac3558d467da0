//! A scenario's checks: [`Check`] and [`check!`]. Shared by both firmwares (this one and
//! `../../../../dualcore`, which includes this file by path); depends on nothing else.

use core::fmt;

use cortex_m_semihosting::hprintln;

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
