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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
        Self::checked_ticks(duration).unwrap_or(u64::MAX)
    }

    /// [`ticks`](Self::ticks), `None` where it saturates.
    #[inline]
    fn checked_ticks(duration: Duration) -> Option<u64> {
        // ceil((s * 1e9 + n) * H / 1e9) = s * H + ceil(n * H / 1e9), exactly: no u128
        // division (a 1.3 KB software routine on 32-bit targets). n * H < 1e9 * 2^33 fits.
        let whole = duration.as_secs().checked_mul(TICK_HZ)?;
        whole.checked_add(Fraction::<TICK_HZ>::ticks(duration.subsec_nanos()))
    }
}

/// `ceil(nanos * HZ / 1e9)` for `nanos < 1e9`: the sub-second part of a duration in ticks
/// of a `HZ` clock. The fraction `HZ / 1e9` is reduced first; when its numerator times
/// `nanos`, plus the denominator minus one (the rounding up), fits in 32 bits (every rate
/// that divides 1e9: 1 kHz, 1 MHz, ...), it is all `u32` arithmetic with a constant
/// divisor, which compiles to a multiplication; otherwise one `u64` division, rounded up
/// with `div_ceil` (exact for any `HZ` below 18 GHz).
struct Fraction<const HZ: u64>;

impl<const HZ: u64> Fraction<HZ> {
    const GCD: u64 = gcd(HZ, 1_000_000_000);
    const NUM: u64 = HZ / Self::GCD;
    const DEN: u64 = 1_000_000_000 / Self::GCD;
    // The rounding term never decides it (the product fits only for `NUM <= 4`, and then
    // the sum is at most 4 001 953 120), but it is what makes the sum's fit evident.
    const FITS_U32: bool = Self::NUM * 999_999_999 + (Self::DEN - 1) <= u32::MAX as u64;

    // `div_ceil` would compile to a division and a remainder test: 12 bytes more firmware
    // (embedded/footprint) for the same value, since the sum fits (`FITS_U32`).
    #[allow(clippy::manual_div_ceil)]
    #[inline]
    fn ticks(nanos: u32) -> u64 {
        if Self::FITS_U32 {
            // Casts are exact: both constants are below 2^32 here, and so is the sum.
            // Rounded up by adding `DEN - 1` first: one division, no remainder test.
            u64::from((nanos * Self::NUM as u32 + (Self::DEN as u32 - 1)) / Self::DEN as u32)
        } else {
            (u64::from(nanos) * Self::NUM).div_ceil(Self::DEN)
        }
    }
}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl crate::Timer for EmbassyTimer {
    type Sleep = embassy_time::Timer;

    fn sleep(&self, duration: Duration) -> embassy_time::Timer {
        // `Instant::now() + ticks(duration)`, saturating at `Instant::MAX` (as `ticks`
        // does at `u64::MAX`): one overflow exit for the three sums, which keeps it small.
        let deadline = Self::checked_ticks(duration)
            .and_then(|ticks| Instant::now().checked_add(embassy_time::Duration::from_ticks(ticks)))
            .unwrap_or(Instant::MAX);
        embassy_time::Timer::at(deadline)
    }
}

impl crate::Clock for EmbassyTimer {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> embassy_time::Timer {
        embassy_time::Timer::at(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::Fraction;

    /// The exact value, in `u128`.
    fn reference(nanos: u32, hz: u64) -> u64 {
        (u128::from(nanos) * u128::from(hz)).div_ceil(1_000_000_000) as u64
    }

    fn check<const HZ: u64>(fits_u32: bool) {
        assert_eq!(Fraction::<HZ>::FITS_U32, fits_u32, "{HZ} Hz");
        let mut nanos = 0u32;
        let edges = [
            0,
            1,
            2,
            999,
            1_000,
            1_001,
            999_999,
            1_000_000,
            1_000_001,
            999_999_999,
        ];
        for n in edges.into_iter().chain(
            core::iter::from_fn(|| {
                nanos = nanos.wrapping_mul(2_654_435_761).wrapping_add(12_345) % 1_000_000_000;
                Some(nanos)
            })
            .take(10_000),
        ) {
            assert_eq!(
                Fraction::<HZ>::ticks(n),
                reference(n, HZ),
                "{n} ns at {HZ} Hz"
            );
        }
    }

    #[test]
    fn sub_second_ticks_are_exact_and_rounded_up() {
        check::<1>(true);
        check::<1_000>(true);
        check::<1_000_000>(true);
        check::<1_000_000_000>(true);
        check::<32_768>(false);
        check::<3>(true);
        check::<48_000_000>(false);
        check::<4_000_000_000>(true);
        check::<5_000_000_000>(false);
        check::<{ u64::MAX / 2_000_000_000 }>(false);
    }
}
