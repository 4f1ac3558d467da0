//! (b) async-completion: `wait_timeout(EmbassyTimer, d)` on a `Completion<CriticalSectionLock>`:
//! first it times out (nobody completes), then the interrupt handler's `complete()` wins.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use core::time::Duration;

use async_completion::{Completion, CriticalSectionLock, EmbassyTimer};

static C: Completion<CriticalSectionLock> = Completion::with_lock();

fn hook() {
    black_box(&C).complete();
}

#[embassy_executor::task]
async fn waiter() {
    let c = black_box(&C);
    let timed_out = c
        .wait_timeout(EmbassyTimer, black_box(Duration::from_millis(2)))
        .await
        .is_err();
    common::ready();
    let completed = c
        .wait_timeout(EmbassyTimer, black_box(Duration::from_millis(1000)))
        .await
        .is_ok();
    common::done(timed_out && completed);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
