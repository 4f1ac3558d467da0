//! Uses what each feature adds, so a build with that feature compiles it.

use core::time::Duration;

use async_completion::{Completion, SpinLock, TimedOut};

#[cfg(feature = "std")]
static DONE: Completion = Completion::new();
#[cfg(not(feature = "std"))]
static DONE: Completion<SpinLock> = Completion::with_lock();

#[cfg(feature = "critical-section")]
static IRQ_DONE: Completion<async_completion::CriticalSectionLock> = Completion::with_lock();

#[cfg(feature = "embassy-sync")]
static RAW_DONE: Completion<embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex> =
    Completion::with_lock();

#[cfg(feature = "defmt")]
fn _loggable<T: defmt::Format>(_: &T) {}

fn main() {
    DONE.complete();
    assert!(DONE.try_wait());
    let spin: Completion<SpinLock> = Completion::with_lock();
    let _ = spin.wait_or(core::future::ready(()));
    let _: Result<(), TimedOut> = Err(TimedOut);
    let _ = Duration::ZERO;

    #[cfg(feature = "std")]
    assert_eq!(DONE.wait_blocking_timeout(Duration::ZERO), Err(TimedOut));
    #[cfg(feature = "alloc")]
    let _ = std::sync::Arc::new(Completion::<SpinLock>::with_lock()).wait_owned();
    #[cfg(feature = "critical-section")]
    {
        IRQ_DONE.complete();
        assert!(IRQ_DONE.try_wait());
    }
    #[cfg(feature = "embassy-sync")]
    {
        RAW_DONE.complete();
        assert!(RAW_DONE.try_wait());
    }
    #[cfg(feature = "tokio")]
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async {
            let r = DONE.wait_timeout(async_completion::TokioTimer, Duration::from_millis(1));
            assert_eq!(r.await, Err(TimedOut));
        });
    #[cfg(feature = "async-io")]
    let _ = DONE.wait_timeout(async_completion::AsyncIoTimer, Duration::from_millis(1));
    #[cfg(feature = "embassy-time")]
    let _ = DONE.wait_timeout(async_completion::EmbassyTimer, Duration::from_millis(1));
    #[cfg(feature = "defmt")]
    _loggable(&DONE);
}
