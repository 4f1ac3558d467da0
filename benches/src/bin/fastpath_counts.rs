//! Runs one single-threaded benchmark scenario `N` times, for instruction counting with
//! callgrind (see `benches/callgrind.sh`, which runs it twice with different `N` and
//! divides the difference, so start-up cost cancels out).
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin fastpath_counts -- <scenario> <impl> <N>
//! cargo run --release --manifest-path benches/Cargo.toml --bin fastpath_counts -- list
//! ```
//!
//! The scenario code is the one the criterion benches time (`benches/benches/ops/mod.rs`).

#[path = "../../benches/ops/mod.rs"]
mod ops;

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;

use async_completion::Completion;

/// Runs `op` on `target` `n` times; `black_box` keeps the target opaque to the optimiser,
/// as in the benches.
fn repeat<T>(n: u64, target: &T, op: fn(&T)) {
    for _ in 0..n {
        op(black_box(target));
    }
}

type Notify = tokio::sync::Notify;
type TokioSemaphore = tokio::sync::Semaphore;
type AsyncLockSemaphore = async_lock::Semaphore;
type WaitQueue = maitake_sync::WaitQueue;
type Event = event_listener::Event;

/// One (scenario, implementation) pair, and what runs it `n` times.
type Pair = (&'static str, &'static str, fn(u64));

/// Every (scenario, implementation) pair that exists; a peer is absent where it does not
/// offer the operation (see `benches/benches/completion.rs`).
#[rustfmt::skip]
const PAIRS: &[Pair] = &[
    ("bank_then_take", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::bank_then_take)),
    ("bank_then_take", "tokio_notify", |n| repeat(n, &Notify::new(), ops::tokio_notify::bank_then_take)),
    ("bank_then_take", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::bank_then_take)),
    ("bank_then_take", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::bank_then_take)),
    ("bank_then_take", "maitake_waitqueue", |n| repeat(n, &WaitQueue::new(), ops::maitake_waitqueue::bank_then_take)),
    ("bank_then_take", "event_listener_counter", |n| repeat(n, &ops::EventCounter::new(), ops::event_listener_counter::bank_then_take)),
    ("bank_then_take", "floor_atomics", |n| repeat(n, &AtomicU32::new(0), ops::floor::post_take)),

    ("complete_try_wait", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::complete_try_wait)),
    ("complete_try_wait", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::complete_try_wait)),
    ("complete_try_wait", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::complete_try_wait)),
    ("complete_try_wait", "event_listener_counter", |n| repeat(n, &ops::EventCounter::new(), ops::event_listener_counter::complete_try_wait)),
    ("complete_try_wait", "floor_atomics", |n| repeat(n, &AtomicU32::new(0), ops::floor::post_take)),

    ("handoff_one", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::handoff_one)),
    ("handoff_one", "tokio_notify", |n| repeat(n, &Notify::new(), ops::tokio_notify::handoff_one)),
    ("handoff_one", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::handoff_one)),
    ("handoff_one", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::handoff_one)),
    ("handoff_one", "maitake_waitqueue", |n| repeat(n, &WaitQueue::new(), ops::maitake_waitqueue::handoff_one)),
    ("handoff_one", "event_listener", |n| repeat(n, &Event::new(), ops::event_listener_raw::handoff_one)),

    ("repoll_queued", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::repoll_queued)),
    ("repoll_queued", "tokio_notify", |n| repeat(n, &Notify::new(), ops::tokio_notify::repoll_queued)),
    ("repoll_queued", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::repoll_queued)),
    ("repoll_queued", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::repoll_queued)),
    ("repoll_queued", "maitake_waitqueue", |n| repeat(n, &WaitQueue::new(), ops::maitake_waitqueue::repoll_queued)),
    ("repoll_queued", "event_listener", |n| repeat(n, &Event::new(), ops::event_listener_raw::repoll_queued)),

    ("wait_or_ready", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::wait_or_ready)),
    ("wait_or_ready", "tokio_notify", |n| repeat(n, &Notify::new(), ops::tokio_notify::wait_or_ready)),
    ("wait_or_ready", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::wait_or_ready)),
    ("wait_or_ready", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::wait_or_ready)),
    ("wait_or_ready", "maitake_waitqueue", |n| repeat(n, &WaitQueue::new(), ops::maitake_waitqueue::wait_or_ready)),
    ("wait_or_ready", "event_listener", |n| repeat(n, &Event::new(), ops::event_listener_raw::wait_or_ready)),

    ("wait_timeout_ready", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::wait_timeout_ready)),
    ("wait_timeout_ready", "tokio_notify", |n| repeat(n, &Notify::new(), ops::tokio_notify::wait_timeout_ready)),
    ("wait_timeout_ready", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::wait_timeout_ready)),
    ("wait_timeout_ready", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::wait_timeout_ready)),
    ("wait_timeout_ready", "maitake_waitqueue", |n| repeat(n, &WaitQueue::new(), ops::maitake_waitqueue::wait_timeout_ready)),
    ("wait_timeout_ready", "event_listener", |n| repeat(n, &Event::new(), ops::event_listener_raw::wait_timeout_ready)),

    ("select_loop", "async_completion", |n| repeat(n, &Completion::new(), ops::ours::select_loop)),
    ("select_loop", "tokio_notify", |n| repeat(n, &Notify::new(), ops::tokio_notify::select_loop)),
    ("select_loop", "tokio_semaphore", |n| repeat(n, &TokioSemaphore::new(0), ops::tokio_semaphore::select_loop)),
    ("select_loop", "async_lock_semaphore", |n| repeat(n, &AsyncLockSemaphore::new(0), ops::async_lock_semaphore::select_loop)),
    ("select_loop", "maitake_waitqueue", |n| repeat(n, &WaitQueue::new(), ops::maitake_waitqueue::select_loop)),
    ("select_loop", "event_listener", |n| repeat(n, &Event::new(), ops::event_listener_raw::select_loop)),
];

fn run(scenario: &str, implementation: &str, n: u64) -> bool {
    match PAIRS
        .iter()
        .find(|(s, i, _)| *s == scenario && *i == implementation)
    {
        Some((_, _, run)) => {
            run(n);
            true
        }
        None => false,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [scenario, implementation, n] = &args[..] {
        if let Ok(n) = n.parse::<u64>() {
            if run(scenario, implementation, n) {
                return ExitCode::SUCCESS;
            }
            eprintln!("no such pair: {scenario} {implementation}");
        }
    }
    let list = args.first().map(String::as_str) == Some("list");
    if !list {
        eprintln!("usage: fastpath_counts <scenario> <implementation> <N> | list");
    }
    for (scenario, implementation, _) in PAIRS {
        println!("{scenario} {implementation}");
    }
    if list {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
