//! The [`Timer`] and [`Clock`] traits that timed waits are built on, and the
//! [`TimedOut`] error.

use core::fmt;
use core::future::Future;
use core::time::Duration;

/// A source of sleeps: what [`Completion::wait_timeout`](crate::Completion::wait_timeout)
/// races the wait against. The crate depends on no runtime; pass the adapter of yours
/// ([`TokioTimer`](crate::TokioTimer), [`AsyncIoTimer`](crate::AsyncIoTimer),
/// [`EmbassyTimer`](crate::EmbassyTimer), each behind the feature of the same name), or
/// any closure `Fn(Duration) -> impl Future`.
///
/// [`sleep`](Self::sleep) is called once per `wait_timeout`, synchronously, by the code
/// calling it; the sleep it returns is polled by the task awaiting the timed wait, after the
/// wait itself, and dropped with it. Its output is ignored.
///
/// # Examples
///
/// A closure is a timer:
///
/// ```
/// use async_completion::{Completion, TimedOut};
/// use std::time::Duration;
///
/// # futures::executor::block_on(async {
/// let c = Completion::new();
/// // A "sleep" that is over at once: the wait times out on its first poll.
/// let instant_timer = |_d: Duration| core::future::ready(());
/// assert_eq!(c.wait_timeout(instant_timer, Duration::from_secs(1)).await, Err(TimedOut));
/// c.complete();
/// // The completion is polled first, so it wins the tie.
/// assert_eq!(c.wait_timeout(instant_timer, Duration::from_secs(1)).await, Ok(()));
/// # });
/// ```
pub trait Timer {
    /// The future that completes once the duration has passed. Any output; it need not be
    /// `Unpin` or `Send` (the wait futures are `Send` exactly when it is).
    type Sleep: Future;

    /// Starts a sleep of `duration` (the deadline counts from this call).
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<F, S> Timer for F
where
    F: Fn(Duration) -> S,
    S: Future,
{
    type Sleep = S;

    fn sleep(&self, duration: Duration) -> S {
        self(duration)
    }
}

/// A [`Timer`] that knows its clock, so a wait can be given an absolute deadline:
/// [`Completion::wait_deadline`](crate::Completion::wait_deadline).
///
/// Implemented by [`TokioTimer`](crate::TokioTimer) (`tokio::time::Instant`, which follows
/// tokio's paused clock in tests), [`AsyncIoTimer`](crate::AsyncIoTimer)
/// (`std::time::Instant`) and [`EmbassyTimer`](crate::EmbassyTimer)
/// (`embassy_time::Instant`). A timer of your own implements it with its runtime's
/// instant type; closures stay plain [`Timer`]s (they carry no clock).
///
/// # Examples
///
/// A clock of your own: here a hand-driven one, for a test.
///
/// ```
/// use async_completion::{Clock, Completion, TimedOut, Timer};
/// use std::cell::Cell;
/// use std::time::Duration;
///
/// /// Milliseconds since start; its sleeps are over once `now` reaches their deadline.
/// struct ManualClock(Cell<u64>);
///
/// impl Timer for &ManualClock {
///     type Sleep = core::future::Ready<()>;
///     fn sleep(&self, _: Duration) -> Self::Sleep {
///         core::future::ready(())
///     }
/// }
///
/// impl Clock for &ManualClock {
///     type Instant = u64;
///     fn now(&self) -> u64 {
///         self.0.get()
///     }
///     fn sleep_until(&self, _deadline: u64) -> Self::Sleep {
///         core::future::ready(()) // a real clock sleeps until `deadline`
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let clock = ManualClock(Cell::new(0));
/// let c = Completion::new();
/// c.complete();
/// assert_eq!(c.wait_deadline(&clock, 10).await, Ok(()));
/// clock.0.set(10);
/// // The deadline has passed: a poll, which finds nothing.
/// assert_eq!(c.wait_deadline(&clock, 10).await, Err(TimedOut));
/// # });
/// ```
pub trait Clock: Timer {
    /// A point in time on this clock.
    type Instant: Ord;

    /// The current time on this clock.
    fn now(&self) -> Self::Instant;

    /// Starts a sleep that ends at `deadline`.
    fn sleep_until(&self, deadline: Self::Instant) -> Self::Sleep;
}

/// The error of a timed wait whose deadline passed before a completion arrived.
///
/// ```
/// use async_completion::TimedOut;
/// assert_eq!(TimedOut.to_string(), "timed out waiting for a completion");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for a completion")
    }
}

// `core::error::Error` is `std::error::Error`: one impl, with or without `std`.
impl core::error::Error for TimedOut {}
