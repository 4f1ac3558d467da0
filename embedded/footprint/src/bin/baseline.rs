//! Baseline: the harness with no primitive. The waiter polls a plain `AtomicBool` with
//! `yield_now` until the interrupt handler sets it.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use core::sync::atomic::{AtomicBool, Ordering::*};

static FLAG: AtomicBool = AtomicBool::new(false);

fn hook() {
    black_box(&FLAG).store(true, Release);
}

#[embassy_executor::task]
async fn waiter() {
    common::ready();
    while !black_box(&FLAG).load(Acquire) {
        common::yield_now().await;
    }
    common::done(true);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
