//! (b) embassy-sync `Signal<CriticalSectionRawMutex, ()>`: `with_timeout(d, wait())`: first it
//! times out, then the interrupt handler's `signal(())` wins.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{with_timeout, Duration};

static S: Signal<CriticalSectionRawMutex, ()> = Signal::new();

fn hook() {
    black_box(&S).signal(());
}

#[embassy_executor::task]
async fn waiter() {
    let s = black_box(&S);
    let timed_out = with_timeout(black_box(Duration::from_millis(2)), s.wait())
        .await
        .is_err();
    common::ready();
    let completed = with_timeout(black_box(Duration::from_millis(1000)), s.wait())
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
