//! (b) embassy-sync `FairSemaphore<CriticalSectionRawMutex, 1>`: `with_timeout(d, acquire(1))`:
//! first it times out, then the interrupt handler's `release(1)` wins.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::semaphore::{FairSemaphore, Semaphore};
use embassy_time::{with_timeout, Duration};

static S: FairSemaphore<CriticalSectionRawMutex, 1> = FairSemaphore::new(0);

fn hook() {
    black_box(&S).release(1);
}

#[embassy_executor::task]
async fn waiter() {
    let s = black_box(&S);
    let timed_out = with_timeout(black_box(Duration::from_millis(2)), s.acquire(1))
        .await
        .is_err();
    common::ready();
    let completed = match with_timeout(black_box(Duration::from_millis(1000)), s.acquire(1)).await {
        Ok(Ok(permit)) => {
            permit.disarm();
            true
        }
        _ => false,
    };
    common::done(timed_out && completed);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
