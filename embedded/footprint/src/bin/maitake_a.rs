//! (a) maitake-sync `WaitQueue` (feature `critical-section`: its `DefaultMutex` takes a
//! critical section): a task in `wait()`, the interrupt handler `wake()`s it.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use maitake_sync::WaitQueue;

static Q: WaitQueue = WaitQueue::new();

fn hook() {
    black_box(&Q).wake();
}

#[embassy_executor::task]
async fn waiter() {
    common::ready();
    let ok = black_box(&Q).wait().await.is_ok();
    common::done(ok);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
