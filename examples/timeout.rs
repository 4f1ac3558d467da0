//! `wait_timeout` with [`TokioTimer`]: the kernel's `wait_for_completion_timeout()`.
//!
//! A driver resets a device and waits for its "reset done" interrupt, at most 50 ms.
//! The first time the device is stuck and the wait times out; the second time the reset
//! finishes in 20 ms and the wait succeeds. A late completion after a timeout is not
//! lost: it stays banked.
//!
//! Run with `cargo run --example timeout --features tokio`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_completion::{Completion, TimedOut, TokioTimer};

const RESET_TIMEOUT: Duration = Duration::from_millis(50);

/// Starts a reset on a simulated device that signals `reset_done` after `takes`.
fn start_reset(reset_done: &Arc<Completion>, takes: Duration) {
    let reset_done = reset_done.clone();
    tokio::spawn(async move {
        tokio::time::sleep(takes).await;
        println!("    device: reset finished after {takes:?}: complete()");
        reset_done.complete();
    });
}

async fn reset_device(reset_done: &Completion, attempt: u32) -> Result<(), TimedOut> {
    let start = Instant::now();
    println!("  attempt {attempt}: waiting for reset_done, timeout {RESET_TIMEOUT:?}");
    let result = reset_done.wait_timeout(TokioTimer, RESET_TIMEOUT).await;
    match result {
        Ok(()) => println!(
            "  attempt {attempt}: reset done after {:?}",
            round(start.elapsed())
        ),
        Err(e) => println!(
            "  attempt {attempt}: {e} after {:?}",
            round(start.elapsed())
        ),
    }
    result
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let reset_done = Arc::new(Completion::new());

    println!("== 1. the device is stuck: its reset takes 120 ms");
    start_reset(&reset_done, Duration::from_millis(120));
    let first = reset_device(&reset_done, 1).await;
    assert_eq!(first, Err(TimedOut));

    println!("   (the late completion is not lost: it is banked)");
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!("  state: {reset_done:?}");
    assert!(reset_done.try_wait());
    println!("  try_wait() took it: {reset_done:?}");

    println!();
    println!("== 2. the device resets in 20 ms");
    start_reset(&reset_done, Duration::from_millis(20));
    let second = reset_device(&reset_done, 2).await;
    assert_eq!(second, Ok(()));
    println!("  state: {reset_done:?}");

    println!();
    println!("== 3. the completion wins a tie: already completed, zero timeout");
    reset_done.complete();
    let third = reset_done.wait_timeout(TokioTimer, Duration::ZERO).await;
    println!("  wait_timeout(TokioTimer, 0) = {third:?}");
    assert_eq!(third, Ok(()));
}
