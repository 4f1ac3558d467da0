//! (a) embassy-sync `FairSemaphore<CriticalSectionRawMutex, 1>` (0 permits, a queue of 1
//! waiter): a task in `acquire(1)`, the interrupt handler `release(1)`s; the permit is
//! kept (`disarm`), as a completion is consumed.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::semaphore::{FairSemaphore, Semaphore};

static S: FairSemaphore<CriticalSectionRawMutex, 1> = FairSemaphore::new(0);

fn hook() {
    black_box(&S).release(1);
}

#[embassy_executor::task]
async fn waiter() {
    common::ready();
    let ok = match black_box(&S).acquire(1).await {
        Ok(permit) => {
            permit.disarm();
            true
        }
        Err(_) => false,
    };
    common::done(ok);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
