//! OS threads blocking in `wait_blocking` and async tasks awaiting `wait()` on one
//! `Completion`: they share a single FIFO queue, and each `complete()` is handed to the
//! oldest waiter, whichever kind it is.
//!
//! Run with `cargo run --example threads`.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use async_completion::{Completion, TimedOut};

/// Starts one waiter of each kind. Each reports its name on `done` once released.
fn start_waiter(name: &'static str, c: &Arc<Completion>, done: &mpsc::Sender<&'static str>) {
    let (c, done) = (c.clone(), done.clone());
    match name {
        // Plain threads park in `wait_blocking`.
        "thread A" | "thread C" => {
            thread::spawn(move || {
                println!("  {name}: wait_blocking()");
                c.wait_blocking();
                println!("  {name}: released");
                done.send(name).unwrap();
            });
        }
        // A tokio task, on a runtime of its own.
        "tokio task B" => {
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    println!("  {name}: wait().await");
                    c.wait().await;
                    println!("  {name}: released");
                    done.send(name).unwrap();
                });
            });
        }
        // An async block run by `futures::executor::block_on`.
        _ => {
            thread::spawn(move || {
                futures::executor::block_on(async {
                    println!("  {name}: wait().await");
                    c.wait().await;
                    println!("  {name}: released");
                    done.send(name).unwrap();
                });
            });
        }
    }
}

fn main() {
    let c = Arc::new(Completion::new());
    let (done_tx, done_rx) = mpsc::channel();

    println!("== four waiters queue, one after the other");
    let order = ["thread A", "tokio task B", "thread C", "futures task D"];
    for name in order {
        start_waiter(name, &c, &done_tx);
        // Give each waiter time to queue before starting the next, so the queue order is
        // the start order.
        thread::sleep(Duration::from_millis(30));
    }
    println!("state: {c:?}");

    println!();
    println!("== four complete() calls: each releases exactly one waiter, oldest first");
    let mut released = Vec::new();
    for n in 1..=4 {
        println!("main: complete() #{n}");
        c.complete();
        let who = done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        println!("main: complete() #{n} went to {who}");
        released.push(who);
        // Nobody else was released by this complete().
        assert!(done_rx.recv_timeout(Duration::from_millis(20)).is_err());
    }
    println!("release order: {released:?}");
    println!("state: {c:?}");

    println!();
    println!("== a thread with a timeout gives up; a later complete() is banked, not lost");
    let impatient = thread::spawn({
        let c = c.clone();
        move || c.wait_blocking_timeout(Duration::from_millis(30))
    });
    let result = impatient.join().unwrap();
    println!("thread E: wait_blocking_timeout(30 ms) = {result:?}");
    assert_eq!(result, Err(TimedOut));
    c.complete();
    println!("main: complete() with nobody waiting: {c:?}");
    assert!(c.try_wait());
    println!("main: try_wait() took it: {c:?}");
}
