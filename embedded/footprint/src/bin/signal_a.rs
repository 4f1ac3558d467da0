//! (a) embassy-sync `Signal<CriticalSectionRawMutex, ()>` (a single-waiter flag, reference
//! row): a task in `wait()`, the interrupt handler `signal(())`s.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;

static S: Signal<CriticalSectionRawMutex, ()> = Signal::new();

fn hook() {
    black_box(&S).signal(());
}

#[embassy_executor::task]
async fn waiter() {
    common::ready();
    black_box(&S).wait().await;
    common::done(true);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
