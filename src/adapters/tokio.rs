//! [`TokioTimer`]: timeouts on the tokio runtime.

use core::time::Duration;

/// A [`Timer`](crate::Timer) on tokio's clock: its sleeps are [`tokio::time::Sleep`].
/// Works with tokio's paused time (`#[tokio::test(start_paused = true)]`).
///
/// # Panics
///
/// [`Completion::wait_timeout`](crate::Completion::wait_timeout) with this timer panics
/// when called outside a tokio runtime with the time driver enabled, as
/// [`tokio::time::sleep`] does.
///
/// # Examples
///
/// ```
/// use async_completion::{Completion, TimedOut, TokioTimer};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let c = Completion::new();
/// let r = c.wait_timeout(TokioTimer, Duration::from_millis(10)).await;
/// assert_eq!(r, Err(TimedOut));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub struct TokioTimer;

impl crate::Timer for TokioTimer {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }
}

impl crate::Clock for TokioTimer {
    type Instant = tokio::time::Instant;

    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    fn sleep_until(&self, deadline: tokio::time::Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(deadline)
    }
}
