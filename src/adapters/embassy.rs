//! [`EmbassyTimer`]: timeouts on embassy's time driver.

use core::time::Duration;

use embassy_time::{Instant, TICK_HZ};

/// A [`Timer`](crate::Timer) backed by [`embassy_time::Timer`], for embassy executors on
/// microcontrollers (or on the host with embassy-time's `std` driver).
///
/// A [`core::time::Duration`] becomes embassy ticks rounded **up** (a timeout never
/// fires early), and saturates instead of overflowing: the conversion and the deadline
/// never panic, however long the duration.
///
/// Its sleeps run on embassy-time's clock, so the final binary must link an embassy-time
/// driver: your HAL's, or embassy-time's `std` driver on the host.
///
/// # Examples
///
/// ```
/// use async_completion::EmbassyTimer;
/// use std::time::Duration;
///
/// // With the 1 MHz tick of embassy-time's `std` driver, 1.5 µs rounds up to 2 ticks.
/// # if embassy_time::TICK_HZ == 1_000_000 {
/// assert_eq!(EmbassyTimer::ticks(Duration::from_nanos(1_500)), 2);
/// # }
/// assert_eq!(EmbassyTimer::ticks(Duration::MAX), u64::MAX);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
pub struct EmbassyTimer;

impl EmbassyTimer {
    /// `duration` in embassy ticks ([`TICK_HZ`] per second), rounded up, saturating at
    /// `u64::MAX`. Never panics.
    ///
    /// ```
    /// use async_completion::EmbassyTimer;
    /// use core::time::Duration;
    ///
    /// assert_eq!(EmbassyTimer::ticks(Duration::ZERO), 0);
    /// assert_eq!(EmbassyTimer::ticks(Duration::from_secs(1)), embassy_time::TICK_HZ);
    /// assert_eq!(EmbassyTimer::ticks(Duration::MAX), u64::MAX);
    /// ```
    pub fn ticks(duration: Duration) -> u64 {
        // ceil((s * 1e9 + n) * H / 1e9) = s * H + ceil(n * H / 1e9), exactly: no u128
        // division (a 1.3 KB software routine on 32-bit targets). n * H < 1e9 * 2^33 fits.
        let whole = duration.as_secs().saturating_mul(TICK_HZ);
        // Rounded up by hand: `u64::div_ceil` is newer than the crate's MSRV.
        let frac = (u64::from(duration.subsec_nanos()) * TICK_HZ + 999_999_999) / 1_000_000_000;
        whole.saturating_add(frac)
    }
}

impl crate::Timer for EmbassyTimer {
    type Sleep = embassy_time::Timer;

    fn sleep(&self, duration: Duration) -> embassy_time::Timer {
        let duration = embassy_time::Duration::from_ticks(Self::ticks(duration));
        let deadline = Instant::now().checked_add(duration).unwrap_or(Instant::MAX);
        embassy_time::Timer::at(deadline)
    }
}
