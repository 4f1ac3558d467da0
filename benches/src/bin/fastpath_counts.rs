//! Runs one single-threaded benchmark scenario `N` times, for instruction counting with
//! callgrind (see `benches/callgrind.sh`, which runs it twice with different `N` and
//! divides the difference, so start-up cost cancels out).
//!
//! ```text
//! cargo run --release -p async-completion-benches --bin fastpath_counts -- <scenario> <impl> <N>
//! cargo run --release -p async-completion-benches --bin fastpath_counts -- list
//! ```
//!
//! The scenario code is the one the criterion benches time (`benches/benches/ops/mod.rs`).

#[path = "../../benches/ops/mod.rs"]
mod ops;

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;

use async_completion::Completion;

/// Every (scenario, implementation) pair that exists; a peer is absent where it does not
/// offer the operation (see `benches/benches/completion.rs`).
const PAIRS: &[(&str, &str)] = &[
    ("bank_then_take", "async_completion"),
    ("bank_then_take", "tokio_notify"),
    ("bank_then_take", "tokio_semaphore"),
    ("bank_then_take", "async_lock_semaphore"),
    ("bank_then_take", "maitake_waitqueue"),
    ("bank_then_take", "event_listener_counter"),
    ("bank_then_take", "floor_atomics"),
    ("complete_try_wait", "async_completion"),
    ("complete_try_wait", "tokio_semaphore"),
    ("complete_try_wait", "async_lock_semaphore"),
    ("complete_try_wait", "event_listener_counter"),
    ("complete_try_wait", "floor_atomics"),
    ("handoff_one", "async_completion"),
    ("handoff_one", "tokio_notify"),
    ("handoff_one", "tokio_semaphore"),
    ("handoff_one", "async_lock_semaphore"),
    ("handoff_one", "maitake_waitqueue"),
    ("handoff_one", "event_listener"),
];

/// Runs `op` on `target` `n` times; `black_box` keeps the target opaque to the optimiser,
/// as in the benches.
fn repeat<T>(n: u64, target: &T, op: fn(&T)) {
    for _ in 0..n {
        op(black_box(target));
    }
}

fn run(scenario: &str, implementation: &str, n: u64) -> bool {
    match (scenario, implementation) {
        ("bank_then_take", "async_completion") => {
            repeat(n, &Completion::new(), ops::ours::bank_then_take)
        }
        ("complete_try_wait", "async_completion") => {
            repeat(n, &Completion::new(), ops::ours::complete_try_wait)
        }
        ("handoff_one", "async_completion") => {
            repeat(n, &Completion::new(), ops::ours::handoff_one)
        }
        ("bank_then_take", "tokio_notify") => repeat(
            n,
            &tokio::sync::Notify::new(),
            ops::tokio_notify::bank_then_take,
        ),
        ("handoff_one", "tokio_notify") => repeat(
            n,
            &tokio::sync::Notify::new(),
            ops::tokio_notify::handoff_one,
        ),
        ("bank_then_take", "tokio_semaphore") => repeat(
            n,
            &tokio::sync::Semaphore::new(0),
            ops::tokio_semaphore::bank_then_take,
        ),
        ("complete_try_wait", "tokio_semaphore") => repeat(
            n,
            &tokio::sync::Semaphore::new(0),
            ops::tokio_semaphore::complete_try_wait,
        ),
        ("handoff_one", "tokio_semaphore") => repeat(
            n,
            &tokio::sync::Semaphore::new(0),
            ops::tokio_semaphore::handoff_one,
        ),
        ("bank_then_take", "async_lock_semaphore") => repeat(
            n,
            &async_lock::Semaphore::new(0),
            ops::async_lock_semaphore::bank_then_take,
        ),
        ("complete_try_wait", "async_lock_semaphore") => repeat(
            n,
            &async_lock::Semaphore::new(0),
            ops::async_lock_semaphore::complete_try_wait,
        ),
        ("handoff_one", "async_lock_semaphore") => repeat(
            n,
            &async_lock::Semaphore::new(0),
            ops::async_lock_semaphore::handoff_one,
        ),
        ("bank_then_take", "maitake_waitqueue") => repeat(
            n,
            &maitake_sync::WaitQueue::new(),
            ops::maitake_waitqueue::bank_then_take,
        ),
        ("handoff_one", "maitake_waitqueue") => repeat(
            n,
            &maitake_sync::WaitQueue::new(),
            ops::maitake_waitqueue::handoff_one,
        ),
        ("handoff_one", "event_listener") => repeat(
            n,
            &event_listener::Event::new(),
            ops::event_listener_raw::handoff_one,
        ),
        ("bank_then_take", "event_listener_counter") => repeat(
            n,
            &ops::EventCounter::new(),
            ops::event_listener_counter::bank_then_take,
        ),
        ("complete_try_wait", "event_listener_counter") => repeat(
            n,
            &ops::EventCounter::new(),
            ops::event_listener_counter::complete_try_wait,
        ),
        ("bank_then_take" | "complete_try_wait", "floor_atomics") => {
            repeat(n, &AtomicU32::new(0), ops::floor::post_take)
        }
        _ => return false,
    }
    true
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
    for (scenario, implementation) in PAIRS {
        println!("{scenario} {implementation}");
    }
    if list {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
