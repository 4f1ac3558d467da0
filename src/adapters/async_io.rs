//! [`AsyncIoTimer`]: timeouts for async-std and smol.

use core::time::Duration;

/// A [`Timer`](crate::Timer) backed by [`async_io::Timer`], the timer async-std and smol
/// run on. Needs no runtime context: `async-io` drives its timers from its own thread
/// when nothing else does.
///
/// # Examples
///
/// ```
/// use async_completion::{AsyncIoTimer, Completion, TimedOut};
/// use std::time::Duration;
///
/// # futures::executor::block_on(async {
/// let c = Completion::new();
/// let r = c.wait_timeout(AsyncIoTimer, Duration::from_millis(5)).await;
/// assert_eq!(r, Err(TimedOut));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
pub struct AsyncIoTimer;

impl crate::Timer for AsyncIoTimer {
    type Sleep = async_io::Timer;

    fn sleep(&self, duration: Duration) -> async_io::Timer {
        async_io::Timer::after(duration)
    }
}

impl crate::Clock for AsyncIoTimer {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> async_io::Timer {
        async_io::Timer::at(deadline)
    }
}
