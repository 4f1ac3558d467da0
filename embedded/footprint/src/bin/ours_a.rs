//! (a) async-completion: a task in `Completion<CriticalSectionLock>::wait()`, the interrupt
//! handler `complete()`s it.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use async_completion::{Completion, CriticalSectionLock};

static C: Completion<CriticalSectionLock> = Completion::with_lock();

fn hook() {
    black_box(&C).complete();
}

#[embassy_executor::task]
async fn waiter() {
    common::ready();
    black_box(&C).wait().await;
    common::done(true);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
