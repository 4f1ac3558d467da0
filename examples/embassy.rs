//! An embassy executor (here on the host, with embassy-time's `std` driver) with a
//! `static` `Completion` signalled by an "interrupt" and a task waiting on it with
//! [`EmbassyTimer`] timeouts: the kernel's `wait_for_completion_timeout()` on embassy.
//!
//! On a microcontroller, `DATA_READY.complete()` would be called from the sensor's
//! interrupt handler, so it names an interrupt-safe lock: `Completion<CriticalSectionLock>`
//! (feature `critical-section`), built with `Completion::with_lock()`. Here an "interrupt"
//! task calls it at irregular intervals. The firmware in `embedded/` does the same with
//! real interrupt handlers on emulated Cortex-M chips (`bash embedded/run.sh`).
//!
//! Run with `cargo run --example embassy --features embassy-time,critical-section`.

use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, EmbassyTimer};
use embassy_executor::Spawner;
use embassy_time::{Instant, Timer};

/// Set by the sensor "interrupt" when a sample is ready.
static DATA_READY: Completion<CriticalSectionLock> = Completion::with_lock();
/// Set by the reader once it is done.
static FINISHED: Completion = Completion::new();

/// The sensor's silences between samples, in milliseconds: some longer than the reader's
/// 50 ms timeout.
const GAPS_MS: [u64; 5] = [10, 80, 20, 90, 15];
const TIMEOUT: Duration = Duration::from_millis(50);

fn now_ms() -> u64 {
    Instant::now().as_millis()
}

#[embassy_executor::task]
async fn sensor_interrupt() {
    for (n, gap) in GAPS_MS.into_iter().enumerate() {
        Timer::after_millis(gap).await;
        println!(
            "[{:>4} ms] IRQ: sample {} ready: complete()",
            now_ms(),
            n + 1
        );
        DATA_READY.complete();
    }
}

#[embassy_executor::task]
async fn reader() {
    let (mut samples, mut timeouts) = (0, 0);
    while samples < GAPS_MS.len() {
        match DATA_READY.wait_timeout(EmbassyTimer, TIMEOUT).await {
            Ok(()) => {
                samples += 1;
                println!("[{:>4} ms] reader: got sample {samples}", now_ms());
            }
            Err(e) => {
                timeouts += 1;
                println!(
                    "[{:>4} ms] reader: {e} ({TIMEOUT:?}), polling again",
                    now_ms()
                );
            }
        }
    }
    println!("reader: {samples} samples, {timeouts} timeouts");
    FINISHED.complete();
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    println!(
        "[{:>4} ms] main: starting the reader and the sensor",
        now_ms()
    );
    spawner.spawn(reader().unwrap());
    spawner.spawn(sensor_interrupt().unwrap());
    FINISHED.wait().await;
    println!("[{:>4} ms] main: done, {DATA_READY:?}", now_ms());
    // The embassy executor runs forever; leave once the demo is over.
    std::process::exit(0);
}
