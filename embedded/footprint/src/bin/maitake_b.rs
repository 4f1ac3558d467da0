//! (b) maitake-sync `WaitQueue` (feature `critical-section`): `embassy_time::with_timeout(d,
//! wait())`: first it times out, then the interrupt handler's `wake()` wins.
//! See `../common.rs` for the harness shared with every other binary (the baseline).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::hint::black_box;

use embassy_executor::Spawner;
use embassy_time::{with_timeout, Duration};
use maitake_sync::WaitQueue;

static Q: WaitQueue = WaitQueue::new();

fn hook() {
    black_box(&Q).wake();
}

#[embassy_executor::task]
async fn waiter() {
    let q = black_box(&Q);
    let timed_out = with_timeout(black_box(Duration::from_millis(2)), q.wait())
        .await
        .is_err();
    common::ready();
    let completed = matches!(
        with_timeout(black_box(Duration::from_millis(1000)), q.wait()).await,
        Ok(Ok(()))
    );
    common::done(timed_out && completed);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    common::init();
    spawner.spawn(waiter().unwrap());
    common::drive(hook).await
}
