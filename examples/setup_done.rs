//! The kernel's classic completion scenario, on tokio:
//!
//! ```text
//!   CPU#1                                 CPU#2
//!   /* run non-dependent code */          /* do setup */
//!   wait_for_completion(&setup_done);     complete(&setup_done);
//! ```
//!
//! then a `complete_all` broadcast that releases several waiters at once, and stays
//! "done" for latecomers until `reinit`; and last, a setup that fails: a guard (the
//! kernel's `complete_and_exit()`) still releases the waiter, who reads the outcome.
//!
//! Run with `cargo run --example setup_done`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_completion::Completion;

static SETUP_DONE: Completion = Completion::new();

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let start = Instant::now();
    let t = move || format!("{:>4} ms", start.elapsed().as_millis());

    println!("== 1. one waiter, one completion (the kernel's setup_done)");
    let cpu1 = tokio::spawn(async move {
        println!("[{}] CPU#1: running non-dependent code", t());
        tokio::time::sleep(Duration::from_millis(20)).await;
        println!(
            "[{}] CPU#1: needs setup now: wait_for_completion(&setup_done)",
            t()
        );
        SETUP_DONE.wait().await;
        println!("[{}] CPU#1: setup is done, continuing", t());
    });
    let cpu2 = tokio::spawn(async move {
        println!("[{}] CPU#2: doing setup", t());
        tokio::time::sleep(Duration::from_millis(60)).await;
        println!("[{}] CPU#2: setup finished: complete(&setup_done)", t());
        SETUP_DONE.complete();
    });
    cpu1.await.unwrap();
    cpu2.await.unwrap();
    println!("state afterwards: {SETUP_DONE:?} (the completion was consumed)");

    println!();
    println!("== 2. complete() before anyone waits: the completion is banked");
    SETUP_DONE.complete();
    println!("posted early: {SETUP_DONE:?}");
    SETUP_DONE.wait().await;
    println!("[{}] a late waiter returned at once: {SETUP_DONE:?}", t());

    println!();
    println!("== 3. complete_all(): a broadcast to every waiter, sticky until reinit()");
    let firmware_loaded = Arc::new(Completion::new());
    let mut drivers = Vec::new();
    for id in 1..=4 {
        let firmware_loaded = firmware_loaded.clone();
        drivers.push(tokio::spawn(async move {
            firmware_loaded.wait().await;
            println!("[{}] driver {id}: firmware is loaded, probing", t());
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    println!("[{}] loader: 4 drivers waiting: {firmware_loaded:?}", t());
    println!("[{}] loader: firmware loaded: complete_all()", t());
    firmware_loaded.complete_all();
    for driver in drivers {
        driver.await.unwrap();
    }
    firmware_loaded.wait().await;
    println!(
        "[{}] a driver that starts later passes at once: {firmware_loaded:?}",
        t()
    );
    firmware_loaded.reinit();
    println!("after reinit(): {firmware_loaded:?}");

    println!();
    println!("== 4. a setup that fails: complete_on_drop() releases the waiter anyway");
    // The outcome goes in a slot written before the completion is posted; the guard
    // posts it however the setup task ends (return, `?`, panic, abort).
    let outcome: Arc<Mutex<Option<Result<u16, String>>>> = Arc::new(Mutex::new(None));
    let setup = tokio::spawn({
        let outcome = outcome.clone();
        async move {
            let _done = SETUP_DONE.complete_on_drop();
            let port: u16 = "eighty".parse().map_err(|e| {
                let failure = format!("bad port: {e}");
                *outcome.lock().unwrap() = Some(Err(failure.clone()));
                failure
            })?; // returns early: the guard still completes
            *outcome.lock().unwrap() = Some(Ok(port));
            Ok::<(), String>(())
        }
    });
    SETUP_DONE.wait().await;
    match outcome.lock().unwrap().take() {
        Some(Ok(port)) => println!("[{}] CPU#1: setup done, port {port}", t()),
        Some(Err(e)) => println!("[{}] CPU#1: released, and setup failed: {e}", t()),
        None => println!("[{}] CPU#1: released, setup died before reporting", t()),
    }
    assert!(setup.await.unwrap().is_err());
}
