//! The OS-thread scenarios, shared by the criterion benches (`benches/benches/completion.rs`)
//! and the `threads` binary (`benches/src/bin/threads.rs`, what `benches/ping_pong.sh` runs
//! under `perf stat` / `strace -c`), so both measure exactly the same code.
//!
//! - `ping_pong_threads`: two OS threads completing each other in turn (`iters` round
//!   trips);
//! - `contended_threads`: [`WAITERS`] threads each blocking for a completion, one thread
//!   completing: per round it posts one completion per waiter, then blocks until every
//!   waiter has acknowledged on a second signal (`iters` rounds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_completion::Completion;

use super::EventCounter;

/// A counting signal used from OS threads: post one, block until one is taken.
pub trait BlockingSignal: Send + Sync + 'static {
    fn new() -> Self;
    fn post(&self);
    fn take_blocking(&self);
}

// `wait_blocking` needs the `std` feature; without it (`--no-default-features`, which
// measures the spinlock build) the row is left out.
#[cfg(feature = "std")]
impl BlockingSignal for Completion {
    fn new() -> Self {
        Completion::new()
    }
    fn post(&self) {
        self.complete();
    }
    fn take_blocking(&self) {
        self.wait_blocking();
    }
}

/// The textbook pair: a count under a `std::sync::Mutex`, and a `Condvar`.
pub struct StdCondvar {
    count: std::sync::Mutex<u32>,
    cv: std::sync::Condvar,
}

impl BlockingSignal for StdCondvar {
    fn new() -> Self {
        Self {
            count: std::sync::Mutex::new(0),
            cv: std::sync::Condvar::new(),
        }
    }
    fn post(&self) {
        *self.count.lock().expect("lock") += 1;
        self.cv.notify_one();
    }
    fn take_blocking(&self) {
        let mut count = self.count.lock().expect("lock");
        while *count == 0 {
            count = self.cv.wait(count).expect("lock");
        }
        *count -= 1;
    }
}

/// The same pair from `parking_lot`.
pub struct ParkingLotCondvar {
    count: parking_lot::Mutex<u32>,
    cv: parking_lot::Condvar,
}

impl BlockingSignal for ParkingLotCondvar {
    fn new() -> Self {
        Self {
            count: parking_lot::Mutex::new(0),
            cv: parking_lot::Condvar::new(),
        }
    }
    fn post(&self) {
        *self.count.lock() += 1;
        self.cv.notify_one();
    }
    fn take_blocking(&self) {
        let mut count = self.count.lock();
        while *count == 0 {
            self.cv.wait(&mut count);
        }
        *count -= 1;
    }
}

impl BlockingSignal for async_lock::Semaphore {
    fn new() -> Self {
        async_lock::Semaphore::new(0)
    }
    fn post(&self) {
        self.add_permits(1);
    }
    fn take_blocking(&self) {
        self.acquire_blocking().forget();
    }
}

impl BlockingSignal for EventCounter {
    fn new() -> Self {
        EventCounter::new()
    }
    fn post(&self) {
        self.complete();
    }
    fn take_blocking(&self) {
        self.wait_blocking();
    }
}

/// Two OS threads, `iters` round trips (the spawned thread's start-up is amortised).
pub fn ping_pong_threads_run<S: BlockingSignal>(iters: u64) -> Duration {
    let ping = Arc::new(S::new());
    let pong = Arc::new(S::new());
    let other = std::thread::spawn({
        let (ping, pong) = (ping.clone(), pong.clone());
        move || {
            for _ in 0..iters {
                ping.take_blocking();
                pong.post();
            }
        }
    });
    let start = Instant::now();
    for _ in 0..iters {
        ping.post();
        pong.take_blocking();
    }
    let elapsed = start.elapsed();
    other.join().expect("thread");
    elapsed
}

/// Waiting threads of `contended_threads` (the machine has 2 cores: 5 threads in all, so
/// some are always off a core).
pub const WAITERS: usize = 4;

/// `iters` rounds of `contended_threads`: the completing thread (the caller) posts
/// [`WAITERS`] completions to `go`, then takes [`WAITERS`] from `done`; each of the
/// [`WAITERS`] threads takes one from `go` and posts one to `done`, `iters` times. A fast
/// waiter may take two in one round; the counts still balance (every post is taken).
pub fn contended_threads_run<S: BlockingSignal>(iters: u64) -> Duration {
    let go = Arc::new(S::new());
    let done = Arc::new(S::new());
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (go, done) = (go.clone(), done.clone());
            std::thread::spawn(move || {
                for _ in 0..iters {
                    go.take_blocking();
                    done.post();
                }
            })
        })
        .collect();
    let start = Instant::now();
    for _ in 0..iters {
        for _ in 0..WAITERS {
            go.post();
        }
        for _ in 0..WAITERS {
            done.take_blocking();
        }
    }
    let elapsed = start.elapsed();
    for waiter in waiters {
        waiter.join().expect("thread");
    }
    elapsed
}
